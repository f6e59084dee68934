"""Intake in bulk: the call centre's export of reports, every row a ticket routed as one made
through POST /tickets, all rows or none. The door reads the file; this takes its rows."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection

from gis.errors import InputError, PianquError
from gis.users import User

from . import tickets

COLUMNS = ("subscriber_id", "box_id", "lon", "lat", "kind", "priority", "category", "note", "severity", "reported_at")
MAX_ROWS = 100_000


def _value(v):
    if v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, str) and not v.strip()):
        return None
    return v.strip() if isinstance(v, str) else v


def import_rows(conn: Connection, user: User, rows: list[dict], *, source: str = "rows",
                now: dt.datetime | None = None) -> dict:
    """Every row as a new ticket, in the caller's transaction; the first bad row raises an error
    naming it (row numbers count from 1, after the header), and the caller rolls back."""
    if not rows:
        raise InputError("the file has no rows", source=source)
    if len(rows) > MAX_ROWS:
        raise InputError(f"{len(rows):,} rows is more than {MAX_ROWS:,} in one import: split the file", source=source)
    unknown = sorted(set().union(*(r.keys() for r in rows)) - set(COLUMNS))
    if unknown:
        raise InputError(f"unknown column {', '.join(map(repr, unknown))}; columns: {', '.join(COLUMNS)}",
                         source=source)
    now = now or tickets.utc_now()
    made, by_manager, queued = [], {}, 0
    for i, raw in enumerate(rows, start=1):
        r = {k: _value(raw.get(k)) for k in COLUMNS}
        try:
            t = tickets.NewTicket(kind=r["kind"] or "fault", priority=r["priority"] or "normal",
                                  subscriber_id=r["subscriber_id"], box_id=r["box_id"],
                                  lon=None if r["lon"] is None else float(r["lon"]),
                                  lat=None if r["lat"] is None else float(r["lat"]), category=r["category"],
                                  note=r["note"], severity=int(r["severity"] or 1), reported_at=r["reported_at"])
            done = tickets.create(conn, user, t, now=now)
        except (ValueError, TypeError) as e:
            raise InputError(f"a value is not a number: {e}", source=source, row=i) from None
        except PianquError as e:
            raise InputError(str(e), source=source, row=i, record=r["subscriber_id"] or r["box_id"]) from None
        made.append(done["id"])
        if done["manager_id"]:
            by_manager[done["manager_id"]] = by_manager.get(done["manager_id"], 0) + 1
        else:
            queued += 1
    return {"tickets": len(made), "first": made[0], "last": made[-1], "to_managers": len(by_manager),
            "in_queues": queued}
