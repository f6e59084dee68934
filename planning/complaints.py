"""Complaint analysis: repeat complaints and their share by category, box and district in a
month, and the recurring problems behind them (the same category on the same box again), so a
cause that keeps coming back is seen as one problem, not as many tickets.

    res = analysis(complaints, month, tz)

complaints: every complaint from 30 days before the month to its end, with `id`, `category`,
`subscriber_id`, `box_id`, `district_id` and `reported_at` (tz-aware). A complaint is a repeat
when the same subscriber complained in the same category in the 30 days before it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from planning.kpi import local_months

REPEAT_DAYS = 30


def repeats(c: pd.DataFrame, days: int = REPEAT_DAYS) -> np.ndarray:
    """Whether each complaint's subscriber complained in the same category in the `days` before."""
    t = pd.DataFrame({"s": c["subscriber_id"].to_numpy(), "k": c["category"].to_numpy(),
                      "at": pd.to_datetime(c["reported_at"], utc=True).to_numpy(), "i": np.arange(len(c))})
    t = t[t["s"].notna()].sort_values(["s", "k", "at"])
    same = (t["s"].eq(t["s"].shift()) & t["k"].eq(t["k"].shift())).to_numpy()
    close = (t["at"].diff() <= pd.Timedelta(days=days)).to_numpy()
    out = np.zeros(len(c), bool)
    out[t["i"].to_numpy()[same & close]] = True
    return out


def _table(m: pd.DataFrame, key: str, total: int) -> list[dict]:
    g = m.groupby(key, dropna=False)
    df = pd.DataFrame({"complaints": g.size(), "repeats": g["repeat"].sum()})
    df["repeat_share"] = (df["repeats"] / df["complaints"]).round(4)
    df["share_of_all"] = (df["complaints"] / max(total, 1)).round(4)
    df = df.reset_index().sort_values(["complaints", key], ascending=[False, True])
    return df.to_dict("records")


def analysis(complaints: pd.DataFrame, month: pd.Period, tz: str) -> dict:
    c = complaints.reset_index(drop=True)
    c["repeat"] = repeats(c)
    m = c[(local_months(c["reported_at"], tz) == month).to_numpy()] if len(c) else c
    total = len(m)
    problems = m.groupby(["box_id", "category"], dropna=False).agg(
        complaints=("id", "size"), subscribers=("subscriber_id", "nunique"), first=("reported_at", "min"),
        last=("reported_at", "max"), district_id=("district_id", "first"), tickets=("id", list)).reset_index()
    problems = problems[problems["complaints"] >= 2].sort_values(["complaints", "box_id"], ascending=[False, True])
    return {"month": str(month), "complaints": total, "repeats": int(m["repeat"].sum()) if total else 0,
            "repeat_share": round(float(m["repeat"].mean()), 4) if total else None,
            "by_category": _table(m, "category", total), "by_box": _table(m, "box_id", total)[:100],
            "by_district": _table(m, "district_id", total),
            "recurring_problems": problems.head(100).to_dict("records")}
