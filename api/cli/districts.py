"""`pianqu district`: who owns which district (assign, list)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import CityOpt, JsonOpt, engine, out, parse_day, print_json, wants_json

app = typer.Typer(help="Districts of a plan and their managers: list, assign.", no_args_is_help=True)
PlanOpt = Annotated[Optional[str], typer.Option("--plan", help="Plan id (default: the city's active plan).")]


@app.command("assign")
def district_assign(district: Annotated[str, typer.Argument(help="District code, e.g. D017.")],
                    manager: Annotated[str, typer.Argument(help="Manager id.")],
                    start: Annotated[Optional[str], typer.Option("--from", help="First day (YYYY-MM-DD, the city's time; default now).")] = None,
                    until: Annotated[Optional[str], typer.Option("--until", help="Day the assignment ends (YYYY-MM-DD; default open-ended).")] = None,
                    by: Annotated[Optional[str], typer.Option("--by", help="Who makes the assignment.")] = None,
                    note: Annotated[Optional[str], typer.Option(help="A note kept with the assignment.")] = None,
                    plan: PlanOpt = None, city: CityOpt = None, as_json: JsonOpt = False) -> None:
    """Give a district its manager; the manager it had is ended when the new one starts."""
    from api.services.districts import assign
    a, b = parse_day(start, "--from"), parse_day(until, "--until")
    with engine().begin() as conn:
        res = assign(conn, city, district, manager, start=a, until=b, by=by, note=note, plan=plan)
    if wants_json(as_json):
        print_json(res)
        return
    ended = "".join(f"; {e['manager']} ended" for e in res["ended"])
    out.print(f"district {res['code']} of {res['plan']}: manager {res['manager']} from "
              f"{res['valid_from']:%Y-%m-%d %H:%M %Z}" + (f" until {b}" if b else "") + ended)


@app.command("list")
def district_list(plan: PlanOpt = None, city: CityOpt = None, as_json: JsonOpt = False) -> None:
    """The plan's districts: code, manager, subscribers, workload, deviation."""
    from api.services.districts import list_districts
    with engine().connect() as conn:
        plan_id, df = list_districts(conn, city, plan)
    if wants_json(as_json):
        print_json({"plan": plan_id, "districts": [
            {k: (None if pd_na(v) else v) for k, v in r.items()} for r in df.to_dict("records")]})
        return
    t = Table("district", "manager", "name", "subscribers", "workload", "deviation", title=f"plan {plan_id}")
    for r in df.itertuples():
        t.add_row(r.code, r.manager_id or "", r.manager_name or "", f"{r.subscribers:,}", f"{r.workload:,.0f}",
                  "" if pd_na(r.deviation) else f"{r.deviation:+.2%}")
    owned = int(df["manager_id"].notna().sum())
    t.caption = f"{len(df):,} districts, {owned:,} with a manager"
    out.print(t)


def pd_na(v) -> bool:
    import pandas as pd
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))
