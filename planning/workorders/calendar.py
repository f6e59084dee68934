"""Working-hours calendars for ticket clocks: which hours of the week are open, which dates are
holidays, and which closed weekdays are worked anyway (China's make-up Saturdays).

    cal = Calendar.from_dict({"tz": "Asia/Shanghai",
                              "hours": {"0": [["08:30", "12:00"], ["14:00", "17:30"]], ...},
                              "holidays": ["2026-10-01"], "workdays": ["2026-09-27"]})
    cal.add(reported_at, 24 * 3600)     # when 24 working hours have passed (tz-aware UTC)
    cal.between(a, b)                   # working seconds in [a, b)
    cal.is_open(t)

Spans are local wall-clock times, so a 09:00-18:00 day is nine hours except across a DST jump. A
wall time the clocks skip means the moment they jump; one they show twice means its first showing.
Working time is counted in integer nanoseconds, so the answers are exact.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gis.errors import InputError

NS = 1_000_000_000
MINUTE_NS = 60 * NS
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_DAY = (("00:00", "24:00"),)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_KEYS = {"tz", "hours", "holidays", "workdays", "workday_hours"}
_LAST_YEAR = pd.Timestamp.max.year - 1   # the working time of a block is built a whole year at a time


@dataclass(frozen=True)
class Calendar:
    """Open hours per weekday (0 = Monday; each a tuple of ("HH:MM", "HH:MM") spans, none = closed),
    closed `holidays`, and `workdays`: dates open with `workday_hours` whatever their weekday
    (empty `workday_hours`: the spans of the first open weekday, Monday's in a Mon-Fri week)."""

    tz: str
    hours: tuple = (FULL_DAY,) * 7
    holidays: frozenset = frozenset()
    workdays: frozenset = frozenset()
    workday_hours: tuple = ()
    _index: "_Index | None" = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        problems: list[str] = []
        _check_tz(self.tz, problems)
        hours = tuple(self.hours) if isinstance(self.hours, (list, tuple)) else None
        if hours is None or len(hours) != 7:
            problems.append("hours: give the spans of all 7 weekdays, Monday first")
            hours = ((),) * 7
        hours = tuple(_spans(spans, f"hours for weekday {d} ({WEEKDAYS[d]})", problems)
                      for d, spans in enumerate(hours))
        if not any(hours) and not problems:
            problems.append("hours: no open hour in the whole week (a clock on it would never run out)")
        workday_hours = _spans(self.workday_hours, "workday_hours", problems)
        holidays = _dates(self.holidays, "holidays", problems)
        workdays = _dates(self.workdays, "workdays", problems)
        both = sorted(holidays & workdays)
        if both:
            problems.append(f"{both[0].isoformat()} is both a holiday and a workday")
        if problems:
            raise InputError("; ".join(problems), source="calendar", problems=problems)
        for name, value in (("hours", hours), ("workday_hours", workday_hours),
                            ("holidays", holidays), ("workdays", workdays)):
            object.__setattr__(self, name, value)
        always = all(h == FULL_DAY for h in hours) and not holidays
        object.__setattr__(self, "_index", None if always else _shared_index(self))

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def always(cls, tz: str = "UTC") -> "Calendar":
        """Around the clock, every day: working time is elapsed time."""
        return cls(tz=tz)

    @classmethod
    def from_dict(cls, d: dict, *, tz: str | None = None) -> "Calendar":
        """The calendar a JSON-able dict describes (as `to_dict` writes it). `hours` maps weekday
        "0"-"6" to a list of ["HH:MM", "HH:MM"] spans; a weekday left out is closed. `tz` is the
        zone to use when the dict names none (the city's)."""
        if not isinstance(d, dict):
            raise InputError(f"a calendar is an object with 'tz' and 'hours', not {type(d).__name__}",
                             source="calendar")
        try:
            key = json.dumps(d, sort_keys=True)
        except (TypeError, ValueError):
            return _parse(d, tz)
        # Clocks parse the calendar of each ticket they read: the same few dicts, over and over.
        return _parse_json(key, tz)

    def to_dict(self) -> dict:
        out = {"tz": self.tz,
               "hours": {str(d): [list(s) for s in spans] for d, spans in enumerate(self.hours) if spans},
               "holidays": sorted(x.isoformat() for x in self.holidays),
               "workdays": sorted(x.isoformat() for x in self.workdays)}
        if self.workday_hours:
            out["workday_hours"] = [list(s) for s in self.workday_hours]
        return out

    # -- the clock ------------------------------------------------------------------------------

    def add(self, start, seconds: float) -> pd.Timestamp:
        """The first instant at which `seconds` of working time have passed since `start` (tz-aware
        UTC). Starting while closed, the time starts to run at the next opening; `add(t, 0)` is t."""
        a = _ns(start, "start")
        s = _seconds_ns(seconds)
        if self._index is None or s == 0:
            return pd.Timestamp(a + s, tz="UTC")
        return pd.Timestamp(self._index.add(a, s), tz="UTC")

    def between(self, a, b) -> float:
        """Working seconds in [a, b); 0 when b is not after a."""
        a, b = _ns(a, "a"), _ns(b, "b")
        if b <= a:
            return 0.0
        if self._index is None:
            return (b - a) / NS
        return self._index.between(a, b) / NS

    def is_open(self, t) -> bool:
        """Whether `t` falls in working hours (a span is open at its start, closed at its end)."""
        t = _ns(t, "t")
        return self._index is None or self._index.is_open(t)


# -- validation ---------------------------------------------------------------------------------

def _check_tz(tz, problems: list[str]) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"tz {tz!r} is not a known time zone (an IANA name like 'Asia/Shanghai')")


def _minutes(text, where: str, problems: list[str], *, end: bool) -> int | None:
    m = _TIME.match(text) if isinstance(text, str) else None
    if m is None:
        problems.append(f"{where}: {text!r} is not a time HH:MM")
        return None
    h, mi = int(m[1]), int(m[2])
    if mi > 59 or h > 24 or (h == 24 and (mi or not end)):
        problems.append(f"{where}: {text!r} is not a time of day" + (" (24:00 only ends a span)" if h == 24 else ""))
        return None
    return h * 60 + mi


def _spans(spans, where: str, problems: list[str]) -> tuple:
    """Spans as sorted ("HH:MM", "HH:MM") pairs, each checked, none overlapping."""
    if not isinstance(spans, (list, tuple)):
        problems.append(f"{where}: give a list of [start, end] spans, not {spans!r}")
        return ()
    parsed = []
    for span in spans:
        if not isinstance(span, (list, tuple)) or len(span) != 2:
            problems.append(f"{where}: {span!r} is not a [start, end] span")
            continue
        a = _minutes(span[0], where, problems, end=False)
        b = _minutes(span[1], where, problems, end=True)
        if a is None or b is None:
            continue
        if b <= a:
            problems.append(f"{where}: span {span[0]}-{span[1]} ends before it starts")
            continue
        parsed.append((a, b))
    parsed.sort()
    for (a0, b0), (a1, b1) in zip(parsed, parsed[1:]):
        if a1 < b0:
            problems.append(f"{where}: spans {_hhmm(a0)}-{_hhmm(b0)} and {_hhmm(a1)}-{_hhmm(b1)} overlap")
    return tuple((_hhmm(a), _hhmm(b)) for a, b in parsed)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _dates(values, where: str, problems: list[str]) -> frozenset:
    if isinstance(values, (str, dt.date)):
        values = [values]
    out = set()
    for v in values or ():
        if isinstance(v, dt.datetime):
            problems.append(f"{where}: {v!r} is an instant, give the local date")
        elif isinstance(v, dt.date):
            out.add(v)
        else:
            try:
                out.add(dt.date.fromisoformat(v))
            except (TypeError, ValueError):
                problems.append(f"{where}: {v!r} is not a date YYYY-MM-DD")
    return frozenset(out)


def _parse(d: dict, tz: str | None) -> Calendar:
    unknown = sorted(set(d) - _KEYS)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r} (a calendar has {', '.join(sorted(_KEYS))})",
                         source="calendar")
    zone = d.get("tz") or tz
    if zone is None:
        raise InputError("tz: the calendar names no time zone", source="calendar")
    raw = d.get("hours", {})
    if isinstance(raw, dict):
        hours: list = [[] for _ in range(7)]
        for k, spans in raw.items():
            day = int(k) if isinstance(k, int) or (isinstance(k, str) and k.isdigit()) else -1
            if not 0 <= day <= 6:
                raise InputError(f"hours: {k!r} is not a weekday 0-6 (0 = Monday)", source="calendar")
            hours[day] = spans
    else:
        hours = raw
    return Calendar(tz=zone, hours=hours, holidays=d.get("holidays") or (), workdays=d.get("workdays") or (),
                    workday_hours=d.get("workday_hours") or ())


@lru_cache(maxsize=256)
def _parse_json(key: str, tz: str | None) -> Calendar:
    return _parse(json.loads(key), tz)


# -- instants -----------------------------------------------------------------------------------

def _ns(t, name: str) -> int:
    try:
        ts = t if isinstance(t, pd.Timestamp) else pd.Timestamp(t)
    except (TypeError, ValueError):
        raise InputError(f"{name} {t!r} is not an instant", source="calendar") from None
    if ts.tzinfo is None:
        raise InputError(f"{name} {t!r} has no time zone (a clock counts real instants)", source="calendar")
    return ts.value


def _seconds_ns(seconds) -> int:
    s = float(seconds)
    if not s >= 0 or s == float("inf"):
        raise InputError(f"seconds {seconds!r}: a clock runs a finite, non-negative time", source="calendar")
    return int(seconds) * NS if s.is_integer() else round(s * NS)


# -- the index of open intervals ------------------------------------------------------------------

_INDEXES: dict = {}
_INDEXES_LOCK = threading.Lock()


def _shared_index(cal: Calendar) -> "_Index":
    """Equal calendars share one index, so parsing a ticket's calendar again costs no rebuild."""
    with _INDEXES_LOCK:
        idx = _INDEXES.get(cal)
        if idx is None:
            if len(_INDEXES) >= 256:
                _INDEXES.pop(next(iter(_INDEXES)))
            idx = _INDEXES[cal] = _Index(cal)
        return idx


class _Index:
    """The calendar's open intervals as UTC nanoseconds over whole local years, built on demand,
    with the working time before each: W(t), the working time from the first built instant to t,
    is then one bisection, and so are `between` (W(b) - W(a)) and `add` (W's inverse)."""

    def __init__(self, cal: Calendar):
        self.tz = cal.tz
        self.weekly = [[(_minute(a), _minute(b)) for a, b in spans] for spans in cal.hours]
        first_open = next(spans for spans in self.weekly if spans)
        self.workday = [(_minute(a), _minute(b)) for a, b in cal.workday_hours] or first_open
        self.holidays = np.array(sorted(cal.holidays), dtype="datetime64[D]")
        self.workdays = np.array(sorted(cal.workdays), dtype="datetime64[D]")
        self.blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.lock = threading.RLock()
        # (lo, hi, starts, ends, cum, cum_end): built instants [lo, hi); cum[i] working ns before interval i
        self.view = (0, 0, [], [], [], [])

    # -- queries (all instants in UTC ns) --

    def w(self, t: int, view) -> int:
        _, _, starts, ends, cum, _ = view
        i = bisect_right(starts, t) - 1
        if i < 0:
            return 0
        return cum[i] + min(t, ends[i]) - starts[i]

    def between(self, a: int, b: int) -> int:
        view = self.covering(a, b)
        return self.w(b, view) - self.w(a, view)

    def is_open(self, t: int) -> bool:
        _, _, starts, ends, _, _ = self.covering(t, t)
        i = bisect_right(starts, t) - 1
        return i >= 0 and t < ends[i]

    def add(self, a: int, s: int) -> int:
        view = self.covering(a, a)
        target = self.w(a, view) + s
        while not view[5] or view[5][-1] < target:
            lo_before = view[0]
            view = self.extended(view, s)
            target += self.w(lo_before, view)   # W is counted from the first built instant, which can move
        _, _, starts, _, cum, cum_end = view
        j = bisect_left(cum_end, target)
        return starts[j] + target - cum[j]

    # -- building --

    def covering(self, a: int, b: int):
        view = self.view
        if view[0] <= a and b < view[1]:
            return view
        years = [_local_year(a, self.tz), _local_year(b, self.tz)]
        return self.build(min(years), max(years))

    def extended(self, view, s: int):
        """The view grown forward by enough years for about `s` more working time."""
        with self.lock:
            first, last = min(self.blocks), max(self.blocks)
            if last >= _LAST_YEAR:
                raise InputError(f"the clock would run past {_LAST_YEAR}", source="calendar")
            per_year = max(1, sum(int((e - st).sum()) for st, e in self.blocks.values()) // len(self.blocks))
            return self.build(first, min(_LAST_YEAR, last + max(1, -(-s // per_year))))

    def build(self, first: int, last: int):
        with self.lock:
            have = self.blocks
            first, last = min([first] + list(have)), max([last] + list(have))
            for y in range(first, last + 1):
                if y not in have:
                    have[y] = self.year_block(y)
            starts = np.concatenate([have[y][0] for y in range(first, last + 1)])
            ends = np.concatenate([have[y][1] for y in range(first, last + 1)])
            length = ends - starts
            cum_end = np.cumsum(length)
            lo, hi = self.local_instants([f"{first}-01-01", f"{last + 1}-01-01"])
            self.view = (int(lo), int(hi), starts.tolist(), ends.tolist(), (cum_end - length).tolist(),
                         cum_end.tolist())
            return self.view

    def year_block(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """The open intervals of one local year, in UTC ns, sorted, none empty."""
        days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"), dtype="datetime64[D]")
        pattern = (days.astype(np.int64) + 3) % 7            # 1970-01-01 was a Thursday
        pattern[np.isin(days, self.workdays)] = 7
        pattern[np.isin(days, self.holidays)] = -1
        midnight = days.astype("datetime64[ns]").astype(np.int64)
        starts, ends = [], []
        for code, spans in enumerate(self.weekly + [self.workday]):
            on = midnight[pattern == code]
            for a, b in spans:
                starts.append(on + a * MINUTE_NS)
                ends.append(on + b * MINUTE_NS)
        if not starts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        starts, ends = np.concatenate(starts), np.concatenate(ends)
        order = np.argsort(starts, kind="stable")
        starts, ends = self.local_instants(starts[order]), self.local_instants(ends[order])
        keep = ends > starts                                   # a span wholly inside a DST gap is no time
        return starts[keep], ends[keep]

    def local_instants(self, wall) -> np.ndarray:
        """Local wall-clock times (naive, as ns or strings) as UTC ns: a skipped time is the jump,
        a time shown twice its first showing."""
        naive = pd.DatetimeIndex(np.asarray(wall, dtype="datetime64[ns]"))
        utc = naive.tz_localize(self.tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
        return utc.as_unit("ns").asi8


def _minute(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _local_year(t: int, tz: str) -> int:
    return pd.Timestamp(t, tz="UTC").tz_convert(tz).year
