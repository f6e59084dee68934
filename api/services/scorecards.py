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
from planning.kpi import TOTAL, month_of

from .ticket_access import own_only
from .values import jsonable

BY = {"manager": "manager_id", "community": "community_id", "office": "office_id"}


def _month(conn: Connection, city: str, month) -> tuple[pd.Period, str]:
    tz = city_timezone(conn, city)
    return (month_of(month) if month is not None else pd.Timestamp.now(tz).tz_localize(None).to_period("M")), tz


def _inputs(conn: Connection, city: str, month, by: str) -> tuple[pd.Period, dict]:
    """What planning.scorecard takes for the city's month, grouped `by`."""
    m, tz = _month(conn, city, month)
    a, b = local_start(m.start_time, tz), local_start((m + 1).start_time, tz)
    at = min(b, pd.Timestamp.now(tz="UTC"))
    hold = store.holdings(conn, city, at)
    return m, {"tickets": store.tickets(conn, city, a, b), "earlier": store.faults_before(conn, city, a),
               "inspections": store.inspections(conn, city, a, b), "due": hold.groupby(BY[by])["objects"].sum(),
               "subscribers": store.connected(conn, city, m.start_time.date(),
                                              (m + 1).start_time.date() - pd.Timedelta(days=1), at),
               "rates": store.rates(conn), "by": BY[by], "until": at}


def _as_one(inputs: dict) -> dict:
    """The same inputs with the whole city as one group (TOTAL): its shares over every ticket."""
    key = inputs["by"]
    one = {k: v.assign(**{key: TOTAL}) if isinstance(v, pd.DataFrame) and k != "earlier" else v
           for k, v in inputs.items()}
    one["due"] = pd.Series({TOTAL: inputs["due"].sum()})
    return one


def table(conn: Connection, city: str | None, month=None, by: str = "manager") -> tuple[str, pd.Period, pd.DataFrame]:
    if by not in BY:
        raise InputError(f"scorecards are by {', '.join(BY)}, not by {by!r}")
    city = city_store.resolve_city(conn, city)
    m, inputs = _inputs(conn, city, month, by)
    return city, m, card.scorecard(**inputs)


# What a month's scorecard adds to the fault KPIs of a manager, community or office (pianqu kpi).
CARD_COLUMNS = ("tickets_fault", "tickets_complaint", "tickets_install", "tickets_move", "tickets_enquiry",
                "contact_on_time", "clear_on_time", "callbacks", "satisfaction", "inspections_done", "inspections_due",
                "installs_done", "new_subscribers", "new_revenue", "points")


def with_cards(conn: Connection, city: str | None, kpis: pd.DataFrame, by: str, month) -> pd.DataFrame:
    """One month's fault KPIs by manager, community or office with the month's scorecard beside
    each row, the city's row (TOTAL) with the city's own: one table for `pianqu kpi --by manager`."""
    if by not in BY:
        raise InputError(f"scorecards are by {', '.join(BY)}, not by {by!r}")
    city = city_store.resolve_city(conn, city)
    _, inputs = _inputs(conn, city, month, by)
    rows = pd.concat([card.scorecard(**inputs), card.scorecard(**_as_one(inputs))], ignore_index=True)
    cols = [c for c in CARD_COLUMNS if c in rows.columns]
    return kpis.merge(rows[[BY[by], *cols]], on=BY[by], how="left")


def manager_card(conn: Connection, user: User, manager_id: str, month=None) -> dict:
    row = conn.exec_driver_sql("SELECT id, city_id, name FROM managers WHERE id = %(m)s", {"m": manager_id}).first()
    if row is None:
        raise NotFound(f"manager {manager_id!r} does not exist")
    own_only(user, manager_id, "scorecard")
    city, m, out = table(conn, row.city_id, month, "manager")
    mine = out[out["manager_id"] == manager_id]
    figures = mine.iloc[0].to_dict() if len(mine) else {"manager_id": manager_id, "tickets": 0}
    return jsonable({"manager_id": manager_id, "name": row.name, "city": city, "month": str(m), **figures})


def cards(conn: Connection, user: User, city: str | None = None, month=None, by: str = "manager") -> dict:
    if user.role == "manager":
        raise NotFound("a manager reads his own scorecard: /managers/{id}/scorecard")
    city, m, out = table(conn, city, month, by)
    return jsonable({"city": city, "month": str(m), "by": by, "rows": out.to_dict("records")})
