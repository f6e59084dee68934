"""The `pianqu` command: thin doors onto gis/ and planning/.

Errors of the PianquError family print as one line on stderr and exit with status 2.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sqlalchemy import text as text_

from gis.errors import InputError, PianquError

app = typer.Typer(help="Pianqu: outside-plant network and field-district planning on PostGIS.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Tables keep their columns whole when the output is a file or a pipe, not a terminal.
out = Console() if Console().is_terminal else Console(width=220)
err = Console(stderr=True)

CityOpt = Annotated[Optional[str], typer.Option("--city", help="City id (default: the only city in the store).")]
DEMO_DIR = Path("data")


def _engine():
    from gis.db import engine
    return engine()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


# ---- db ---------------------------------------------------------------------------------------

@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the schema up (default: to the newest revision)."""
    from gis import db
    db.upgrade(revision=revision)
    err.print(f"schema at revision {db.current_revision()}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the schema down."""
    from gis import db
    db.downgrade(revision=revision)
    err.print(f"schema at revision {db.current_revision()}")


@db_app.command("current")
def db_current() -> None:
    from gis import db
    out.print(db.current_revision() or "base")


# ---- demo -------------------------------------------------------------------------------------

def demo_dir(size: str, seed: int) -> Path:
    return DEMO_DIR / f"demo-{size}-{seed}"


def _generate(size: str, seed: int, target: Path):
    from gis.demo import generate
    with _progress() as p:
        p.add_task(f"generating the {size} demo city (seed {seed})", total=None)
        t0 = time.perf_counter()
        city = generate(size=size, seed=seed)
        city.write(target)
    err.print(f"generated {size} demo city in {time.perf_counter() - t0:.1f} s -> {target}")
    return city


@app.command("demo-data")
def demo_data(size: Annotated[str, typer.Option(help="small (~20,000 subscribers) or city (~700,000).")] = "small",
              seed: int = 7,
              out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder.")] = None,
              if_missing: Annotated[bool, typer.Option(help="Do nothing if the files exist.")] = False) -> None:
    """Generate a demo city's files (GeoParquet per layer + ground_truth.json) under data/."""
    target = out_dir or demo_dir(size, seed)
    if if_missing and (target / "manifest.json").is_file():
        err.print(f"demo data present: {target}")
        return
    _generate(size, seed, target)


@app.command("demo-load")
def demo_load(size: str = "city", seed: int = 7,
              if_missing: Annotated[bool, typer.Option(help="Skip if this demo city is already loaded.")] = False,
              replace: Annotated[bool, typer.Option(help="Delete the demo city first, then load.")] = False) -> None:
    """Load a demo city into the store (generating its files first if needed), fast path."""
    from gis import store
    from gis.demo import DemoCity
    import geopandas as gpd
    engine = _engine()
    target = demo_dir(size, seed)
    have_files = (target / "manifest.json").is_file()
    city = None if have_files else _generate(size, seed, target)
    # The city's id from its one-row layer, so a second run decides without reading the rest.
    city_id = str(gpd.read_parquet(target / "cities.parquet")["id"].iat[0])
    with engine.connect() as conn:
        present = city_id in store.city_ids(conn)
    if present and if_missing and not replace:
        err.print(f"demo city {city_id!r} already loaded")
        return
    city = city or DemoCity.read(target)
    if present:
        if not replace:
            raise InputError(f"city {city_id!r} is already in the store; pass --replace to reload it")
        store.delete_city(engine, city_id)
    total = sum(len(g) for g in city.layers.values())
    seconds, last = {}, [time.perf_counter()]

    def tick(name, n):
        now = time.perf_counter()
        seconds[name], last[0] = now - last[0], now
        p.update(task, advance=n, description=f"loaded {name}")

    t0 = time.perf_counter()
    with _progress() as p:
        task = p.add_task(f"loading {city_id}", total=total)
        store.bulk_load(engine, city.layers, source=str(target), progress=tick)
    dt = time.perf_counter() - t0
    subs = len(city.layers["subscribers"])
    err.print(f"loaded {total:,} rows of {city_id} in {dt:.1f} s ({total / dt:,.0f} rows/s; "
              f"subscribers {subs / seconds['subscribers']:,.0f}/s)")


# ---- import / export --------------------------------------------------------------------------

def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for p in pairs or []:
        if "=" not in p:
            raise InputError(f"--map {p!r}: expected FILE_COLUMN=COLUMN")
        src, dst = p.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


@app.command("import")
def import_(layer: Annotated[str, typer.Argument(help="offices, streets, barriers, crossings, areas, cables, boxes, "
                                                      "dps, subscribers, managers, construction, faults, cities")],
            file: Annotated[Path, typer.Argument(help=".gpkg .geojson .parquet .shp .fgb or .csv with lon/lat")],
            city: CityOpt = None,
            map_: Annotated[Optional[list[str]], typer.Option("--map", help="FILE_COLUMN=COLUMN, repeatable.")] = None,
            crs: Annotated[Optional[str], typer.Option(help="CRS of a CSV, or of a file that has none.")] = None,
            lon_column: Annotated[Optional[str], typer.Option(help="CSV longitude/x column.")] = None,
            lat_column: Annotated[Optional[str], typer.Option(help="CSV latitude/y column.")] = None,
            file_layer: Annotated[Optional[str], typer.Option(help="Layer inside a multi-layer file.")] = None) -> None:
    """Import a file into a layer: validated, reprojected, upserted on id, all rows or none."""
    from gis.transfer import import_file
    with _progress() as p:
        p.add_task(f"importing {file.name} into {layer}", total=None)
        res = import_file(_engine(), layer, file, city=city, mapping=_mapping(map_), crs=crs,
                          lon=lon_column, lat=lat_column, file_layer=file_layer)
    out.print(json.dumps(res))


@app.command("export")
def export(layer: str, file: Path, city: CityOpt = None) -> None:
    """Export a stored layer to a file (format from the suffix)."""
    from gis.transfer import export_layer
    with _progress() as p:
        p.add_task(f"exporting {layer} to {file.name}", total=None)
        res = export_layer(_engine(), layer, file, city=city)
    out.print(json.dumps(res))


# ---- partition ----------------------------------------------------------------------------------

def _limits(items: list[str] | None) -> dict | None:
    """--limit revenue=0.05 (within 5 % of the mean) or --limit revenue=250000:320000 (bounds)."""
    if not items:
        return None
    out: dict = {}
    for it in items:
        col, _, val = it.partition("=")
        try:
            if ":" in val:
                lo, hi = val.split(":")
                out[col.strip()] = (float(lo), float(hi))
            else:
                out[col.strip()] = float(val)
        except ValueError:
            raise InputError(f"--limit {it!r}: expected COLUMN=SHARE (e.g. revenue=0.05) or COLUMN=MIN:MAX") from None
    return out


def _counts(items: list[str] | None) -> dict | None:
    """--parent-count WEST=3 ... : districts per parent area, set rather than derived."""
    if not items:
        return None
    out = {}
    for it in items:
        name, _, n = it.rpartition("=")
        if not name or not n.strip().isdigit():
            raise InputError(f"--parent-count {it!r}: expected PARENT=NUMBER, e.g. west=3")
        out[name] = int(n)
    return out


def _weights(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for it in items:
        col, _, coef = it.partition("=")
        try:
            out[col.strip()] = float(coef) if coef else 1.0
        except ValueError:
            raise InputError(f"--weight {it!r}: expected COLUMN or COLUMN=COEFFICIENT") from None
    return out


@app.command()
def partition(units_file: Annotated[Path, typer.Argument(help="Any polygon layer, any CRS.")],
              out_file: Annotated[Path, typer.Option("--out", help="Output file (.gpkg holds both layers).")],
              weight: Annotated[Optional[list[str]], typer.Option(help="Workload column, or COLUMN=COEF; repeat for a weighted sum.")] = None,
              districts: Annotated[Optional[int], typer.Option("--districts", help="Number of districts.")] = None,
              target_size: Annotated[Optional[float], typer.Option(help="Workload per district (sets the number).")] = None,
              tolerance: Annotated[float, typer.Option(help="Allowed relative deviation from the target.")] = 0.02,
              barriers: Annotated[Optional[Path], typer.Option(help="Barrier lines/polygons; points are crossings.")] = None,
              parent: Annotated[Optional[str], typer.Option(help="Column of the parent area to nest in.")] = None,
              previous: Annotated[Optional[str], typer.Option(help="Column with the previous plan's districts.")] = None,
              locked: Annotated[Optional[str], typer.Option(help="Column with the codes of districts to keep exactly.")] = None,
              seeds: Annotated[Optional[str], typer.Option(help="Column naming a seed (a manager's base) on one unit each.")] = None,
              limit: Annotated[Optional[list[str]], typer.Option(help="Hold a further column within limits: COLUMN=SHARE or COLUMN=MIN:MAX; repeatable.")] = None,
              max_radius: Annotated[Optional[float], typer.Option(help="Metres: no unit farther from its district's centre.")] = None,
              parent_count: Annotated[Optional[list[str]], typer.Option(help="PARENT=N: districts in that parent (set, not derived); repeatable.")] = None,
              seed: int = 0,
              layer: Annotated[Optional[str], typer.Option("--layer", help="Layer inside a multi-layer input.")] = None) -> None:
    """Partition any polygon layer into balanced, contiguous districts (file to file)."""
    from gis.io import read_file, write_file
    from planning.partition import partition_units
    with _progress() as p:
        p.add_task(f"partitioning {units_file.name}", total=None)
        units = read_file(units_file, layer=layer)
        bars = read_file(barriers) if barriers else None
        out_units, out_districts, report = partition_units(
            units, n_districts=districts, target_size=target_size, tolerance=tolerance, weight=_weights(weight),
            barriers=bars, parent=parent, previous=previous, locked=locked, seeds=seeds, limits=_limits(limit),
            max_radius=max_radius, parent_counts=_counts(parent_count), random_state=seed, source=units_file.name)
        if out_file.exists():
            out_file.unlink()
        write_file(out_units, out_file, layer="units")
        if out_file.suffix.lower() == ".gpkg":
            write_file(out_districts, out_file, layer="districts", append=True)
            report["outputs"] = {"units": f"{out_file}:units", "districts": f"{out_file}:districts"}
        else:
            sibling = out_file.with_name(f"{out_file.stem}_districts{out_file.suffix}")
            write_file(out_districts, sibling)
            report["outputs"] = {"units": str(out_file), "districts": str(sibling)}
    print(json.dumps(report, default=float))


# ---- plans ------------------------------------------------------------------------------------

plan_app = typer.Typer(help="District plans in the store: create (draft), activate, show, list.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@plan_app.command("create")
def plan_create(city: CityOpt = None,
                districts: Annotated[Optional[int], typer.Option("--districts", help="Number of districts.")] = None,
                target_size: Annotated[Optional[float], typer.Option(help="Workload per district.")] = None,
                tolerance: float = 0.02,
                weight: Annotated[Optional[list[str]], typer.Option(help="subscribers, revenue, faults, area_km2 (COLUMN or COLUMN=COEF).")] = None,
                parent: Annotated[Optional[str], typer.Option(help="communities or office_regions.")] = None,
                previous: Annotated[Optional[str], typer.Option(help="Re-plan from this plan, moving little.")] = None,
                limit: Annotated[Optional[list[str]], typer.Option(help="Hold revenue, faults or area_km2 within limits: COLUMN=SHARE or COLUMN=MIN:MAX.")] = None,
                max_radius: Annotated[Optional[float], typer.Option(help="Metres: no box farther from its district's centre.")] = None,
                parent_count: Annotated[Optional[list[str]], typer.Option(help="AREA_ID=N: districts in that area (with --parent); repeatable.")] = None,
                slow_barriers: Annotated[Optional[str], typer.Option(help="Barrier kinds that only slow growth, e.g. motorway,rail.")] = None,
                name: Optional[str] = None, seed: int = 0) -> None:
    """Partition the city's boxes into districts and save the plan as a draft."""
    from gis import plans, store
    from planning.partition import partition_units
    engine = _engine()
    level = plans.parent_level(parent)
    with _progress() as p:
        p.add_task("building service areas and partitioning", total=None)
        with engine.connect() as conn:
            city_id = store.resolve_city(conn, city)
            total = conn.execute(text_("SELECT count(*) FROM subscribers WHERE city_id = :c"), {"c": city_id}).scalar()
            k_hint = districts or (round(total / target_size) if target_size else None) or \
                (sum(_counts(parent_count).values()) if parent_count else None)
            split = total / k_hint * (1 + tolerance) if k_hint else None
            slow = tuple(x.strip() for x in slow_barriers.split(",") if x.strip()) if slow_barriers else ()
            units, network = plans.city_units(conn, city_id, split_above=split, districts=k_hint, slow=slow)
            if previous:
                units["previous"] = units["unit_id"].map(plans.previous_labels(conn, previous))
        out_units, out_districts, report = partition_units(
            units, n_districts=districts, target_size=target_size, tolerance=tolerance, weight=_weights(weight),
            barriers=network, parent=level, previous="previous" if previous else None, limits=_limits(limit),
            max_radius=max_radius, parent_counts=_counts(parent_count), random_state=seed, source=f"city {city_id}")
        params = {"districts": districts, "target_size": target_size, "tolerance": tolerance,
                  "weight": weight or ["subscribers"], "parent": parent, "previous": previous, "seed": seed,
                  "limits": limit, "max_radius": max_radius, "parent_counts": parent_count,
                  "slow_barriers": slow_barriers}
        plan_id = plans.save_plan(engine, city_id, out_units, out_districts, report, parameters=params,
                                  name=name, previous=previous, parent_level=level)
    print(json.dumps({"plan": plan_id, "status": "draft", **report}, default=float))


@plan_app.command("activate")
def plan_activate(plan_id: str) -> None:
    """Make a draft the city's active plan (the previous active plan is archived, atomically)."""
    from gis import plans
    print(json.dumps(plans.activate_plan(_engine(), plan_id)))


@plan_app.command("show")
def plan_show(plan_id: str) -> None:
    """A plan's status, parameters, metrics and districts."""
    from gis import plans
    with _engine().connect() as conn:
        s = plans.plan_summary(conn, plan_id)
    rep = s["report"] or {}
    out.print(f"[bold]{s['id']}[/] ({s['status']}) city {s['city_id']}, created {s['created_at']:%Y-%m-%d %H:%M}")
    for key in ("n_districts", "max_deviation", "mean_deviation", "non_contiguous", "polsby_popper_mean",
                "polsby_popper_min", "cut_edges", "churn", "runtime_s"):
        if key in rep:
            v = rep[key]
            out.print(f"  {key:20s} {v:.4f}" if isinstance(v, float) else f"  {key:20s} {v}")
    t = Table("district", "subscribers", "workload", "deviation", "Polsby-Popper")
    for d in s["districts"]:
        tot = d["totals"] or {}
        t.add_row(d["code"], f"{d['subscribers']:,}", f"{d['workload']:,.0f}", f"{tot.get('deviation', 0):+.2%}",
                  f"{tot.get('polsby_popper', 0):.2f}")
    out.print(t)


@plan_app.command("list")
def plan_list(city: CityOpt = None) -> None:
    from gis import plans, store
    with _engine().connect() as conn:
        rows = plans.list_plans(conn, store.resolve_city(conn, city))
    t = Table("plan", "status", "districts", "max deviation", "created")
    for r in rows:
        t.add_row(r["id"], r["status"], str(r["n_districts"]), f"{(r['max_deviation'] or 0):.2%}", f"{r['created_at']:%Y-%m-%d %H:%M}")
    out.print(t)


# ---- opportunities ------------------------------------------------------------------------------

alerts_app = typer.Typer(help="Opportunity alerts in the store: evaluate, list, and their life cycle.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
Reach = Annotated[float, typer.Option("--reach", help="Metres a box can serve (along the streets when loaded).")]
TakeUp = Annotated[float, typer.Option("--take-up", help="Share of households that will subscribe.")]
Threshold = Annotated[float, typer.Option("--threshold", help="Utilisation above which a box needs expanding.")]
Horizon = Annotated[int, typer.Option("--horizon", help="Months ahead for the utilisation forecast.")]


@app.command()
def opportunities(boxes: Annotated[Path, typer.Option("--boxes", help="Points with box_id, capacity, used.")],
                  demand: Annotated[Path, typer.Option("--demand", help="Points/outlines with report_id, households.")],
                  out_file: Annotated[Path, typer.Option("--out", help="Output file (layer 'alerts').")],
                  streets: Annotated[Optional[Path], typer.Option(help="Street lines: reach measured along them.")] = None,
                  subscribers: Annotated[Optional[Path], typer.Option(help="Points with box_id, connected_since (trend).")] = None,
                  reach: Reach = 300.0, take_up: TakeUp = 0.6, threshold: Threshold = 0.85, horizon: Horizon = 6,
                  as_of: Annotated[Optional[str], typer.Option(help="Date the trend is measured to (default today).")] = None) -> None:
    """Alerts from plain files: extend the network, expand a box, demand outside coverage."""
    from gis.io import read_file, write_file
    from planning.opportunities import evaluate
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


@alerts_app.command("evaluate")
def alerts_evaluate(city: CityOpt = None, reach: Reach = 300.0, take_up: TakeUp = 0.6, threshold: Threshold = 0.85,
                    horizon: Horizon = 6,
                    streets: Annotated[bool, typer.Option(help="Measure reach along the stored streets.")] = True,
                    as_of: Annotated[Optional[str], typer.Option(help="Date the trend is measured to (default today).")] = None,
                    rebuild: Annotated[bool, typer.Option(help="Rebuild alerts: old cable in last year's fault hotspots.")] = True,
                    by: Annotated[str, typer.Option(help="Who runs the evaluation (audit trail).")] = "pianqu evaluate") -> None:
    """Evaluate the stored network and reports; new alerts are raised, existing ones updated, and
    those whose cause is gone closed with the reason."""
    from api.opportunities import evaluate_city
    with _progress() as p:
        p.add_task("evaluating opportunities", total=None)
        _, res = evaluate_city(_engine(), city, use_streets=streets, actor=by, rebuild=rebuild, reach_m=reach,
                               take_up=take_up, threshold=threshold, horizon_months=horizon, as_of=as_of)
    print(json.dumps(res, default=float))


@alerts_app.command("list")
def alerts_list(city: CityOpt = None, kind: Optional[str] = None, status: Optional[str] = None,
                limit: int = 50, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Alerts, best first."""
    import pandas as pd
    from api.opportunities import alert_frame
    from planning.opportunities import KINDS
    if kind and kind not in KINDS:
        raise InputError(f"unknown alert kind {kind!r}; kinds: {', '.join(KINDS)}")
    statuses = ("new", "acknowledged", "planned", "done", "dismissed", "closed")
    if status and status not in statuses:
        raise InputError(f"unknown status {status!r}; statuses: {', '.join(statuses)}")
    df = alert_frame(_engine(), city, kind, status, limit)
    if as_json:
        cols = ["id", "kind", "status", "alert_key", "report_id", "box_id", "score", "expected_lines", "distance_m",
                "cost", "reason", "status_by", "status_note"]
        print(json.dumps(df[cols].to_dict("records"), default=str))
        return
    t = Table("alert", "kind", "status", "site", "box", "lines", "distance", "score (CNY)", "reason")
    for r in df.itertuples():
        t.add_row(r.id, r.kind, r.status, str(r.alert_key), "" if pd.isna(r.box_id) else str(r.box_id),
                  f"{r.expected_lines or 0:,.0f}",
                  "" if r.distance_m is None or r.distance_m != r.distance_m else f"{r.distance_m:,.0f} m",
                  f"{r.score:,.0f}" if r.score is not None else "", r.reason or "")
    out.print(t)


def _step(to: str):
    def command(alert_id: str, by: Annotated[str, typer.Option(help="Who makes the change.")],
                note: Annotated[Optional[str], typer.Option(help="A note (the reason, for a dismissal).")] = None) -> None:
        from gis import alerts as store_alerts
        with _engine().begin() as conn:
            print(json.dumps(store_alerts.transition(conn, alert_id, to, by, note)))
    command.__doc__ = f"Move an alert to '{to}' (recorded with who and when)."
    return command


for _name, _to in (("ack", "acknowledged"), ("plan", "planned"), ("done", "done"), ("dismiss", "dismissed")):
    alerts_app.command(_name)(_step(_to))


@alerts_app.command("history")
def alerts_history(alert_id: str) -> None:
    """Every status an alert went through, who moved it and when."""
    from gis import alerts as store_alerts
    with _engine().connect() as conn:
        h = store_alerts.history(conn, alert_id)
    t = Table("when", "who", "from", "to", "note")
    for r in h.itertuples():
        t.add_row(f"{r.at:%Y-%m-%d %H:%M:%S}", r.actor, r.from_status or "", r.to_status, r.note or "")
    out.print(t)


# ---- faults ------------------------------------------------------------------------------------

faults_app = typer.Typer(help="Fault heatmaps and hotspots from the stored tickets.", no_args_is_help=True)
app.add_typer(faults_app, name="faults")
From = Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, local time).")]
To = Annotated[str, typer.Option("--to", help="Day after the last (YYYY-MM-DD).")]


@faults_app.command("heatmap")
def faults_heatmap(start: From, end: To,
                   out_file: Annotated[Path, typer.Option("--out", help=".png overlay (+ .json bounds) or .geojson contour bands.")],
                   rate: Annotated[bool, typer.Option(help="Faults per 100 lines per month instead of raw density.")] = False,
                   bandwidth: Annotated[Optional[float], typer.Option(help="Kernel bandwidth in metres (default: Scott's rule).")] = None,
                   cell: Annotated[Optional[float], typer.Option(help="Grid cell in metres.")] = None,
                   weight: Annotated[Optional[str], typer.Option(help="Weight column, e.g. severity.")] = None,
                   cause: Annotated[Optional[list[str]], typer.Option(help="Only these causes; repeatable.")] = None,
                   cable_kind: Annotated[Optional[list[str]], typer.Option(help="Only faults on these cable kinds.")] = None,
                   district: Annotated[Optional[list[str]], typer.Option(help="Only these districts (active plan).")] = None,
                   city: CityOpt = None) -> None:
    """Kernel density of fault tickets in a window, as a PNG overlay or GeoJSON contours."""
    from api.faults import heatmap
    print(json.dumps(heatmap(_engine(), city, start, end, out_file, rate=rate, bandwidth=bandwidth, cell=cell,
                             weight=weight, cause=cause, cable_kind=cable_kind, district=district), default=float))


@faults_app.command("hotspots")
def faults_hotspots(start: From, end: To,
                    out_file: Annotated[Path, typer.Option("--out", help="Cells with Gi* (.gpkg or .geojson).")],
                    resolution: Annotated[int, typer.Option(help="H3 resolution (9: cells ~400 m across).")] = 9,
                    raw: Annotated[bool, typer.Option("--raw", help="Gi* on fault counts instead of faults per line.")] = False,
                    trend: Annotated[bool, typer.Option(help="Add emerging-hotspot classes over the months.")] = False,
                    on: Annotated[str, typer.Option(help="hexagons (H3) or boxes (their service areas).")] = "hexagons",
                    alpha: float = 0.05,
                    cause: Annotated[Optional[list[str]], typer.Option()] = None,
                    cable_kind: Annotated[Optional[list[str]], typer.Option()] = None,
                    district: Annotated[Optional[list[str]], typer.Option()] = None,
                    city: CityOpt = None) -> None:
    """Getis-Ord Gi* hotspots (FDR-corrected) on H3 cells; names the boxes and cables in them."""
    from api.faults import hotspot_cells
    if resolution not in range(6, 12):
        raise InputError(f"--resolution must be 6 to 11, not {resolution}")
    print(json.dumps(hotspot_cells(_engine(), city, start, end, out_file, resolution=resolution, rate=not raw,
                                   alpha=alpha, trend=trend, on=on, cause=cause, cable_kind=cable_kind,
                                   district=district),
                     default=float))


@app.command()
def hotspots(events_file: Annotated[Path, typer.Argument(help="Any point layer, any CRS.")],
             out_file: Annotated[Path, typer.Option("--out", help="Cells with Gi* z and p (.gpkg or .geojson).")],
             weight: Annotated[Optional[str], typer.Option(help="Weight column (default: count events).")] = None,
             cell_size: Annotated[Optional[float], typer.Option(help="Hexagon size in metres (default ~400).")] = None,
             alpha: float = 0.05) -> None:
    """Gi* hotspots of any point file on a hexagonal grid; prints the strongest hotspot's centre."""
    from api.faults import file_hotspots
    from gis.io import read_file
    ev = read_file(events_file)
    if ev.crs is None:
        raise InputError(f"{events_file.name}: the layer has no coordinate reference system")
    if weight and weight not in ev.columns:
        raise InputError(f"{events_file.name}: no weight column {weight!r}")
    print(json.dumps(file_hotspots(ev, out_file, weight=weight, cell_size=cell_size, alpha=alpha), default=float))


@app.command()
def kpi(by: Annotated[str, typer.Option(help="box, district, manager, community or office.")] = "district",
        month: Annotated[Optional[str], typer.Option(help="YYYY-MM (default: every month).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False, city: CityOpt = None) -> None:
    """Service KPIs: fault rate, repair within 24 h, contact within 20 min, time to clear, repeats."""
    from api.faults import scorecard
    df = scorecard(_engine(), city, by, month)
    if as_json:
        print(df.assign(month=df["month"].astype(str)).to_json(orient="records"))
        return
    t = Table(by, "month", "lines", "faults", "per 100 lines", "24 h", "20 min", "mean h", "p90 h", "repeat", "yoy")
    pct = lambda v: "" if v != v else f"{v:.0%}"  # noqa: E731
    for r in df.itertuples():
        t.add_row(str(getattr(r, df.columns[0])), str(r.month), f"{r.lines:,.0f}", f"{r.tickets:,}",
                  f"{r.fault_rate:.2f}", pct(r.repair_24h), pct(r.contact_20min), f"{r.clear_mean_h:.1f}",
                  f"{r.clear_p90_h:.1f}", pct(r.repeat_share), "" if r.fault_rate_yoy != r.fault_rate_yoy
                  else f"{r.fault_rate_yoy:+.0%}")
    out.print(t)


# ---- summary ----------------------------------------------------------------------------------

@app.command()
def summary(city: CityOpt = None) -> None:
    """Print a summary of a city's network."""
    from gis import store, summary as summ
    engine = _engine()
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        s = summ.network_summary(conn, city_id)
    t = Table(title=f"Pianqu · {s['name']} ({city_id}) · metric CRS EPSG:{s['metric_crs']}")
    t.add_column("layer")
    t.add_column("rows", justify="right")
    for k, v in s["counts"].items():
        t.add_row(k, f"{v:,}")
    out.print(t)
    k = Table(title="network")
    k.add_column("figure")
    k.add_column("value", justify="right")
    for name, value in s["figures"].items():
        k.add_row(name, value)
    out.print(k)


def main() -> None:
    try:
        app()
    except PianquError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
