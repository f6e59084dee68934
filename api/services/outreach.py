"""The manager's outreach lists (the visits the operators made part of his job): subscribers of
his districts whose broadband contract ends within `days` (default 30), those connected in the
last 30 days, and the sites of open opportunity alerts."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection

from gis import outreach as store, workorders
from gis.errors import InputError
from gis.tickets import city_timezone, local_start
from gis.users import User

from .rounds import day_of, manager_row
from .tickets import utc_now
from .values import jsonable

NEW_DAYS = 30
LIST_MAX = 1000


def outreach(conn: Connection, user: User, manager_id: str, day=None, *, days: int = 30, limit: int = 200) -> dict:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise InputError(f"days {days!r} is not a whole number of days from 1 to 365")
    if not 1 <= limit <= LIST_MAX:
        raise InputError(f"limit {limit} is not between 1 and {LIST_MAX}")
    m = manager_row(conn, user, manager_id, "outreach list")
    tz = city_timezone(conn, m.city_id)
    day = day_of(day, tz)
    today = pd.Timestamp.now(tz).date() == day
    at = utc_now() if today else local_start(day, tz).to_pydatetime() + dt.timedelta(hours=12)
    held = workorders.held_districts(conn, manager_id, at)
    ending_n, ending = store.contracts_ending(conn, held, day, day + dt.timedelta(days=days), limit)
    new_n, new = store.connected_lately(conn, held, day - dt.timedelta(days=NEW_DAYS), day, limit)
    return jsonable({"manager_id": manager_id, "date": day.isoformat(), "districts": held,
                     "contracts_ending": {"within_days": days, "total": ending_n, "subscribers": ending},
                     "new_subscribers": {"since": (day - dt.timedelta(days=NEW_DAYS)).isoformat(), "total": new_n,
                                         "subscribers": new},
                     "opportunities": store.open_alert_sites(conn, held, limit)})
