"""The work orders' settings planners edit: the clocks of each kind and priority of ticket (minutes
to contact and to clear, and a working-hours calendar), and the piece rates of the scorecards. A
new ticket keeps the clocks it was made with; a change applies to tickets made from then on
(each server process reads the policies again within 10 s)."""
from __future__ import annotations

import json

from sqlalchemy import Connection, text

from gis.errors import Forbidden, InputError, NotFound
from gis.users import User
from planning.workorders.calendar import Calendar
from planning.workorders.lifecycle import KINDS, PRIORITIES

from .values import jsonable

MAX_MINUTES = 60 * 24 * 30       # a month: a clock longer than that is a typo
WORKS = (*KINDS, "inspection", "vip")


def _planner(user: User, what: str) -> None:
    if user.role != "planner":
        raise Forbidden(f"the role {user.role} may not change {what} (a planner does)")


def policies(conn: Connection) -> list[dict]:
    return jsonable([dict(r) for r in conn.execute(text(
        "SELECT kind, priority, contact_minutes, clear_minutes, calendar, updated_by, updated_at FROM ticket_policies "
        "ORDER BY kind, priority")).mappings()])


def put_policy(conn: Connection, user: User, kind: str, priority: str, contact_minutes: float, clear_minutes: float,
               calendar: dict | None) -> dict:
    _planner(user, "the tickets' clocks")
    if kind not in KINDS or priority not in PRIORITIES:
        raise NotFound(f"no clock policy for {kind!r} tickets of priority {priority!r} (kinds: {', '.join(KINDS)}; "
                       f"priorities: {', '.join(PRIORITIES)})")
    for name, v in (("contact_minutes", contact_minutes), ("clear_minutes", clear_minutes)):
        if not 0 < v <= MAX_MINUTES:
            raise InputError(f"{name} {v} is not above 0 and at most {MAX_MINUTES:,} (30 days)")
    if calendar is not None:
        tz = conn.execute(text("SELECT min(timezone) FROM cities")).scalar() or "UTC"
        calendar = Calendar.from_dict(calendar, tz=calendar.get("tz") or tz).to_dict()   # checked, every problem named
    row = conn.execute(text("""
        UPDATE ticket_policies SET contact_minutes = :c, clear_minutes = :k, calendar = CAST(:cal AS jsonb),
               updated_by = :by, updated_at = now() WHERE kind = :kind AND priority = :p
        RETURNING kind, priority, contact_minutes, clear_minutes, calendar, updated_by, updated_at"""),
        {"c": contact_minutes, "k": clear_minutes, "cal": None if calendar is None else json.dumps(calendar),
         "by": user.name, "kind": kind, "p": priority}).mappings().one()
    return jsonable(dict(row))


def rates(conn: Connection) -> list[dict]:
    return jsonable([dict(r) for r in conn.execute(text(
        "SELECT work, points, updated_by, updated_at FROM piece_rates ORDER BY work")).mappings()])


def put_rate(conn: Connection, user: User, work: str, points: float) -> dict:
    _planner(user, "the piece rates")
    if work not in WORKS:
        raise NotFound(f"no piece rate {work!r}; rates: {', '.join(WORKS)}")
    if not 0 <= points <= 1000:
        raise InputError(f"points {points} is not from 0 to 1,000")
    row = conn.execute(text("""
        INSERT INTO piece_rates (work, points, updated_by, updated_at) VALUES (:w, :p, :by, now())
        ON CONFLICT (work) DO UPDATE SET points = excluded.points, updated_by = excluded.updated_by,
            updated_at = excluded.updated_at RETURNING work, points, updated_by, updated_at"""),
        {"w": work, "p": points, "by": user.name}).mappings().one()
    return jsonable(dict(row))
