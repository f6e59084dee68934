"""The call centre's other work in the demo: complaints, installs, moves and enquiries beside the
faults, over the same two years, so a manager's scorecard has every kind of ticket in it.

    tickets = other_work(subscribers, start, end, city_id, seed)

subscribers: id, connected_since (a local day), monthly_revenue, lon, lat. Every subscriber
connected inside the window had an install ticket: reported the day before, contacted within
minutes and done within about a day (one in ten takes longer than the 24-hour clock). Complaints
come at 3 per 1,000 lines a month in the operator's categories, one in eight a repeat of the
same subscriber's within 30 days (what complaint analysis looks for); moves at 0.5 and enquiries,
answered on the first call, at 2 per 1,000. Times are UTC; a ticket whose steps fall after the
window's end is still open at its end. The rows come without a log, as faults from a file do:
the loader steps them through the loop (api.services.tickets.adopt).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .spec import TIMEZONE

# Per line and month.
COMPLAINT_RATE, MOVE_RATE, ENQUIRY_RATE = 0.003, 0.0005, 0.002
REPEAT_SHARE = 0.125
CATEGORIES = np.array(["network", "billing", "service_quality", "installation", "other"])
CATEGORY_P = np.array([0.35, 0.25, 0.2, 0.1, 0.1])
NOTES = {"network": "broadband slow in the evening", "billing": "charge on the bill not understood",
         "service_quality": "the visit came late", "installation": "install date not kept",
         "other": "asks for a call back", "install": "new broadband line", "move": "moving the line to a new flat",
         "enquiry": "asks about packages"}
VIP_REVENUE = 300.0          # the faults' rule: a subscriber paying more than this is a VIP
MIN = pd.Timedelta(minutes=1)


def _office_hours(rng, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """An instant in the local working day (08:00-20:00) of each local day, in UTC."""
    local = days + pd.to_timedelta(8 * 60 + rng.integers(0, 12 * 60, len(days)), unit="min")
    return local.tz_localize(TIMEZONE).tz_convert("UTC")


def _frame(kind, subs, reported, contact, cleared, category=None) -> pd.DataFrame:
    return pd.DataFrame({"subscriber_id": subs["id"].to_numpy(), "kind": kind,
                         "category": category if category is not None else None,
                         "vip": subs["monthly_revenue"].to_numpy(float) > VIP_REVENUE,
                         "reported_at": reported, "first_contact_at": contact, "cleared_at": cleared,
                         "lon": subs["lon"].to_numpy(), "lat": subs["lat"].to_numpy()})


def _installs(rng, subs: pd.DataFrame, start, end) -> pd.DataFrame:
    since = pd.to_datetime(subs["connected_since"])
    new = subs[(since >= start.tz_localize(None).normalize()) & (since < end.tz_localize(None).normalize())]
    day = pd.DatetimeIndex(pd.to_datetime(new["connected_since"])) - pd.Timedelta(days=1)
    reported = _office_hours(rng, day)
    contact = reported + rng.exponential(8, len(new)) * MIN
    # Done within about a day; one in ten waits longer (no free port, the subscriber away).
    hours = np.where(rng.random(len(new)) < 0.1, rng.uniform(25, 72, len(new)), rng.gamma(4, 4, len(new)).clip(1, 23.5))
    return _frame("install", new, reported, contact, contact + hours * 60 * MIN)


def _by_rate(rng, subs: pd.DataFrame, rate: float, start, end) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Tickets at `rate` per line and month, each on a subscriber connected by then."""
    months = (end - start) / pd.Timedelta(days=30.44)
    n = rng.poisson(rate * len(subs) * months)
    pick = subs.iloc[rng.integers(0, len(subs), n)]
    since = pd.to_datetime(pick["connected_since"]).dt.tz_localize(TIMEZONE).dt.tz_convert("UTC").fillna(start)
    first = since.clip(lower=start)
    span = (end - first).dt.total_seconds().clip(lower=0).to_numpy()
    at = pd.DatetimeIndex(first + pd.to_timedelta(rng.random(n) * span, unit="s"))
    local = at.tz_convert(TIMEZONE).tz_localize(None).normalize()
    return pick, _office_hours(rng, local)


def _complaints(rng, subs, start, end) -> pd.DataFrame:
    pick, reported = _by_rate(rng, subs, COMPLAINT_RATE, start, end)
    cat = rng.choice(CATEGORIES, len(pick), p=CATEGORY_P)
    # Repeats: the same subscriber about the same thing again within 30 days.
    again = rng.random(len(pick)) < REPEAT_SHARE
    first = pick[again]
    later = reported[again] + pd.to_timedelta(rng.uniform(1, 29, again.sum()), unit="D")
    pick = pd.concat([pick, first])
    reported = reported.append(later)
    cat = np.concatenate([cat, cat[again]])
    vip = pick["monthly_revenue"].to_numpy(float) > VIP_REVENUE
    contact = reported + rng.exponential(10, len(pick)) * MIN
    # A VIP's complaint is cleared within its 3 hours mostly; the others within the day.
    hours = np.where(vip, rng.gamma(2, 0.8, len(pick)), rng.gamma(2, 5, len(pick)))
    return _frame("complaint", pick, reported, contact, contact + hours * 60 * MIN, cat)


def _moves(rng, subs, start, end) -> pd.DataFrame:
    pick, reported = _by_rate(rng, subs, MOVE_RATE, start, end)
    contact = reported + rng.exponential(12, len(pick)) * MIN
    return _frame("move", pick, reported, contact, contact + rng.uniform(3, 40, len(pick)) * 60 * MIN)


def _enquiries(rng, subs, start, end) -> pd.DataFrame:
    pick, reported = _by_rate(rng, subs, ENQUIRY_RATE, start, end)
    done = reported + rng.exponential(4, len(pick)) * MIN     # answered on the first call back
    return _frame("enquiry", pick, reported, done, done)


def other_work(subscribers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, city_id: str,
               seed: int) -> pd.DataFrame:
    """The tickets (see the module's doc), ordered by report, with ids `<city>-W-0000001`."""
    rng = np.random.default_rng([seed, 1414])
    parts = [f(rng, subscribers, start, end) for f in (_installs, _complaints, _moves, _enquiries)]
    t = pd.concat(parts, ignore_index=True)
    t = t[(t["reported_at"] >= start) & (t["reported_at"] < end)]
    t = t.sort_values("reported_at", kind="stable").reset_index(drop=True)
    # Whole seconds: the report down, the steps up, so no step comes before the report.
    t["reported_at"] = t["reported_at"].dt.floor("s")
    for c in ("first_contact_at", "cleared_at"):          # after the window's end: not yet done
        t[c] = t[c].dt.ceil("s")
        t[c] = t[c].where(t[c] < end)
    t["cleared_at"] = t["cleared_at"].where(t["first_contact_at"].notna())
    t["note"] = [NOTES[c if isinstance(c, str) else k] for c, k in zip(t["category"], t["kind"])]
    t.insert(0, "id", [f"{city_id}-W-{i:07d}" for i in range(1, len(t) + 1)])
    t.insert(1, "city_id", city_id)
    return t
