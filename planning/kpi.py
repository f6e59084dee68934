"""Service KPIs of fault repair, by box, district, manager, community, office and month.

    kpis(tickets, lines, by="district", month="2026-10", tz="Asia/Shanghai")

tickets: reported_at, first_contact_at, cleared_at (tz-aware; NaT while open), subscriber_id and
the grouping columns. lines: the number of lines per group value (a Series indexed by it), or
a frame with one row per line holding the grouping column and, optionally, `connected_since`
(a local day): then the lines of a month are those connected by its end. A frame may also
have a `lines` column: the number of lines the row stands for (the store can count them per
group and connection month instead of sending every line).

Months are the city's local months (`tz`, an IANA name): a fault reported at 07:00 on the 1st
in Changsha counts in that month, although it is still the month before in UTC.

Per group (and month):
- fault_rate: faults per 100 lines per month;
- repair_24h: share of tickets cleared before their clearing clock ran out (24 hours, a VIP's 3,
  or what the kind's policy says), among those whose verdict is known at the end of the (local)
  month: a ticket still open when its clock ran out counts as a miss;
- contact_20min: the same for the contact clock (20 minutes);
- clear_mean_h, clear_p90_h: hours from report to clearing, over cleared tickets;
- repeat_share: share of tickets whose subscriber had another fault in the 30 days before;
- fault_rate_yoy: change of the fault rate against the same month a year earlier (NaN when
  there is no such month).
The table ends with the city's own rows (group value TOTAL): every ticket over every line, not
a sum or mean of the groups' rates.

"On time" is the tickets' clocks (planning.workorders.clocks.verdicts, the rule the scorecards
count by too): tickets from the store carry theirs (contact_due, clear_due, contact_breached_at,
clear_breached_at, replayed from each ticket's log with its pauses and working hours); tickets
without a log (a file of faults, or `steps` 0) get the standard clocks, never paused.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError
from planning.workorders.clocks import uninterrupted, verdicts

GROUPS = ("box_id", "district", "manager_id", "community_id", "office_id")
TOTAL = "(city)"
COLUMNS = ["month", "lines", "tickets", "fault_rate", "repair_24h", "contact_20min", "clear_mean_h",
           "clear_p90_h", "repeat_share", "fault_rate_yoy"]
# The standard clocks, for tickets without a log of their own (the operators' 20 minutes to
# call, 24 hours to clear, 3 for a VIP: DOMAIN.md; the store's seeded policies say the same).
CONTACT_S, CLEAR_S, VIP_CLEAR_S = 20 * 60, 24 * 3600, 3 * 3600
CLOCK_COLUMNS = ("contact_due", "clear_due", "contact_breached_at", "clear_breached_at")


def month_of(month) -> pd.Period:
    """A month 'YYYY-MM' (or a Period) as a monthly Period; anything else is an InputError."""
    if isinstance(month, pd.Period):
        return month.asfreq("M")
    s = str(month).strip()
    if len(s) != 7 or s[4] != "-" or not (s[:4] + s[5:]).isdigit() or not 1 <= int(s[5:]) <= 12:
        raise InputError(f"month {month!r} is not a month: expected YYYY-MM, e.g. 2026-10")
    return pd.Period(s, "M")


def local_months(ts: pd.Series, tz: str) -> pd.Series:
    """The local month (in `tz`) of each instant."""
    return pd.to_datetime(ts, utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.to_period("M")


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


def ticket_clocks(t: pd.DataFrame, now=None) -> pd.DataFrame:
    """Each ticket's contact and clear clocks (CLOCK_COLUMNS): the store's where the ticket has a
    log, the standard clocks, never paused, where it has none."""
    none = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns, UTC]")
    out = pd.DataFrame({c: pd.to_datetime(t[c], utc=True) if c in t.columns else none for c in CLOCK_COLUMNS})
    if "steps" in t.columns:
        bare = t["steps"].fillna(0).to_numpy() == 0
    else:
        bare = ~(out["contact_due"].notna() | out["clear_due"].notna()).to_numpy()
    if bare.any():
        vip = t["vip"].fillna(False).astype(bool).to_numpy() if "vip" in t.columns else np.zeros(len(t), bool)
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        for name, stop, target in (("contact", "first_contact_at", np.full(len(t), CONTACT_S)),
                                   ("clear", "cleared_at", np.where(vip, VIP_CLEAR_S, CLEAR_S))):
            due, breached = uninterrupted(t["reported_at"], t[stop], target, now)
            out[f"{name}_due"] = out[f"{name}_due"].where(~bare, due)
            out[f"{name}_breached_at"] = out[f"{name}_breached_at"].where(~bare, breached)
    return out


def _ticket_stats(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = t.groupby(keys, observed=True, dropna=False)
    return pd.DataFrame({
        "tickets": g.size(),
        "repair_24h": g["clear_kept"].sum() / g["clear_known"].sum().replace(0, np.nan),
        "contact_20min": g["contact_kept"].sum() / g["contact_known"].sum().replace(0, np.nan),
        "clear_mean_h": g["clear_h"].mean(),
        "clear_p90_h": g["clear_h"].quantile(0.9),
        "repeat_share": g["repeat"].mean(),
    }).reset_index()


def _lines_by_month(lines, by: list[str], months: pd.PeriodIndex) -> pd.DataFrame:
    """Lines per group and month: with connected_since, those connected by the month's end."""
    if not isinstance(lines, pd.DataFrame):
        n = pd.Series(lines, name="lines")
        n.index.names = by
        per = n.reset_index()
        return per.merge(pd.DataFrame({"month": months}), how="cross")
    missing = [c for c in by if c not in lines.columns]
    if missing:
        raise InputError(f"lines have no {missing[0]!r} column")
    weight = lines["lines"].to_numpy(float) if "lines" in lines.columns else np.ones(len(lines))
    if "connected_since" not in lines.columns:
        per = lines[by].assign(_w=weight).groupby(by, dropna=False)["_w"].sum().rename("lines").reset_index()
        return per.merge(pd.DataFrame({"month": months}), how="cross")
    first, last = months.min(), months.max()
    since = pd.to_datetime(lines["connected_since"])
    # Months as integers from the first one. A line without a connection day has been there all
    # along; one connected before the first month counts from it; one after the last, in none.
    col = (since.dt.year * 12 + since.dt.month - (first.year * 12 + first.month)).fillna(0).clip(lower=0)
    col = col.to_numpy(int)
    span = (last - first).n + 1
    keep = col < span
    key = lines.loc[keep, by].copy()
    key["_m"] = col[keep]
    key["_w"] = weight[keep]
    counts = key.groupby(by + ["_m"], dropna=False)["_w"].sum().unstack("_m", fill_value=0)
    counts = counts.reindex(columns=range(span), fill_value=0).cumsum(axis=1)
    want = np.array([(m - first).n for m in months])
    arr = counts.to_numpy()[:, want]
    per = counts.index.to_frame(index=False)
    out = per.loc[per.index.repeat(len(months))].reset_index(drop=True)
    out["month"] = np.tile(np.asarray(months), len(per))
    out["lines"] = arr.ravel()
    return out


def _groups(lines, by: list[str]) -> pd.DataFrame:
    """The group values the lines name (every district, even one without a fault)."""
    if isinstance(lines, pd.DataFrame):
        return lines[by].drop_duplicates()
    groups = pd.Series(lines).index.to_frame(index=False)
    groups.columns = by
    return groups


def _table(t: pd.DataFrame, lines, by: list[str], every: pd.Period | None = None) -> pd.DataFrame:
    keys = by + ["month"]
    out = _ticket_stats(t, keys)
    if every is not None:   # every group in month `every`: no fault there is 0 faults, not no row
        grid = _groups(lines, by).merge(pd.DataFrame({"month": pd.PeriodIndex([every], freq="M")}), how="cross")
        out = pd.concat([out, grid.merge(out[keys], on=keys, how="left", indicator=True)
                         .query("_merge == 'left_only'").drop(columns="_merge")], ignore_index=True)
        out["tickets"] = out["tickets"].fillna(0).astype(int)
    months = pd.PeriodIndex(sorted(out["month"].unique()), freq="M")
    n_lines = _lines_by_month(lines, by, months)
    out = out.merge(n_lines, on=keys, how="left")
    out["fault_rate"] = 100 * out["tickets"] / out["lines"].replace(0, np.nan)
    prev = out[keys + ["fault_rate"]].copy()
    prev["month"] = prev["month"] + 12
    out = out.merge(prev.rename(columns={"fault_rate": "rate_year_before"}), on=keys, how="left")
    out["fault_rate_yoy"] = out["fault_rate"] / out["rate_year_before"] - 1
    return out[by + COLUMNS].sort_values(keys).reset_index(drop=True)


def _as_total(lines, by: list[str]):
    """The lines with every group value replaced by TOTAL: the city as one group."""
    if isinstance(lines, pd.DataFrame):
        return lines.assign(**{c: TOTAL for c in by})
    total = float(pd.Series(lines).sum())
    index = pd.MultiIndex.from_tuples([(TOTAL,) * len(by)], names=by) if len(by) > 1 else pd.Index([TOTAL])
    return pd.Series([total], index=index)


def kpis(tickets: pd.DataFrame, lines, by: str | list[str] = "district", month: str | None = None, *,
         tz: str = "UTC", total: bool = True, every_group: bool = False) -> pd.DataFrame:
    """The KPI table (see the module's doc). `every_group` (with a `month`): one row for every
    group the lines name, a group without a fault that month included (0 tickets, a fault rate
    of 0, the shares null), and no error for a month without tickets."""
    by = [by] if isinstance(by, str) else list(by)
    for c in by + ["reported_at", "first_contact_at", "cleared_at"]:
        if c not in tickets.columns:
            raise InputError(f"tickets have no {c!r} column (KPIs by {', '.join(by)})")
    m = month_of(month) if month is not None else None
    t = tickets.copy()
    t["month"] = local_months(t["reported_at"], tz)
    every = m if every_group and m is not None else None
    if m is not None and every is None and not (t["month"] == m).any():
        if len(t) == 0:
            raise InputError(f"no tickets in {m}: there are no tickets at all")
        raise InputError(f"no tickets in {m}: the data covers {t['month'].min()} to {t['month'].max()}")
    t["repeat"] = repeats(t) if "subscriber_id" in t.columns else False
    rep = pd.to_datetime(t["reported_at"], utc=True)
    t["clear_h"] = (pd.to_datetime(t["cleared_at"], utc=True) - rep).dt.total_seconds() / 3600
    # The month ends at local midnight after its last day: the instant a still-open ticket is judged at.
    month_end = (t["month"] + 1).dt.start_time.dt.tz_localize(
        tz, ambiguous=np.zeros(len(t), bool), nonexistent="shift_forward").dt.tz_convert("UTC")
    clocks = ticket_clocks(t)
    for name, stop in (("contact", "first_contact_at"), ("clear", "cleared_at")):
        t[f"{name}_known"], t[f"{name}_kept"] = verdicts(t[stop], clocks[f"{name}_due"],
                                                         clocks[f"{name}_breached_at"], month_end)
    out = _table(t, lines, by, every)
    if total:
        city = _table(t.assign(**{c: TOTAL for c in by}), _as_total(lines, by), by, every)
        out = pd.concat([out, city], ignore_index=True)
    if m is not None:
        out = out[out["month"] == m].reset_index(drop=True)
    return out
