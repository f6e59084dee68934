"""Complaint analysis of a month (planning.complaints over the city's complaints)."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from gis import store
from gis.errors import NotFound
from gis.frames import frame
from gis.tickets import city_timezone, local_start
from gis.users import User
from planning.complaints import REPEAT_DAYS, analysis
from planning.kpi import month_of

from .values import jsonable


def month_analysis(conn: Connection, user: User, city: str | None = None, month=None) -> dict:
    if user.role == "manager":
        raise NotFound("complaint analysis is the planners', the analysts' and the call centre's")
    city = store.resolve_city(conn, city)
    tz = city_timezone(conn, city)
    m = month_of(month) if month is not None else pd.Timestamp.now(tz).tz_localize(None).to_period("M")
    a, b = local_start(m.start_time, tz), local_start((m + 1).start_time, tz)
    c = frame(conn, """
        SELECT t.id, t.category, t.subscriber_id, coalesce(s.box_id, t.box_id) AS box_id, t.district_id, t.reported_at
        FROM fault_tickets t LEFT JOIN subscribers s ON s.id = t.subscriber_id
        WHERE t.city_id = %(c)s AND t.kind = 'complaint' AND t.reported_at >= %(a)s AND t.reported_at < %(b)s
        ORDER BY t.reported_at, t.id""", {"c": city, "a": a - pd.Timedelta(days=REPEAT_DAYS), "b": b})
    c["reported_at"] = pd.to_datetime(c["reported_at"], utc=True)
    return jsonable({"city": city, **analysis(c, m, tz)})
