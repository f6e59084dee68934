"""Monthly scorecards of managers, community departments and office regions (planning.scorecard
over what gis.scorecards reads): the same for `GET /managers/{id}/scorecard`, `GET /scorecards`
and `pianqu scorecard`."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from gis import scorecards as store, store as city_store
from gis.errors import InputError, NotFound
from gis.tickets import city_timezone, local_start
from gis.users import User
from planning import scorecard as card
from planning.kpi import month_of

from .values import jsonable

BY = {"manager": "manager_id", "community": "community_id", "office": "office_id"}


def _month(conn: Connection, city: str, month) -> tuple[pd.Period, str]:
    tz = city_timezone(conn, city)
    return (month_of(month) if month is not None else pd.Timestamp.now(tz).tz_localize(None).to_period("M")), tz


def table(conn: Connection, city: str | None, month=None, by: str = "manager") -> tuple[str, pd.Period, pd.DataFrame]:
    if by not in BY:
        raise InputError(f"scorecards are by {', '.join(BY)}, not by {by!r}")
    city = city_store.resolve_city(conn, city)
    m, tz = _month(conn, city, month)
    a, b = local_start(m.start_time, tz), local_start((m + 1).start_time, tz)
    at = min(b, pd.Timestamp.now(tz="UTC"))
    t = store.tickets(conn, city, a, b)
    hold = store.holdings(conn, city, at)
    due = hold.groupby(BY[by])["objects"].sum()
    subs = store.connected(conn, city, m.start_time.date(), (m + 1).start_time.date() - pd.Timedelta(days=1), at)
    out = card.scorecard(t, store.faults_before(conn, city, a), store.inspections(conn, city, a, b), due, subs,
                         store.rates(conn), by=BY[by])
    return city, m, out


def manager_card(conn: Connection, user: User, manager_id: str, month=None) -> dict:
    row = conn.exec_driver_sql("SELECT id, city_id, name FROM managers WHERE id = %(m)s", {"m": manager_id}).first()
    if row is None:
        raise NotFound(f"manager {manager_id!r} does not exist")
    if user.role == "manager" and user.manager_id != manager_id:
        raise NotFound(f"manager {manager_id!r}'s scorecard is his own")
    city, m, out = table(conn, row.city_id, month, "manager")
    mine = out[out["manager_id"] == manager_id]
    figures = mine.iloc[0].to_dict() if len(mine) else {"manager_id": manager_id, "tickets": 0}
    return jsonable({"manager_id": manager_id, "name": row.name, "city": city, "month": str(m), **figures})


def cards(conn: Connection, user: User, city: str | None = None, month=None, by: str = "manager") -> dict:
    if user.role == "manager":
        raise NotFound("a manager reads his own scorecard: /managers/{id}/scorecard")
    city, m, out = table(conn, city, month, by)
    return jsonable({"city": city, "month": str(m), "by": by, "rows": out.to_dict("records")})
