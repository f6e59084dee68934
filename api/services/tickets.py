"""Work orders: intake and routing, the steps of the loop, and a ticket with its history and
clocks. The CLI (`pianqu tickets ...`), the HTTP routers (/tickets) and the bulk import call
these functions; the rules are planning.workorders (life cycle, clocks) and ticket_access (who).

Every step of one ticket runs under that ticket's row lock: first the clock scan writes the
escalations and breaches the log lacks by now, then the step is checked against the replayed
state and appended, and the row is made equal to the log replayed.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from gis import routing, workorders as store
from gis.errors import InputError
from gis.users import User
from planning.workorders import clocks as clk, history, lifecycle as life

from . import ticket_access as access
from .values import jsonable

# A step may say when it happened (a contact made on the phone before it was typed in), but
# not in the future; a few seconds of clock skew between a client and the server are allowed.
SKEW = dt.timedelta(seconds=60)


@dataclass
class NewTicket:
    kind: str = "fault"
    priority: str = "normal"
    subscriber_id: str | None = None
    box_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    category: str | None = None
    note: str | None = None
    severity: int = 1
    reported_at: dt.datetime | None = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def instant(value, what: str, now: dt.datetime) -> dt.datetime:
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} {value!r} is not an instant: expected ISO 8601, e.g. 2026-12-01T09:30:00+08:00") from None
    if t is pd.NaT or t.tzinfo is None:
        raise InputError(f"{what} {value!r} needs its time zone (e.g. +08:00 or Z)")
    t = t.to_pydatetime()
    if t > now + SKEW:
        raise InputError(f"{what} {t.isoformat()} is in the future")
    return t


def check_new(t: NewTicket) -> None:
    """The cheap checks, before any query."""
    if t.kind not in life.KINDS:
        raise InputError(f"unknown ticket kind {t.kind!r}; kinds: {', '.join(life.KINDS)}")
    if t.priority not in life.PRIORITIES:
        raise InputError(f"unknown priority {t.priority!r}; priorities: {', '.join(life.PRIORITIES)}")
    given = [k for k, v in (("subscriber_id", t.subscriber_id), ("box_id", t.box_id)) if v]
    point = t.lon is not None or t.lat is not None
    if point and (t.lon is None or t.lat is None):
        raise InputError("a point needs both 'lon' and 'lat'")
    if len(given) + point != 1:
        raise InputError("a ticket names exactly one of 'subscriber_id', 'box_id' or 'lon'+'lat' "
                         f"(given: {', '.join(given + (['lon+lat'] if point else [])) or 'none'})")
    if t.category is not None and t.kind != "complaint":
        raise InputError(f"a category is given to complaints, not to a {t.kind} ticket")
    if t.kind == "complaint" and t.category is None:
        raise InputError("a complaint needs its 'category'")
    if t.severity not in (1, 2, 3):
        raise InputError(f"severity {t.severity!r} is not 1, 2 or 3")
    if t.note is not None and len(t.note) > 2000:
        raise InputError("note must be text of at most 2,000 characters")


def route(conn: Connection, t: NewTicket, at: dt.datetime) -> dict:
    if t.subscriber_id:
        return routing.by_subscriber(conn, t.subscriber_id, at)
    if t.box_id:
        return routing.by_box(conn, t.box_id, at)
    return routing.by_point(conn, float(t.lon), float(t.lat), at)


def create(conn: Connection, user: User, t: NewTicket, *, now: dt.datetime | None = None, actor: str | None = None) -> dict:
    """A new ticket, routed at once: its row and its `create` event, in the caller's transaction."""
    now = now or utc_now()
    access.check_create(user)
    check_new(t)
    reported = instant(t.reported_at, "reported_at", now) if t.reported_at is not None else now
    store.check_category(conn, t.category)
    # Routed to whoever holds the district now, when it is entered: he is the one who acts on it
    # (a report dated earlier, typed in late, is no less his).
    r = route(conn, t, now)
    vip = t.priority == "vip"
    policy = store.policy(conn, r["city_id"], t.kind, vip)
    row = {"city_id": r["city_id"], "kind": t.kind, "category": t.category, "vip": vip,
           "subscriber_id": r["subscriber_id"], "box_id": r["box_id"] if not r["subscriber_id"] else None,
           "dp_id": r["dp_id"] if not r["subscriber_id"] else None, "severity": t.severity, "note": t.note,
           "reported_at": reported, "routing_reason": r["routing_reason"], "policy": policy,
           "community_id": r["community_id"],
           "lon": r["lon"], "lat": r["lat"]}
    queue = None if r["manager_id"] else r["community_id"]
    event = {"action": "create", "at": pd.Timestamp(reported), "actor": actor or user.name,
             "manager_id": r["manager_id"], "queue_id": queue, "district_id": r["district_id"],
             "reason": r["routing_reason"]}
    state = life.apply(life.TicketState(), event, "new")
    events = [dict(event, seq=1, status=state.status, holder=state.holder)]
    # A report dated earlier may have crossed thresholds already: written with it, at their instants.
    for e in clk.due_escalations(events, policy, now):
        state = life.apply(state, e, "new")
        events.append(dict(e, actor="pianqu clock", seq=state.steps, status=state.status, holder=state.holder))
    clocks = clk.clocks(events, policy, now)
    # The row, already its log replayed, and the log: one statement (intake is the hot path).
    tid = store.insert(conn, row, state, clocks, events)
    ticket = {**row, "id": tid, "policy": policy, "status": state.status, "paused": False, "cable_id": None,
              "district_id": state.district, "manager_id": state.holder, "queue_id": state.queue,
              "first_responsible": state.first_responsible, "first_contact_at": None, "cleared_at": None,
              "cause": None, "escalation": state.escalations[-1][1] if state.escalations else None,
              "steps": state.steps, "reported_at": reported, "contact_due": clocks["contact"].due,
              "clear_due": clocks["clear"].due, "contact_breached_at": clocks["contact"].breached_at,
              "clear_breached_at": clocks["clear"].breached_at}
    return view(conn, ticket, events, now, answer=True, clocks=clocks, state=state)


def _scan(conn: Connection, ticket: dict, events: list[dict], now: dt.datetime, state) -> tuple[list[dict], object]:
    """Escalations and breaches the log lacks by `now`, appended (system steps)."""
    if state.status not in life.OPEN:
        return events, state
    for e in clk.due_escalations(events, ticket["policy"], now):
        e = {**e, "actor": "pianqu clock"}
        state = life.apply(state, e, ticket["id"])
        store.append(conn, ticket["id"], state.steps, e, state.status, state.holder)
        events = events + [dict(e, seq=state.steps)]
    return events, state


def step(conn: Connection, user: User, ticket_id: str, action: str, fields: dict | None = None, *,
         at=None, now: dt.datetime | None = None) -> dict:
    """One step of the loop on one ticket, by `user`: 403 if he may not, 409 if the ticket's
    state does not allow it now, the updated ticket if it was taken."""
    now = now or utc_now()
    if action not in life.STEPS:
        raise InputError(f"unknown step {action!r}; steps: {', '.join(life.ACTIONS)}")
    fields = life.check_fields(action, dict(fields or {}))
    when = instant(at, "at", now) if at is not None else None
    t = store.ticket(conn, ticket_id, lock=True)
    if when is None:
        # Now is when the lock is ours: a step that waited for another one comes after it.
        when = now = max(now, utc_now())
    access.check_visible(conn, user, t, now)
    to = access.check_step(conn, user, t, action, fields, now)
    events = store.events(conn, ticket_id)
    state = life.replay(events, ticket_id)
    if events and when < pd.Timestamp(events[-1]["at"]).to_pydatetime() and events[-1]["action"] not in life.SYSTEM:
        raise InputError(f"at {when.isoformat()} is before the ticket's last step ({events[-1]['action']} at "
                         f"{pd.Timestamp(events[-1]['at']).isoformat()})")
    events, state = _scan(conn, t, events, now, state)
    event = {"action": action, "at": when, "actor": user.name, **fields}
    if action == "take":
        event["manager_id"] = to
        event["from_manager"] = t["manager_id"]
        event["from_queue"] = t["queue_id"]
    state = life.apply(state, event, ticket_id)
    store.append(conn, ticket_id, state.steps, event, state.status, state.holder)
    events = events + [dict(event, seq=state.steps)]
    if action == "clear":
        conn.exec_driver_sql("UPDATE fault_tickets SET cause = coalesce(cause, %(c)s) WHERE id = %(t)s AND kind = "
                             "'fault' AND %(c)s = ANY(%(known)s)",
                             {"c": fields["cause_found"], "t": ticket_id, "known": list(_CAUSES)})
    clocks = clk.clocks(events, t["policy"], now)
    store.project(conn, ticket_id, state, clocks)
    return view(conn, store.ticket(conn, ticket_id), events, now, clocks=clocks, state=state)


def scan(conn: Connection, now: dt.datetime | None = None, city: str | None = None) -> dict:
    """The clock scan over every open ticket: escalations and breaches recorded at the instant
    each threshold was crossed. Run on a schedule by the server and before every step."""
    now = now or utc_now()
    from .handover import follow_owners
    # A dated stand-in begins or ends with no request to say so: the scan hands the tickets over.
    moved = follow_owners(conn, city=city, now=now, why="a dated assignment began or ended", actor="pianqu clock")
    ids = conn.exec_driver_sql(
        # Open, running tickets whose clocks have not both run out already (those have every
        # escalation written): a few hundred in a city at any moment.
        "SELECT id FROM fault_tickets WHERE status IN ('new', 'contacted', 'on_site', 'reopened') AND steps > 0 "
        "AND NOT paused AND (%(c)s::text IS NULL OR city_id = %(c)s) AND policy IS NOT NULL "
        "AND (contact_breached_at IS NULL OR clear_breached_at IS NULL) ORDER BY id",
        {"c": city}).scalars().all()
    written = 0
    for tid in ids:
        t = store.ticket(conn, tid, lock=True)
        events = store.events(conn, tid)
        state = life.replay(events, tid)
        before = len(events)
        events, state = _scan(conn, t, events, now, state)
        if len(events) > before:
            written += len(events) - before
            store.project(conn, tid, state, clk.clocks(events, t["policy"], now))
    return {"tickets": len(ids), "escalations": written, "handed_over": moved["moved"]}


def adopt(conn: Connection, city: str | None, *, now: dt.datetime | None = None, actor: str = "import") -> dict:
    """A history for each of the city's tickets that has none (loaded from a file with its
    times): routed under the active plan to the manager who held the district when it was
    reported, and stepped through the loop at its recorded times (planning.workorders.history).
    City None: every city that has such tickets."""
    now = now or utc_now()
    if city is None:
        done = [adopt(conn, c, now=now, actor=actor) for c in conn.exec_driver_sql(
            "SELECT DISTINCT city_id FROM fault_tickets WHERE steps = 0 ORDER BY 1").scalars().all()]
        return {"tickets": sum(d["tickets"] for d in done), "events": sum(d["events"] for d in done)}
    t = store.adoptable(conn, city)
    if t.empty:
        return {"tickets": 0, "events": 0}
    tz = conn.exec_driver_sql("SELECT timezone FROM cities WHERE id = %(c)s", {"c": city}).scalar() or "UTC"
    events, rows = history.adopted(t, pd.Timestamp(now), actor)
    policies = pd.DataFrame({"id": t["id"], "policy": [
        {"contact_s": float(a), "clear_s": float(b), "calendar": c, "tz": tz}
        for a, b, c in zip(t["contact_s"], t["clear_s"], t["calendar"])]})
    on_calendar = t.loc[t["calendar"].notna(), "id"]
    if len(on_calendar):
        # Working-hours clocks are not plain sums: these few take the per-ticket clock.
        events, rows = _on_calendar(events, rows, policies.set_index("id")["policy"], set(on_calendar), now)
    store.write_history(conn, events, rows, policies)
    return {"tickets": len(rows), "events": len(events)}


def _on_calendar(events, rows, policies, ids: set, now):
    mine = events["ticket_id"].isin(ids)
    keep, redo = events[~mine], events[mine & ~events["action"].isin(["escalate", "breach"])]
    out, fixed = [keep], []
    for tid, ev in redo.groupby("ticket_id", sort=False):
        log = [{**(json.loads(d) if isinstance(d, str) else d or {}), "action": a, "at": at}
               for a, at, d in zip(ev["action"], ev["at"], ev["details"])]
        actors = list(ev["actor"])
        pol = policies[tid]
        marks = clk.due_escalations(log, pol, now)
        merged = sorted([(e, who) for e, who in zip(log, actors)] + [(e, "pianqu clock") for e in marks],
                        key=lambda x: x[0]["at"])
        state, recs = life.TicketState(), []
        for e, who in merged:
            state = life.apply(state, e, tid)
            fields = {k: v for k, v in e.items() if k not in ("action", "at")}
            recs.append({"ticket_id": tid, "at": e["at"], "action": e["action"],
                         "actor": who, "status": state.status,
                         "manager_id": state.holder, "details": fields or None, "seq": len(recs) + 1})
        out.append(pd.DataFrame(recs))
        c = clk.clocks([e for e, _ in merged], pol, now)
        fixed.append({"id": tid, "contact_due": c["contact"].due, "clear_due": c["clear"].due,
                      "contact_breached_at": c["contact"].breached_at, "clear_breached_at": c["clear"].breached_at,
                      "escalation": state.escalations[-1][1] if state.escalations else None, "steps": state.steps})
    rows = rows.set_index("id")
    fix = pd.DataFrame(fixed).set_index("id")
    rows.loc[fix.index, fix.columns] = fix
    return pd.concat(out, ignore_index=True), rows.reset_index()


def get(conn: Connection, user: User, ticket_id: str, *, now: dt.datetime | None = None) -> dict:
    """A ticket with its history and its clocks as of now (a breach shows the moment it happens,
    before the scan has written it)."""
    now = now or utc_now()
    t = store.ticket(conn, ticket_id)
    access.check_visible(conn, user, t, now)
    return view(conn, t, store.events(conn, ticket_id), now, history=True, answer=True)


_CAUSES = ("cable", "drop", "box", "distribution_point", "customer_equipment", "weather", "third_party", "other")


def view(conn: Connection, t: dict, events: list[dict], now: dt.datetime, *, history: bool = False,
         answer: bool = False, clocks: dict | None = None, state=None) -> dict:
    """The ticket as the API shows it: its row, its clocks as of now, the steps allowed next,
    and (for a complaint) its category's standard answer."""
    state = state or life.replay(events, t["id"])
    c = clocks or (clk.clocks(events, t["policy"], now) if t["policy"] else None)
    out = {k: t[k] for k in store.TICKET_FIELDS if k not in ("policy", "vip", "steps")}
    out["priority"] = "vip" if t["vip"] else "normal"
    out["lon"], out["lat"] = t["lon"], t["lat"]
    if c:
        out["clocks"] = {k: v.as_dict() for k, v in c.items()}
        out["contact_due"] = c["contact"].due
        out["clear_due"] = c["clear"].due
        out["contact_breached_at"] = c["contact"].breached_at
        out["clear_breached_at"] = c["clear"].breached_at
        out["breached"] = any(v.breached_at is not None for v in c.values())
    out["allowed"] = life.allowed(state)
    if answer and t["category"]:
        out["answer"] = store.category(conn, t["category"])
    if history:
        out["history"] = [{k: e.get(k) for k in ("seq", "at", "action", "actor", "status", "holder")}
                          | {"fields": {k: v for k, v in e.items()
                                        if k not in ("seq", "at", "action", "actor", "status", "holder")}}
                          for e in events]
    return jsonable(out)
