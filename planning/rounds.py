"""Which boxes a manager inspects on a day: every cross-connect box and distribution box of his
districts at least every `cycle_days` (default 30), those with recent faults, a high
utilisation or a high fault risk sooner (every `cycle_days // 3`).

    due = due_on(objects, day, since=programme_start)

objects: one row per box or distribution box with `id`, `last_inspected` (a local day, NaT if
never), `recent_faults` (faults in the last 30 days) and `utilisation` (used / capacity); and,
optionally, `risk_rank` (the box's rank by expected faults, planning.risk: 1 the riskiest) and
`risk_of` (the boxes ranked): a box in the riskiest `RISKY` share is inspected sooner too.
A box never inspected comes due once in the first cycle after the programme began (`since`),
on a day fixed by its id, so a district's first cycle is spread over its days and does not fall
on day one. Returns the objects due on or before `day`, most overdue first, with the interval
that applies and its reason in words.
"""
from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd

from gis.errors import InputError

CYCLE_DAYS = 30
BUSY = 0.85          # utilisation from which a box is inspected sooner (as the expansion alerts)
SOONER = 3           # the sooner cycle is this many times shorter
RISKY = 0.1          # the riskiest tenth of a city's boxes (by expected faults) are inspected sooner


def _phase(ids: pd.Series, n: np.ndarray) -> np.ndarray:
    # crc32 of the id: the same day for the same box in every process and on every machine.
    h = np.fromiter((zlib.crc32(str(i).encode()) for i in ids), dtype=np.int64, count=len(ids))
    return h % n


def due_on(objects: pd.DataFrame, day: dt.date, *, since: dt.date | None = None, cycle_days: int = CYCLE_DAYS,
           busy: float = BUSY) -> pd.DataFrame:
    if not isinstance(cycle_days, int) or isinstance(cycle_days, bool) or not 3 <= cycle_days <= 365:
        raise InputError(f"cycle_days {cycle_days!r} is not a whole number of days from 3 to 365")
    if not 0 < busy <= 1:
        raise InputError(f"busy {busy!r} is not a utilisation above 0 and at most 1")
    missing = [c for c in ("id", "last_inspected", "recent_faults", "utilisation") if c not in objects.columns]
    if missing:
        raise InputError(f"the boxes lack the column(s) {', '.join(missing)}")
    since = since or day
    o = objects.copy()
    faults = o["recent_faults"].fillna(0).to_numpy(int)
    util = o["utilisation"].fillna(0).to_numpy(float)
    rank = o["risk_rank"].to_numpy(float) if "risk_rank" in o.columns else np.full(len(o), np.nan)
    of = o["risk_of"].to_numpy(float) if "risk_of" in o.columns else np.full(len(o), np.nan)
    risky = np.nan_to_num(rank, nan=np.inf) <= np.nan_to_num(RISKY * of, nan=0.0)
    sooner = (faults > 0) | (util >= busy) | risky
    interval = np.where(sooner, max(1, cycle_days // SOONER), cycle_days)
    last = pd.to_datetime(o["last_inspected"])
    first = pd.Timestamp(since) + pd.to_timedelta(_phase(o["id"], interval), unit="D")
    due = (last + pd.to_timedelta(interval, unit="D")).where(last.notna(), first)
    o["interval_days"] = interval
    o["due_on"] = due.dt.date
    o["overdue_days"] = (pd.Timestamp(day) - due).dt.days
    why = np.where(faults > 0, [f"{f} fault{'s' if f != 1 else ''} in 30 days" for f in faults],
                   np.where(util >= busy, [f"{u:.0%} used" for u in util],
                            np.where(risky, [f"fault risk rank {r:.0f} of {n:.0f}" for r, n in zip(rank, of)], "")))
    o["reason"] = [
        (f"{w}: every {i} days" if w else f"every {i} days")
        + (f", last {pd.Timestamp(l).date()}" if pd.notna(l) else ", never inspected")
        + (f", {d} days overdue" if d > 0 else "")
        for w, i, l, d in zip(why, interval, last, o["overdue_days"])]
    today = o[o["overdue_days"] >= 0]
    return today.sort_values(["overdue_days", "id"], ascending=[False, True]).reset_index(drop=True)
