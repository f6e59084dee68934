"""A ticket's clocks, derived from its event log: when contact and clearing are due, whether and
when they were breached, and when each escalation threshold was (or will be) crossed.

    c = clocks(events, policy, now)            # policy: contact_s, clear_s, calendar (or None)
    c["clear"].due, c["clear"].breached_at, c["clear"].marks[0.75]

A clock starts when the ticket is created (again when it is reopened), stops at its step
(`contact`, `clear`), and does not run while the ticket is paused. Time counts in the ticket's
working calendar (planning.workorders.calendar; 24x7 unless the operator set one for the kind).
Nothing here is a counter: the same events always give the same clocks, to the second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar

# Escalation up the chain: at half the clock the manager is reminded, at three quarters his
# community department sees it, when it runs out the office region does (and it is a breach).
ESCALATION = ((0.5, "manager"), (0.75, "community"), (1.0, "office"))
CLOCK_STEPS = {"contact": "contact", "clear": "clear"}   # clock -> the step that stops it


@dataclass(frozen=True)
class Clock:
    name: str
    target_s: float
    started_at: pd.Timestamp | None
    stopped_at: pd.Timestamp | None
    paused: bool
    elapsed_s: float                 # working seconds run so far (to the stop, or to `now`)
    due: pd.Timestamp | None         # None while paused (the due time moves until it resumes)
    breached_at: pd.Timestamp | None
    marks: dict                      # fraction -> the instant it was crossed (only those crossed by now)

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.target_s - self.elapsed_s)

    def as_dict(self) -> dict:
        iso = lambda t: None if t is None else t.isoformat()  # noqa: E731
        return {"target_minutes": round(self.target_s / 60, 2), "started_at": iso(self.started_at),
                "stopped_at": iso(self.stopped_at), "paused": self.paused,
                "elapsed_minutes": round(self.elapsed_s / 60, 2), "due": iso(self.due),
                "breached_at": iso(self.breached_at), "on_time": None if self.stopped_at is None and self.breached_at
                is None else self.breached_at is None}


def _ts(v) -> pd.Timestamp:
    t = pd.Timestamp(v)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def running(events, clock: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None, list, bool]:
    """The clock's latest run: its start, its stop (None while running), the intervals it ran
    (the last one open-ended while it runs) and whether it is paused now."""
    stop_step = CLOCK_STEPS[clock]
    start = stop = None
    spans: list[list] = []
    paused = False
    for e in events:
        a, at = e["action"], e.get("at")
        if a in ("create", "reopen"):
            start, stop, paused = _ts(at), None, False
            spans = [[start, None]]
        elif start is None or stop is not None:
            continue
        elif a == "pause" and not paused:
            spans[-1][1], paused = _ts(at), True
        elif a == "resume" and paused:
            spans.append([_ts(at), None])
            paused = False
        elif a == stop_step:
            stop = _ts(at)
            if not paused:
                spans[-1][1] = stop
    return start, stop, [tuple(s) for s in spans], paused


def instant_at(spans: list, seconds: float, cal: Calendar, open_ended: bool) -> pd.Timestamp | None:
    """When `seconds` of working time have run over the spans (None if they never do)."""
    left = seconds
    for a, b in spans:
        if b is None:
            return cal.add(a, left) if open_ended else None
        w = cal.between(a, b)
        if w >= left:
            return cal.add(a, left)
        left -= w
    return None


def clock(events, name: str, target_s: float, now, cal: Calendar | None = None) -> Clock:
    cal = cal or Calendar.always("UTC")
    now = _ts(now)
    start, stop, spans, paused = running(events, name)
    if start is None:
        return Clock(name, target_s, None, None, False, 0.0, None, None, {})
    end = stop or now
    elapsed = sum(cal.between(a, min(b or end, end)) for a, b in spans)
    open_ended = stop is None and not paused
    due = instant_at(spans, target_s, cal, open_ended)
    if due is None and stop is not None:
        # Stopped in time: the due time it had (what it would have run out at, running on).
        due = cal.add(stop, target_s - elapsed)
    breached = due if due is not None and due <= end else None
    marks = {}
    for frac, _ in ESCALATION:
        t = instant_at(spans, frac * target_s, cal, open_ended)
        if t is not None and t <= end:
            marks[frac] = t
    return Clock(name, target_s, start, stop, paused and stop is None, elapsed, None if paused and stop is None else due,
                 breached, marks)


def calendar_of(policy: dict) -> Calendar:
    cal = policy.get("calendar")
    return Calendar.from_dict(cal, tz=policy.get("tz")) if cal else Calendar.always(policy.get("tz", "UTC"))


def clocks(events, policy: dict, now, cal: Calendar | None = None) -> dict[str, Clock]:
    """Both clocks of a ticket under its policy (the targets it was created with)."""
    cal = cal or calendar_of(policy)
    return {"contact": clock(events, "contact", float(policy["contact_s"]), now, cal),
            "clear": clock(events, "clear", float(policy["clear_s"]), now, cal)}


def due_escalations(events, policy: dict, now, cal: Calendar | None = None) -> list[dict]:
    """The escalation events the log lacks by `now`: one per clock and threshold crossed since
    the latest (re)opening, at the instant it was crossed; the last threshold is the breach."""
    done = set()
    for e in events:
        if e["action"] == "reopen":
            done = set()
        elif e["action"] in ("escalate", "breach"):
            done.add((e.get("clock"), e.get("level")))
    out = []
    for name, c in clocks(events, policy, now, cal).items():
        for frac, level in ESCALATION:
            at = c.marks.get(frac)
            if at is not None and (name, level) not in done:
                out.append({"action": "breach" if frac == 1.0 else "escalate", "at": at, "clock": name,
                            "level": level, "fraction": frac})
    return sorted(out, key=lambda e: e["at"])


# ---- many tickets at once ---------------------------------------------------------------------

def uninterrupted(started: pd.Series, stopped: pd.Series, target_s, now) -> tuple[pd.Series, pd.Series]:
    """clock() for many tickets that were never paused, on a 24x7 calendar (a file of past
    faults, a history without a log): each clock's due time and breach instant, vectorised.
    It is the same clock: due at start + target, breached then unless it stopped before."""
    started = pd.to_datetime(started, utc=True)
    due = started + pd.to_timedelta(np.asarray(target_s, float) * np.ones(len(started)), unit="s")
    end = pd.to_datetime(stopped, utc=True).fillna(_ts(now))
    return due, due.where(due <= end)


def verdicts(stopped: pd.Series, due: pd.Series, breached_at: pd.Series, until) -> tuple[pd.Series, pd.Series]:
    """Whether each clock was kept, judged at `until` (the end of a month, or now): (known, kept).
    The one rule every figure of "on time" counts by (the fault KPIs, the scorecards): a clock is
    kept when it stopped unbreached, missed when it was breached by `until` (or was due by then,
    running, and the scan has not stamped it yet), and not known yet otherwise (it still runs,
    or is paused, within its time)."""
    stopped = pd.to_datetime(stopped, utc=True)
    due = pd.to_datetime(due, utc=True)
    breached_at = pd.to_datetime(breached_at, utc=True)
    until = pd.to_datetime(until, utc=True) if not isinstance(until, pd.Timestamp) else _ts(until)
    kept = stopped.notna() & breached_at.isna()
    missed = (breached_at <= until) | (stopped.isna() & breached_at.isna() & (due <= until))
    return kept | missed, kept
