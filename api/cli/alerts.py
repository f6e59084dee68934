"""`pianqu opportunities` (files) and `pianqu alerts` (the store's alerts and their life cycle).
A thin door: api.services.alerts holds the rules (ranges, kinds, statuses, list size); this module
parses the options, names them in errors, and shows the results (a table or a summary on a
terminal, JSON with --json or, for `evaluate`, when piped)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich import box as rich_box
from rich.table import Table
from rich.text import Text

from gis.errors import InputError

from .common import CityOpt, JsonOpt, engine, out, parse_day, print_json, progress, shown_of, wants_json

app = typer.Typer(help="Opportunity alerts in the store: evaluate, list, and their life cycle.", no_args_is_help=True)
Reach = Annotated[float, typer.Option("--reach", help="Metres a box can serve (along the streets when loaded), up to 20,000.")]
TakeUp = Annotated[float, typer.Option("--take-up", help="Share of households that will subscribe, in (0, 1].")]
Threshold = Annotated[float, typer.Option("--threshold", help="Utilisation above which a box needs expanding, in (0, 1].")]
Horizon = Annotated[int, typer.Option("--horizon", help="Months ahead for the utilisation forecast, 1 to 120.")]
AsOf = Annotated[Optional[str], typer.Option("--as-of", help="Day the trend is measured to, YYYY-MM-DD (default today).")]
# The service's words for its parameters -> the options they come from, so an error names the option.
OPTION = {"reach_m": "--reach", "take_up": "--take-up", "threshold": "--threshold", "horizon_months": "--horizon",
          "limit": "--limit"}


def _checked(reach: float, take_up: float, threshold: float, horizon: int, as_of: str | None):
    from api.services.alerts import check_evaluation
    day = parse_day(as_of, "--as-of")
    check_evaluation(reach_m=reach, take_up=take_up, threshold=threshold, horizon_months=horizon, names=OPTION)
    return day


def opportunities(boxes: Annotated[Path, typer.Option("--boxes", help="Points with box_id, capacity, used.")],
                  demand: Annotated[Path, typer.Option("--demand", help="Points/outlines with report_id, households.")],
                  out_file: Annotated[Path, typer.Option("--out", help="Output file (layer 'alerts').")],
                  streets: Annotated[Optional[Path], typer.Option(help="Street lines: reach measured along them.")] = None,
                  subscribers: Annotated[Optional[Path], typer.Option(help="Points with box_id, connected_since (trend).")] = None,
                  reach: Reach = 300.0, take_up: TakeUp = 0.6, threshold: Threshold = 0.85, horizon: Horizon = 6,
                  as_of: AsOf = None) -> None:
    """Alerts from plain files: extend the network, expand a box, demand outside coverage."""
    from gis.io import read_file, write_file
    from planning.opportunities import evaluate
    as_of = _checked(reach, take_up, threshold, horizon, as_of)
    scan = evaluate(read_file(boxes), read_file(demand), reach_m=reach, take_up=take_up, threshold=threshold,
                    horizon_months=horizon, streets=read_file(streets) if streets else None,
                    subscribers=read_file(subscribers) if subscribers else None, as_of=as_of)
    a = scan.alerts.copy()
    a["report_ids"] = a["report_ids"].map(lambda r: ",".join(r))
    a = a.to_crs(read_file(boxes).crs)
    if out_file.exists():
        out_file.unlink()
    write_file(a, out_file, layer="alerts")
    print(json.dumps({**scan.summary(), "output": str(out_file)}, default=float))


@app.command("evaluate")
def alerts_evaluate(city: CityOpt = None, reach: Reach = 300.0, take_up: TakeUp = 0.6, threshold: Threshold = 0.85,
                    horizon: Horizon = 6,
                    streets: Annotated[bool, typer.Option(help="Measure reach along the stored streets.")] = True,
                    as_of: AsOf = None,
                    rebuild: Annotated[bool, typer.Option(help="Rebuild alerts: old cable in last year's fault hotspots.")] = True,
                    by: Annotated[str, typer.Option(help="Who runs the evaluation (audit trail).")] = "pianqu evaluate",
                    as_json: JsonOpt = False) -> None:
    """Evaluate the stored network and reports; new alerts are raised, existing ones updated, and
    those whose cause is gone closed with the reason."""
    from api.services.alerts import evaluate_city
    day = _checked(reach, take_up, threshold, horizon, as_of)
    with progress() as p:
        p.add_task("evaluating opportunities", total=None)
        _, res = evaluate_city(engine(), city, use_streets=streets, actor=by, rebuild=rebuild, reach_m=reach,
                               take_up=take_up, threshold=threshold, horizon_months=horizon, as_of=day)
    if wants_json(as_json):
        print_json(res)
        return
    kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in res["by_kind"].items())
    p = res["parameters"]
    along = "along the streets" if p["distance"] == "street network" else "straight line"
    out.print(f"city {res['city']}: {res['alerts']:,} alerts ({kinds})\n"
              f"  {res['new']:,} new, {res['updated']:,} updated, {res['reopened']:,} reopened, {res['closed']:,} closed\n"
              f"  reach {p['reach_m']:g} m {along}, take-up {p['take_up']:.0%}, threshold {p['threshold']:.0%}, "
              f"forecast {p['horizon_months']} months\n"
              "  `pianqu alerts list` shows them best first", highlight=False, markup=False, soft_wrap=True)


def _cell(v, fmt: str = "{}") -> Text:
    """A table cell: blank where the value is missing, never 'None' or 'NaN'; plain text, so a
    planner's note such as "see [/x]" is shown as written, not read as markup."""
    if v is None or (isinstance(v, float) and v != v):
        return Text("")
    return Text(fmt.format(v))


@app.command("list")
def alerts_list(city: CityOpt = None,
                kind: Annotated[Optional[str], typer.Option(help="extend_network, expand_box, outside_coverage or rebuild.")] = None,
                status: Annotated[Optional[str], typer.Option(help="new, acknowledged, planned, done, dismissed or closed.")] = None,
                limit: Annotated[Optional[int], typer.Option(help="Show the best N alerts, 1 to 10,000 (default 50).")] = None,
                show_all: Annotated[bool, typer.Option("--all", help="Show every alert.")] = False,
                as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Alerts, best first, with the district and manager of their box (active plan)."""
    from api.services.alerts import LIST_DEFAULT, check_listing, list_alerts
    if show_all and limit is not None:
        raise InputError("--all and --limit N ask for different things: give one of them")
    n = None if show_all else (LIST_DEFAULT if limit is None else limit)
    check_listing(kind, status, n, names=OPTION)
    page = list_alerts(engine(), city, kind, status, n)
    if as_json:
        print_json({"city": page.city, "total": page.total, "shown": page.shown, "alerts": page.records()})
        return
    if page.shown == 0:
        out.print(shown_of(0, page.total, "alerts"), highlight=False)
        return
    # One line per alert on a terminal: ids never wrap, the reason is cut to what is left of the
    # width (the whole reason: a wider window, a pipe, or --json).
    t = Table(box=rich_box.SIMPLE_HEAD, expand=True)
    for name in ("alert", "kind", "status", "site", "box", "district", "manager"):
        t.add_column(name)
    for name in ("lines", "faults/yr", "age", "cable m", "score (CNY)"):
        t.add_column(name, justify="right")
    t.add_column("reason", no_wrap=True, overflow="ellipsis", ratio=1)
    for r in page.alerts.itertuples():
        t.add_row(_cell(r.id), _cell(r.kind), _cell(r.status), _cell(r.alert_key), _cell(r.box_id), _cell(r.district),
                  _cell(r.manager_id), _cell(r.expected_lines, "{:,.0f}"), _cell(r.faults_per_year, "{:,.0f}"),
                  _cell(r.cable_age_years, "{:.0f} y"), _cell(r.cable_m, "{:,.0f}"), _cell(r.score, "{:,.0f}"),
                  _cell(r.reason))
    # On a terminal the reason wraps to the screen; into a pipe or a file every row is one whole line.
    console = out if out.is_terminal else Console(width=100_000, highlight=False)
    console.print(t)
    console.print(shown_of(page.shown, page.total, "alerts"), highlight=False)


def _step(to: str):
    def command(alert_id: str, by: Annotated[str, typer.Option(help="Who makes the change.")],
                note: Annotated[Optional[str], typer.Option(help="A note (the reason, for a dismissal).")] = None) -> None:
        from api.services.alerts import step
        print_json(step(engine(), alert_id, to, by, note))
    command.__doc__ = f"Move an alert to '{to}' (recorded with who and when)."
    return command


for _name, _to in (("ack", "acknowledged"), ("plan", "planned"), ("done", "done"), ("dismiss", "dismissed")):
    app.command(_name)(_step(_to))


@app.command("history")
def alerts_history(alert_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every status an alert went through, who moved it and when."""
    from api.services.alerts import history
    h = history(engine(), alert_id)
    if as_json:
        print_json(h.to_dict("records"))
        return
    t = Table("when", "who", "from", "to", "note")
    for r in h.itertuples():
        t.add_row(_cell(r.at, "{:%Y-%m-%d %H:%M:%S %z}"), _cell(r.actor), _cell(r.from_status), _cell(r.to_status), _cell(r.note))
    (out if out.is_terminal else Console(width=100_000, highlight=False)).print(t)
