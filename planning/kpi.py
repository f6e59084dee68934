"""Service KPIs of fault repair, by box, district, manager, community, office and month.

    kpis(tickets, lines, by="district", month="2026-10")

tickets: reported_at, first_contact_at, cleared_at (tz-aware; NaT while open), subscriber_id and
the grouping columns. lines: the number of lines per group value (a Series indexed by it), or
a frame with one row per line holding the grouping column.

Per group (and month):
- fault_rate: faults per 100 lines per month;
- repair_24h: share of tickets cleared within 24 hours of the report; a ticket still open more
  than 24 hours after it was reported, at the end of the month, counts as a miss;
- contact_20min: share first contacted within 20 minutes (no contact recorded counts as a miss);
- clear_mean_h, clear_p90_h: hours from report to clearing, over cleared tickets;
- repeat_share: share of tickets whose subscriber had another fault in the 30 days before;
- fault_rate_yoy: change of the fault rate against the same month a year earlier (NaN when
  there is no such month).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError

TZ = "Asia/Shanghai"
GROUPS = ("box_id", "district", "manager_id", "community_id", "office_id")


def _month(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.tz_convert(TZ).dt.tz_localize(None).dt.to_period("M")


def repeats(tickets: pd.DataFrame, days: int = 30) -> np.ndarray:
    """Whether each ticket's subscriber had another fault in the `days` before it."""
    t = pd.DataFrame({"s": tickets["subscriber_id"].to_numpy(),
                      "at": pd.to_datetime(tickets["reported_at"], utc=True).to_numpy()})
    t["i"] = np.arange(len(t))
    t = t[t["s"].notna()].sort_values(["s", "at"])
    gap = t["at"].diff()
    same = t["s"].eq(t["s"].shift())
    rep = same & (gap <= pd.Timedelta(days=days))
    out = np.zeros(len(tickets), bool)
    out[t["i"].to_numpy()[rep.to_numpy()]] = True
    return out


def kpis(tickets: pd.DataFrame, lines, by: str | list[str] = "district", month: str | None = None) -> pd.DataFrame:
    by = [by] if isinstance(by, str) else list(by)
    for c in by + ["reported_at", "first_contact_at", "cleared_at"]:
        if c not in tickets.columns:
            raise InputError(f"tickets have no {c!r} column (KPIs by {', '.join(by)})")
    t = tickets.copy()
    t["month"] = _month(t["reported_at"])
    t["repeat"] = repeats(t) if "subscriber_id" in t.columns else False
    rep = pd.to_datetime(t["reported_at"], utc=True)
    clear_h = (pd.to_datetime(t["cleared_at"], utc=True) - rep).dt.total_seconds() / 3600
    contact_min = (pd.to_datetime(t["first_contact_at"], utc=True) - rep).dt.total_seconds() / 60
    month_end = t["month"].dt.end_time.dt.tz_localize(TZ).dt.tz_convert("UTC")
    open_long = clear_h.isna() & ((month_end - rep) > pd.Timedelta(hours=24))
    t["cleared_24h"] = (clear_h <= 24).fillna(False)
    t["counted_24h"] = clear_h.notna() | open_long          # tickets whose 24 h verdict is known
    t["contact_20"] = (contact_min <= 20).fillna(False)
    t["clear_h"] = clear_h
    keys = by + ["month"]
    g = t.groupby(keys, observed=True, dropna=False)
    out = pd.DataFrame({
        "tickets": g.size(),
        "repair_24h": g["cleared_24h"].sum() / g["counted_24h"].sum().replace(0, np.nan),
        "contact_20min": g["contact_20"].mean(),
        "clear_mean_h": g["clear_h"].mean(),
        "clear_p90_h": g["clear_h"].quantile(0.9),
        "repeat_share": g["repeat"].mean(),
    }).reset_index()
    # Lines per group: a Series by group value, or counted from a frame of lines.
    if isinstance(lines, pd.DataFrame):
        missing = [c for c in by if c not in lines.columns]
        if missing:
            raise InputError(f"lines have no {missing[0]!r} column")
        n_lines = lines.groupby(by, dropna=False).size().rename("lines")
    else:
        n_lines = pd.Series(lines, name="lines")
        n_lines.index.names = by
    out = out.merge(n_lines.reset_index(), on=by, how="left")
    out["fault_rate"] = 100 * out["tickets"] / out["lines"].replace(0, np.nan)
    prev = out[keys + ["fault_rate"]].copy()
    prev["month"] = prev["month"] + 12
    out = out.merge(prev.rename(columns={"fault_rate": "rate_year_before"}), on=keys, how="left")
    out["fault_rate_yoy"] = out["fault_rate"] / out["rate_year_before"] - 1
    out = out.drop(columns="rate_year_before")
    if month is not None:
        m = pd.Period(month, "M")
        if not (out["month"] == m).any():
            raise InputError(f"no tickets in {m}: the data covers {out['month'].min()} to {out['month'].max()}")
        out = out[out["month"] == m]
    cols = by + ["month", "lines", "tickets", "fault_rate", "repair_24h", "contact_20min", "clear_mean_h",
                 "clear_p90_h", "repeat_share", "fault_rate_yoy"]
    return out[cols].sort_values(by + ["month"]).reset_index(drop=True)
