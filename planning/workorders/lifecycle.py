"""A ticket's life cycle as data: which step may follow which, and the state a history leads to.

    state = replay(events)            # events: dicts with action, at, and the step's fields
    state.status, state.paused, state.holder

The log is the truth: a ticket's status, its holder and its clocks (planning.workorders.clocks)
are what its events say, so any ticket can be replayed from its history. The store keeps the
replayed state on the ticket's row only to sort and filter queues in SQL.

    new ─contact→ contacted ─arrive→ on_site ─clear→ cleared ─verify→ verified
     ↑                └────────────clear────────────↗   │  └─reopen→ reopened (an open state)
     └ (reopened behaves as new: contact again)         └──reopen──┘

`pause`/`resume` may happen in any open state (the ticket waits on the subscriber: no one home,
a visit time the subscriber chose); while paused, only `resume`, `take` and `handover` may
happen. `take` and `handover` change who holds the ticket, never its status or its clocks.
`escalate` and `breach` are written by the clock scan, not by people.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from gis.errors import Conflict, InputError

KINDS = ("fault", "complaint", "install", "move", "enquiry")
PRIORITIES = ("normal", "vip")
STATUSES = ("new", "contacted", "on_site", "cleared", "verified", "reopened")
OPEN = frozenset({"new", "contacted", "on_site", "reopened"})
PAUSE_REASONS = ("no_one_home", "subscriber_time", "other")
# The call-back's checks (the operators' survey): each answered yes or no.
CHECKS = ("contacted_20min", "on_time", "badge", "shoe_covers", "fixed")

# Steps people take: the statuses a step may start from, and the status it leads to (None: the
# status stays as it is).
STEPS: dict[str, tuple[frozenset, str | None]] = {
    "take": (OPEN, None),
    "contact": (frozenset({"new", "reopened"}), "contacted"),
    "arrive": (frozenset({"contacted"}), "on_site"),
    "pause": (OPEN, None),
    "resume": (OPEN, None),
    "clear": (frozenset({"contacted", "on_site"}), "cleared"),
    "verify": (frozenset({"cleared"}), "verified"),
    "reopen": (frozenset({"cleared", "verified"}), "reopened"),
}
ACTIONS = tuple(STEPS)
# Steps the system writes: the ticket's creation, a change of holder when districts or their
# managers change, and the clock scan's escalations and breaches.
SYSTEM = ("create", "handover", "escalate", "breach")
WHILE_PAUSED = frozenset({"resume", "take", "handover", "escalate", "breach"})


@dataclass(frozen=True)
class TicketState:
    status: str = "new"
    paused: bool = False
    holder: str | None = None              # the manager who holds it now (None: in a queue)
    queue: str | None = None               # the community department's queue, when no manager holds it
    first_responsible: str | None = None   # the first manager it was his; stays until it is closed
    district: str | None = None
    steps: int = 0
    last_at: object = None
    contact_at: object = None              # the first contact after the latest (re)opening
    cleared_at: object = None
    verified_at: object = None
    escalations: tuple = field(default_factory=tuple)   # (clock, level) pairs already recorded


def allowed(state: TicketState) -> list[str]:
    """The steps people may take next."""
    if state.paused:
        return ["resume", "take"]
    out = [a for a, (src, _) in STEPS.items() if state.status in src and a != "resume"]
    return out


def refusal(ticket: str, state: TicketState, action: str) -> str | None:
    """Why `action` may not follow `state` (None when it may)."""
    if action in SYSTEM:
        if action != "create" and state.steps == 0:
            return f"ticket {ticket} has no history yet: it must be created first"
        if action == "create" and state.steps:
            return f"ticket {ticket} exists already"
        return None
    if action not in STEPS:
        raise InputError(f"unknown step {action!r}; steps: {', '.join(ACTIONS)}")
    src, _ = STEPS[action]
    nxt = ", ".join(allowed(state)) or "none (it is closed)"
    if action == "pause" and state.paused:
        return f"ticket {ticket} is paused already; allowed now: {nxt}"
    if state.paused and action not in WHILE_PAUSED:
        return f"ticket {ticket} is paused (waiting on the subscriber): resume it before '{action}'; allowed now: {nxt}"
    if action == "resume" and not state.paused:
        return f"ticket {ticket} is not paused; allowed now: {nxt}"
    if state.status not in src:
        return f"ticket {ticket} is {state.status}: '{action}' is not allowed now; allowed now: {nxt}"
    return None


def apply(state: TicketState, event: dict, ticket: str = "?") -> TicketState:
    """The state after one more event; Conflict when the event may not follow."""
    action = event["action"]
    why = refusal(ticket, state, action)
    if why:
        raise Conflict(why)
    at = event.get("at")
    s = replace(state, steps=state.steps + 1, last_at=at)
    if action == "create":
        return replace(s, status="new", holder=event.get("manager_id"), queue=event.get("queue_id"),
                       district=event.get("district_id"), first_responsible=event.get("manager_id"))
    if action in ("take", "handover"):
        holder = event.get("manager_id")
        return replace(s, holder=holder, queue=None if holder else event.get("queue_id", s.queue),
                       district=event.get("district_id", s.district),
                       first_responsible=s.first_responsible or holder)
    if action == "pause":
        return replace(s, paused=True)
    if action == "resume":
        return replace(s, paused=False)
    if action == "escalate" or action == "breach":
        return replace(s, escalations=s.escalations + ((event.get("clock"), event.get("level", "breach")),))
    to = STEPS[action][1]
    if action == "contact":
        s = replace(s, contact_at=at)
    elif action == "clear":
        s = replace(s, cleared_at=at)
    elif action == "verify":
        s = replace(s, verified_at=at)
    elif action == "reopen":
        # Reopened: a fresh start of both clocks (planning.workorders.clocks), the escalations too.
        s = replace(s, contact_at=None, cleared_at=None, verified_at=None, escalations=())
    return replace(s, status=to)


def replay(events, ticket: str = "?") -> TicketState:
    """The state a ticket's history leads to; Conflict at the first event that may not follow."""
    state = TicketState()
    for e in events:
        state = apply(state, e, ticket)
    return state


def check_fields(action: str, fields: dict) -> dict:
    """The step's own fields, checked: what a step needs and nothing absurd. Returns the
    fields kept in the event (unknown names are refused, so a typo is not silently lost)."""
    known = {"note"}
    need: tuple = ()
    if action == "contact":
        known |= {"visit_at"}
    elif action == "pause":
        known |= {"reason", "until"}
        need = ("reason",)
    elif action == "clear":
        known |= {"cause_found", "work_done"}
        need = ("cause_found", "work_done")
    elif action == "verify":
        known |= {"reached", "satisfaction", "checks"}
        need = ("reached",)
    elif action == "take":
        known |= {"manager_id"}
    elif action == "reopen":
        need = ("note",)
    extra = sorted(set(k for k, v in fields.items() if v is not None) - known)
    if extra:
        raise InputError(f"step '{action}' takes no field {', '.join(map(repr, extra))}; "
                         f"it takes {', '.join(sorted(known))}")
    missing = [k for k in need if fields.get(k) in (None, "")]
    if missing:
        raise InputError(f"step '{action}' needs {', '.join(map(repr, missing))}")
    out = {k: v for k, v in fields.items() if k in known and v is not None}
    if action == "pause" and out["reason"] not in PAUSE_REASONS:
        raise InputError(f"pause reason {out['reason']!r} is not one of {', '.join(PAUSE_REASONS)}")
    if action == "verify":
        if out.get("reached") and out.get("satisfaction") is None:
            raise InputError("a call-back that reached the subscriber needs 'satisfaction' (1-5)")
        sat = out.get("satisfaction")
        if sat is not None and (isinstance(sat, bool) or not isinstance(sat, int) or not 1 <= sat <= 5):
            raise InputError(f"satisfaction {sat!r} is not a whole number from 1 to 5")
        checks = out.get("checks") or {}
        if not isinstance(checks, dict):
            raise InputError("checks must be an object of yes/no answers")
        bad = sorted(set(checks) - set(CHECKS))
        if bad:
            raise InputError(f"unknown call-back check {', '.join(map(repr, bad))}; checks: {', '.join(CHECKS)}")
        if any(not isinstance(v, bool) for v in checks.values()):
            raise InputError("each call-back check is answered true or false")
    for k in ("note", "cause_found", "work_done"):
        if k in out and (not isinstance(out[k], str) or len(out[k]) > 2000):
            raise InputError(f"{k} must be text of at most 2,000 characters")
    return out
