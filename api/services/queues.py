"""The queues people work from: a manager's open tickets, a district's, a community department's
(its fallback queue and what has been escalated to it), an office region's (what has run out),
and the call centre's call-backs (a random sample of cleared tickets, share configurable).

A queue is open tickets ordered by the clock that matters next (contact before contact, clearing
after), breached first. `breached` is read as of now from the due times, so a clock that ran out
a second ago is already at the top before the scan has written its breach.
"""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import Connection, text

from gis.errors import InputError, NotFound
from gis.users import User

from . import ticket_access as access
from .values import jsonable

LIST_MAX = 1000
# The share of cleared tickets the call centre calls back (Zhangjiagang: "at random").
CALLBACK_SHARE = float(os.environ.get("PIANQU_CALLBACK_SHARE", "0.2"))
CALLBACK_DAYS_MAX = 90

_ROW = """
    SELECT t.id, t.kind, CASE WHEN t.vip THEN 'vip' ELSE 'normal' END AS priority, t.category, t.status, t.paused,
           t.subscriber_id, t.box_id, t.district_id, t.manager_id, t.queue_id, t.community_id, t.first_responsible,
           t.reported_at, t.first_contact_at, t.cleared_at, t.contact_due, t.clear_due, t.escalation, t.note,
           CASE WHEN t.status IN ('new', 'reopened') THEN t.contact_due ELSE t.clear_due END AS next_due,
           (t.contact_breached_at IS NOT NULL OR t.clear_breached_at IS NOT NULL
            OR (CASE WHEN t.status IN ('new', 'reopened') THEN t.contact_due ELSE t.clear_due END) <= :now
            OR (t.clear_due <= :now)) AS breached,
           ST_X(t.geometry) AS lon, ST_Y(t.geometry) AS lat
    FROM fault_tickets t"""
_OPEN = "t.status IN ('new', 'contacted', 'on_site', 'reopened')"
_ORDER = " ORDER BY breached DESC, next_due ASC NULLS LAST, t.id LIMIT :limit"


def _now(now):
    return now or dt.datetime.now(dt.timezone.utc)


def _rows(conn: Connection, where: str, params: dict, now, limit: int) -> list[dict]:
    if not 1 <= limit <= LIST_MAX:
        raise InputError(f"limit {limit} is not between 1 and {LIST_MAX}")
    res = conn.execute(text(f"{_ROW} WHERE {where}{_ORDER}"), {**params, "now": now, "limit": limit})
    return [jsonable(dict(r)) for r in res.mappings()]


def manager_queue(conn: Connection, user: User, manager_id: str, *, now=None, limit: int = 200) -> dict:
    now = _now(now)
    if conn.execute(text("SELECT 1 FROM managers WHERE id = :m"), {"m": manager_id}).first() is None:
        raise NotFound(f"manager {manager_id!r} does not exist")
    access.own_only(user, manager_id, "queue")
    tickets = _rows(conn, f"t.manager_id = :m AND {_OPEN}", {"m": manager_id}, now, limit)
    return {"manager_id": manager_id, "at": now.isoformat(), "open": len(tickets),
            "breached": sum(t["breached"] for t in tickets), "tickets": tickets}


def district_queue(conn: Connection, user: User, district: str, *, now=None, limit: int = 200) -> dict:
    now = _now(now)
    if conn.execute(text("SELECT 1 FROM districts WHERE id = :d"), {"d": district}).first() is None:
        raise NotFound(f"district {district!r} does not exist")
    s = access.scope(conn, user, now)
    if s is not None and district not in s["districts"]:
        raise NotFound(f"district {district!r} is not one manager {user.manager_id} holds today")
    tickets = _rows(conn, f"t.district_id = :d AND {_OPEN}", {"d": district}, now, limit)
    return {"district_id": district, "at": now.isoformat(), "open": len(tickets),
            "breached": sum(t["breached"] for t in tickets), "tickets": tickets}


def area_queue(conn: Connection, user: User, area: str, *, now=None, limit: int = 200) -> dict:
    """A community department's queue: the tickets waiting in it for a manager, and those of its
    area escalated to it (or beyond); an office region's: its communities' tickets escalated to it."""
    now = _now(now)
    row = conn.execute(text("SELECT id, level FROM admin_areas WHERE id = :a"), {"a": area}).first()
    if row is None:
        raise NotFound(f"area {area!r} does not exist")
    s = access.scope(conn, user, now)
    if s is not None and (row.level != "community" or s["community"] != area):
        raise NotFound(f"the queue of {area!r} is not manager {user.manager_id}'s community's")
    if row.level == "community":
        where = (f"{_OPEN} AND (t.queue_id = :a OR (t.community_id = :a AND t.escalation IN ('community', 'office')))")
    else:
        where = (f"{_OPEN} AND t.escalation = 'office' AND t.community_id IN "
                 "(SELECT id FROM admin_areas WHERE parent_id = :a)")
    tickets = _rows(conn, where, {"a": area}, now, limit)
    return {"area_id": area, "level": row.level, "at": now.isoformat(), "open": len(tickets),
            "waiting": sum(t["manager_id"] is None for t in tickets), "tickets": tickets}


def callbacks(conn: Connection, user: User, *, city: str | None = None, share: float | None = None, days: int = 7,
              now=None, limit: int = 200) -> dict:
    """Cleared tickets due for the call centre's call-back: those cleared in the last `days`
    and not called back yet, a stable random sample (the same tickets on every read) of the
    share asked, oldest clearing first."""
    now = _now(now)
    share = CALLBACK_SHARE if share is None else share
    if not 0 < share <= 1:
        raise InputError(f"share {share} is not a fraction above 0 and at most 1")
    if not 1 <= days <= CALLBACK_DAYS_MAX:
        raise InputError(f"days {days} is not between 1 and {CALLBACK_DAYS_MAX}")
    if user.role not in ("callcentre", "planner", "analyst"):
        raise NotFound("the call-back queue is the call centre's")
    # The sample is by a hash of the ticket's id: random over tickets, fixed for each one.
    where = ("t.status = 'cleared' AND t.cleared_at > :since AND (CAST(:c AS text) IS NULL OR t.city_id = :c) "
             "AND ('x' || substr(md5(t.id), 1, 8))::bit(32)::bigint < :cut")
    res = conn.execute(text(f"{_ROW} WHERE {where} ORDER BY t.cleared_at, t.id LIMIT :limit"),
                       {"c": city, "cut": int(share * 2**32), "now": now, "limit": limit,
                        "since": now - dt.timedelta(days=days)})
    tickets = [jsonable(dict(r)) for r in res.mappings()]
    return {"share": share, "days": days, "at": now.isoformat(), "due": len(tickets), "tickets": tickets}
