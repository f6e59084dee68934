"""24 months of fault tickets: rates that depend on cable age, kind and placement, a weekly
rhythm, storm-day bursts on aerial plant, planted hotspots around ageing boxes (steady,
worsening, fading), and realistic response and clearing times."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .people import People
from .plant import Plant
from .spec import TIMEZONE, WINDOW, Size

TARGET_RATE = 0.015          # faults per line per month, city-wide, before hotspots and storms
WEEKDAY = np.array([1.25, 1.1, 1.0, 1.0, 1.05, 0.8, 0.7])   # Monday first: weekend calls wait
HOURS = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.6, 1.5, 3, 6, 8, 8, 7, 5, 5, 7, 7, 6.5, 6, 6, 6.5, 6, 4, 2.5, 1.5])
CAUSES = np.array(["drop", "cable", "distribution_point", "box", "customer_equipment", "third_party", "other"])
CAUSE_P = np.array([0.36, 0.18, 0.10, 0.06, 0.18, 0.06, 0.06])
PATTERNS = ("steady", "worsening", "fading")


def hotspot_boxes(rng, size: Size, people: People) -> list[dict]:
    """Ageing boxes in the town, far enough apart that their hotspots do not touch."""
    r = np.hypot(people.box_xy[:, 0], people.box_xy[:, 1])
    # Not in the densest core: a hotspot of tens of thousands of lines would be a district's
    # whole network, not a failing box.
    around = cKDTree(people.sub_xy).query_ball_point(people.box_xy, size.hotspot_radius, return_length=True)
    # ...nor so sparse that a few tickets a month are all there is to find.
    ok = (r < 0.8 * size.town_radius) & (people.box_used > 150) & (around < 4000)
    cand = np.flatnonzero(ok & (around >= 300))
    cand = cand[np.argsort(people.box_year[cand] + rng.random(len(cand)))]
    rest = np.flatnonzero(ok & (around < 300))
    cand = np.r_[cand, rest[np.argsort(people.box_year[rest] + rng.random(len(rest)))]]
    chosen: list[int] = []
    min_gap = 4 * size.hotspot_radius
    for c in cand:
        if all(np.hypot(*(people.box_xy[c] - people.box_xy[o])) > min_gap for o in chosen):
            chosen.append(int(c))
        if len(chosen) == 3 * size.hotspots_per_pattern:
            break
    return [{"box": b, "pattern": PATTERNS[i % 3]} for i, b in enumerate(chosen)]


def multiplier(pattern: str, month: np.ndarray, months: int) -> np.ndarray:
    t = month / (months - 1)
    if pattern == "steady":
        return np.full_like(t, 4.5)
    if pattern == "worsening":
        return 1.0 + 6.0 * t ** 1.6
    return 1.0 + 6.0 * (1 - t) ** 1.6  # fading


def tickets(rng: np.random.Generator, size: Size, people: People, plant: Plant, hot: list[dict]):
    n = len(people.sub_xy)
    months = pd.period_range(WINDOW[0], WINDOW[1], freq="M")
    age = np.maximum(0, 2026 - plant.drop_year)
    base = (1 + age / 12.0) * np.where(plant.drop_aerial, 1.6, 1.0) * np.where(plant.drop_fibre, 0.8, 1.15)
    base *= TARGET_RATE / base.mean()

    # Per-subscriber hotspot membership: within the radius of a planted box.
    tree = cKDTree(people.sub_xy)
    member = np.full(n, -1)
    for h_i, h in enumerate(hot):
        idx = tree.query_ball_point(people.box_xy[h["box"]], size.hotspot_radius)
        member[np.asarray(idx, dtype=np.int64)] = h_i
        h["subscribers"] = len(idx)

    subs, when = [], []
    start = pd.Timestamp(WINDOW[0])
    for m, period in enumerate(months):
        lam = base.copy()
        for h_i, h in enumerate(hot):
            lam[member == h_i] *= multiplier(h["pattern"], np.array([m], float), len(months))[0]
        k = rng.poisson(lam)
        s = np.repeat(np.arange(n), k)
        days = period.days_in_month
        first = period.start_time
        wd = WEEKDAY[(first.day_of_week + np.arange(days)) % 7]
        day = rng.choice(days, size=len(s), p=wd / wd.sum())
        subs.append(s)
        when.append((first - start).days + day)

    # Storm days: bursts on aerial drops in one half of the city.
    n_days = (pd.Timestamp(WINDOW[1]) - start).days + 1
    storm_days = np.sort(rng.choice(np.arange(30, n_days - 5), size=size.storm_days, replace=False))
    storm_list = []
    for d in storm_days:
        ang = rng.uniform(0, 2 * np.pi)
        side = (people.sub_xy @ np.array([np.cos(ang), np.sin(ang)])) > 0
        p = np.where(plant.drop_aerial & side, 0.012, 0.001)
        s = np.flatnonzero(rng.random(n) < p)
        subs.append(s)
        when.append(np.full(len(s), d))
        storm_list.append({"date": str((start + pd.Timedelta(days=int(d))).date()), "tickets": int(len(s))})
    storm_mark = np.concatenate([np.zeros(sum(len(x) for x in subs[:len(months)]), bool),
                                 np.ones(sum(len(x) for x in subs[len(months):]), bool)])
    sub = np.concatenate(subs)
    day = np.concatenate(when)
    t = len(sub)

    hour = rng.choice(24, size=t, p=HOURS / HOURS.sum())
    minute = rng.integers(0, 60 * 60, t)
    local = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour * 3600 + minute, unit="s")
    reported = pd.DatetimeIndex(local).tz_localize(TIMEZONE).tz_convert("UTC")
    contact = reported + pd.to_timedelta(rng.lognormal(np.log(10 * 60), 0.55, t), unit="s")
    clear_med = np.where(storm_mark, 9 * 3600, 4.5 * 3600)
    cleared = reported + pd.to_timedelta(rng.lognormal(np.log(clear_med), 0.95, t), unit="s")
    end = pd.Timestamp(WINDOW[1]).tz_localize(TIMEZONE).tz_convert("UTC") + pd.Timedelta(days=1)
    contact = contact.where(contact < end)
    cleared = cleared.where(cleared < end)
    # A ticket is contacted before it is cleared (the loop's order): a quick fix on the phone
    # counts as its contact at the latest.
    contact = contact.where(cleared.isna() | (contact.notna() & (contact <= cleared)), cleared)

    cause = CAUSES[rng.choice(len(CAUSES), size=t, p=CAUSE_P)]
    cause = np.where(storm_mark, np.where(rng.random(t) < 0.7, "weather", "drop"), cause)
    severity = rng.choice([1, 2, 3], size=t, p=[0.7, 0.25, 0.05])
    return {"sub": sub, "reported": reported, "contact": contact, "cleared": cleared,
            "cause": cause, "severity": severity, "storm": storm_mark}, storm_list
