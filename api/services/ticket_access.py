"""Who may see a ticket and who may take each step: the one place these rules live.

- planners and analysts read every ticket; the call centre reads every ticket too;
- a manager reads the tickets of the districts he holds on that day, the tickets he holds, and
  his community department's queue (so that he can take from it);
- the call centre creates tickets, calls back (`verify`), reopens, and dispatches (`take` naming
  a manager); a planner may dispatch too;
- a manager takes the field steps (contact, arrive, pause, resume, clear) on a ticket he holds,
  and `take`s a ticket from his community's queue, from a colleague of his community, or of a
  district he holds (a stand-in);
- analysts take no step;
- a manager's own queue, round, scorecard and outreach list are his alone (own_only).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from gis import workorders as store
from gis.errors import Forbidden, NotFound
from gis.users import User

FIELD_STEPS = frozenset({"contact", "arrive", "pause", "resume", "clear"})
CALL_CENTRE_STEPS = frozenset({"verify", "reopen"})
READ_ALL = frozenset({"planner", "analyst", "callcentre"})


def own_only(user: User, manager_id: str, what: str) -> None:
    """A manager reads only his own `what` (queue, round, scorecard, outreach list): another
    manager's is not found for him (404, as if it were not there); other roles read any."""
    if user.role == "manager" and user.manager_id != manager_id:
        raise NotFound(f"manager {manager_id!r}'s {what} is his own")


def scope(conn: Connection, user: User, now: dt.datetime) -> dict | None:
    """What a manager sees (None: everything): his districts today, himself, his community."""
    if user.role in READ_ALL:
        return None
    return {"districts": store.held_districts(conn, user.manager_id, now), "manager": user.manager_id,
            "community": store.community_of_manager(conn, user.manager_id)}


def visible(conn: Connection, user: User, ticket: dict, now: dt.datetime) -> bool:
    s = scope(conn, user, now)
    return s is None or ticket["district_id"] in s["districts"] or ticket["manager_id"] == s["manager"] \
        or (ticket["manager_id"] is None and ticket["queue_id"] is not None and ticket["queue_id"] == s["community"])


def check_visible(conn: Connection, user: User, ticket: dict, now: dt.datetime) -> None:
    # A ticket a manager may not see answers as missing: its existence is not his to learn.
    if not visible(conn, user, ticket, now):
        raise NotFound(f"ticket {ticket['id']!r} does not exist")


def check_step(conn: Connection, user: User, ticket: dict, action: str, fields: dict, now: dt.datetime) -> str | None:
    """Raises Forbidden when the caller may not take the step; returns the manager a `take`
    gives the ticket to."""
    tid = ticket["id"]
    if user.role == "analyst":
        raise Forbidden(f"an analyst reads tickets; he takes no step (ticket {tid})")
    if action == "take":
        if user.role in ("callcentre", "planner"):
            if not fields.get("manager_id"):
                raise Forbidden(f"the {user.role} dispatches ticket {tid} to a manager: name 'manager_id'")
            return fields["manager_id"]
        me = user.manager_id
        if fields.get("manager_id") not in (None, me):
            raise Forbidden(f"manager {me} takes tickets for himself, not for {fields['manager_id']}")
        if ticket["manager_id"] == me:
            return me
        community = store.community_of_manager(conn, me)
        if ticket["district_id"] in store.held_districts(conn, me, now):
            return me
        if ticket["queue_id"] is not None and ticket["queue_id"] == community:
            return me
        if ticket["manager_id"] is not None and store.community_of_manager(conn, ticket["manager_id"]) == community:
            return me
        raise Forbidden(f"ticket {tid} is not in manager {me}'s districts, his community's queue or a colleague's hands")
    if action in FIELD_STEPS:
        if user.role != "manager":
            raise Forbidden(f"'{action}' is a manager's step; the {user.role} may not take it (ticket {tid})")
        if ticket["manager_id"] != user.manager_id:
            holder = ticket["manager_id"] or f"the queue of {ticket['queue_id']}"
            raise Forbidden(f"ticket {tid} is held by {holder}, not by manager {user.manager_id}: take it first")
        return None
    if action in CALL_CENTRE_STEPS:
        if user.role not in ("callcentre", "planner"):
            raise Forbidden(f"'{action}' is the call centre's step (the call-back); the {user.role} may not take it")
        return None
    return None


def check_create(user: User) -> None:
    if user.role not in ("callcentre", "planner", "manager"):
        raise Forbidden(f"the role {user.role} may not create tickets")
