"""A month's scorecard per manager (and per community department and office region): what the
operators assessed and paid by.

    card = scorecard(tickets, inspections, subscribers, rates, by="manager")

tickets: the month's tickets (reported in it) with `id`, `kind`, `vip`, `status`, the group
columns (`manager_id`: who handled it, `community_id`, `office_id`), `subscriber_id`,
`reported_at`, `first_contact_at`, `cleared_at`, `contact_due`, `clear_due`, `contact_breached_at`,
`clear_breached_at` (their clocks, from the log: planning.workorders.clocks), `satisfaction` and the call-back's `checks` (a dict, or None);
and `earlier`: the faults of the 30 days before the month (for repeats), same columns.
inspections: the month's inspections (`manager_id` and the groups, `result`) and `due` per group
(a Series: each box and distribution box at least once a month).
subscribers: the subscribers connected in the month, with the groups and `monthly_revenue`.
rates: points per piece of work ({kind: points, "inspection": points, "vip": bonus}).

Per group:
- tickets, and tickets by kind;
- contact_on_time: share of tickets contacted before the contact clock ran out (20 minutes
  unless the kind's policy says otherwise; pauses and working hours as the clock counts them),
  among those whose verdict is known at `until` (the month's end, or now);
- clear_on_time: the same for the clearing clock (24 hours, a VIP's 3): a ticket still open
  when it ran out is a miss. Both by planning.workorders.clocks.verdicts, as the fault KPIs;
- repeat_share: share of faults whose subscriber had another fault in the 30 days before
  (planning.kpi.repeats, the fault KPIs' own rule);
- satisfaction: mean of the call-backs that reached the subscriber, and each check's yes share;
- inspections done and due;
- installs done (install tickets cleared);
- new_revenue: monthly revenue of the subscribers connected in the month;
- points: the piece-rate points of the work cleared and the inspections done.
A ticket counts for the manager who handled it (held it when it was cleared, or holds it now).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from planning.kpi import repeats, ticket_clocks
from planning.workorders.clocks import verdicts
from planning.workorders.lifecycle import CHECKS, KINDS

GROUPS = ("manager_id", "community_id", "office_id")


def scorecard(tickets: pd.DataFrame, earlier: pd.DataFrame, inspections: pd.DataFrame, due: pd.Series,
              subscribers: pd.DataFrame, rates: dict, by: str = "manager_id", until=None) -> pd.DataFrame:
    if by not in GROUPS:
        raise ValueError(f"by {by!r} is not one of {', '.join(GROUPS)}")
    t = tickets.copy()
    t["cleared"] = t["status"].isin(["cleared", "verified"])
    until = pd.Timestamp.now(tz="UTC") if until is None else until
    clocks = ticket_clocks(t)
    for name, stop in (("contact", "first_contact_at"), ("clear", "cleared_at")):
        known, kept = verdicts(t[stop], clocks[f"{name}_due"], clocks[f"{name}_breached_at"], until)
        t[f"{name}_known"], t[f"{name}_ok"] = known.astype(float), kept.astype(float)
    faults = pd.concat([earlier.assign(_here=False), t.assign(_here=True)], ignore_index=True)
    faults = faults[faults["kind"] == "fault"]
    rep = pd.Series(repeats(faults), index=faults.index)[faults["_here"].to_numpy()]
    t["repeat"] = np.nan
    t.loc[t["kind"] == "fault", "repeat"] = rep.to_numpy().astype(float)
    t["points"] = np.where(t["cleared"], t["kind"].map(rates).fillna(0.0) + np.where(t["vip"], rates.get("vip", 0.0), 0),
                           0.0)
    reached = t["satisfaction"].notna()
    for c in CHECKS:
        t[f"check_{c}"] = [None if not isinstance(x, dict) or c not in x else float(bool(x[c])) for x in t["checks"]]
    for k in KINDS:
        t[f"tickets_{k}"] = (t["kind"] == k).astype(int)
    t["installs_done"] = ((t["kind"] == "install") & t["cleared"]).astype(int)
    g = t.groupby(by, dropna=False)
    # Plain column sums and means: they hold for a month with no tickets too.
    out = pd.DataFrame({
        "tickets": g.size(),
        **{f"tickets_{k}": g[f"tickets_{k}"].sum() for k in KINDS},
        "contact_on_time": g["contact_ok"].sum() / g["contact_known"].sum().replace(0, np.nan),
        "clear_on_time": g["clear_ok"].sum() / g["clear_known"].sum().replace(0, np.nan),
        "repeat_share": g["repeat"].mean(),
        "callbacks": t[reached].groupby(by, dropna=False).size(),
        "satisfaction": t[reached].groupby(by, dropna=False)["satisfaction"].mean(),
        **{f"check_{c}": g[f"check_{c}"].mean() for c in CHECKS},
        "installs_done": g["installs_done"].sum(),
        "ticket_points": g["points"].sum(),
    })
    done = inspections.groupby(by, dropna=False).size() if len(inspections) else pd.Series(dtype=float)
    out = out.reindex(out.index.union(done.index).union(due.index))
    out["inspections_done"] = done.reindex(out.index).fillna(0).astype(int)
    out["inspections_due"] = due.reindex(out.index).fillna(0).astype(int)
    rev = subscribers.groupby(by, dropna=False)["monthly_revenue"].sum() if len(subscribers) else pd.Series(dtype=float)
    out["new_subscribers"] = (subscribers.groupby(by, dropna=False).size() if len(subscribers) else pd.Series(dtype=int)
                              ).reindex(out.index).fillna(0).astype(int)
    out["new_revenue"] = rev.reindex(out.index).fillna(0.0).round(2)
    for c in ["tickets", "callbacks", "installs_done", *[f"tickets_{k}" for k in KINDS]]:
        out[c] = out[c].fillna(0).astype(int)
    out["ticket_points"] = out["ticket_points"].fillna(0.0)
    out["points"] = (out["ticket_points"] + out["inspections_done"] * rates.get("inspection", 0.0)).round(2)
    out.index.name = by
    return out.reset_index().sort_values(by, na_position="last").reset_index(drop=True)
