"""The bound no forecast can beat on the demo: each box's expected faults from the demo
generator's own rates (gis/demo/faults.py: every subscriber's monthly rate by drop age, placement
and medium, the planted hotspots' multipliers, and storm days at their mean), scored like the
model. It tells how much of a deviance is the Poisson noise and the luck of the quarter's storms
(a quarter without a storm day scores every forecast that expects storms worse).

The generator is run again with the same seed, its internals captured as it builds the tickets
(the demo files keep subscribers and tickets, not the rates)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

import gis.demo as demo
from gis.demo import faults as F
from gis.demo.spec import TIMEZONE, WINDOW


def rates(size: str, seed: int):
    """A function cut -> expected faults per box id over the 3 months after `cut`."""
    seen = {}
    tickets = F.tickets

    def spy(rng, spec, people, plant, hot):
        seen.update(spec=spec, people=people, plant=plant, hot=hot)
        return tickets(rng, spec, people, plant, hot)

    F.tickets = spy
    try:
        city = demo.generate(size=size, seed=seed)
    finally:
        F.tickets = tickets
    spec, pp, pl, hot = seen["spec"], seen["people"], seen["plant"], seen["hot"]
    box_of = city.layers["boxes"]["id"].to_numpy()[pp.sub_box]
    # The generator's own rate (faults.tickets): age, aerial and medium, scaled to the city's.
    age = np.maximum(0, 2026 - pl.drop_year)
    base = (1 + age / 12.0) * np.where(pl.drop_aerial, 1.6, 1.0) * np.where(pl.drop_fibre, 0.8, 1.15)
    base *= F.TARGET_RATE / base.mean()
    member = np.full(len(pp.sub_xy), -1)
    tree = cKDTree(pp.sub_xy)
    for i, h in enumerate(hot):
        member[np.asarray(tree.query_ball_point(pp.box_xy[h["box"]], spec.hotspot_radius), dtype=np.int64)] = i
    months = pd.period_range(WINDOW[0], WINDOW[1], freq="M")
    n_days = (pd.Timestamp(WINDOW[1]) - pd.Timestamp(WINDOW[0])).days + 1
    storm_days_per_day = spec.storm_days / (n_days - 35)          # drawn from days 30 .. n_days - 5
    # A storm hits a random half of the city: aerial drops there fail with p 0.012, the rest 0.001.
    per_storm = np.where(pl.drop_aerial, 0.5 * 0.012 + 0.5 * 0.001, 0.001)

    def expected(cut: pd.Timestamp, months_ahead: float = 3, month=pd.Timedelta(days=30.4375)) -> pd.Series:
        a, b = cut, cut + months_ahead * month
        lam = np.zeros(len(base))
        for m, period in enumerate(months):
            s = period.start_time.tz_localize(TIMEZONE).tz_convert("UTC")
            e = (period.end_time + pd.Timedelta(nanoseconds=1)).tz_localize(TIMEZONE).tz_convert("UTC")
            share = max(0.0, (min(e, b) - max(s, a)) / (e - s))
            if share:
                mult = np.ones(len(base))
                for i, h in enumerate(hot):
                    mult[member == i] = F.multiplier(h["pattern"], np.array([m], float), len(months))[0]
                lam += share * base * mult
        lam += per_storm * storm_days_per_day * (b - a) / pd.Timedelta(days=1)
        return pd.Series(lam).groupby(box_of).sum()

    return expected
