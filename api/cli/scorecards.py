"""`pianqu scorecard`: a month's scorecards by manager, community department or office region
(api.services.scorecards, the same as GET /scorecards)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from gis.users import User

from .common import CityOpt, JsonOpt, engine, out, parse_month, print_json, wants_json


def scorecard(by: Annotated[str, typer.Option(help="manager, community or office.")] = "manager",
              month: Annotated[Optional[str], typer.Option(help="YYYY-MM, the city's local month (default: this one).")] = None,
              city: CityOpt = None, json_: JsonOpt = False) -> None:
    """Tickets handled, clocks kept, repeats, call-backs, inspections, installs, new revenue and
    piece-rate points of a month."""
    from api.services.scorecards import cards
    m = parse_month(month, "--month") if month else None
    with engine().connect() as conn:
        res = cards(conn, User("cli", "planner"), city, m, by)
    if wants_json(json_):
        print_json(res)
        return
    key = {"manager": "manager_id", "community": "community_id", "office": "office_id"}[by]
    t = Table(by, "tickets", "contact on time", "clear on time", "repeat", "call-backs", "satisfaction",
              "inspections", "installs", "new revenue", "points", title=f"{res['city']} {res['month']}")
    pct = lambda v: "" if v is None else f"{v:.0%}"  # noqa: E731
    for r in res["rows"]:
        t.add_row(str(r[key]), f"{r['tickets']:,}", pct(r["contact_on_time"]), pct(r["clear_on_time"]),
                  pct(r["repeat_share"]), f"{r['callbacks']:,}", "" if r["satisfaction"] is None else f"{r['satisfaction']:.2f}",
                  f"{r['inspections_done']}/{r['inspections_due']}", f"{r['installs_done']}", f"{r['new_revenue']:,.0f}",
                  f"{r['points']:,.1f}")
    out.print(t)
