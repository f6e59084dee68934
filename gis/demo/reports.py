"""Construction reports (商机) in three planted groups, and the ground truth of which reports
need the network extended and which boxes need expanding, by the documented rule."""
from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .people import People
from .spec import Size

REACH_M = 300.0
TAKE_UP = 0.6
THRESHOLD = 0.85
LINES_PER_M2 = 0.01   # a commercial report's expected lines: one per 100 m² of floor area


def expected_lines(households: np.ndarray, floor_area: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(households), np.nan_to_num(floor_area) * LINES_PER_M2, np.nan_to_num(households)) * TAKE_UP


def plant_reports(rng: np.random.Generator, size: Size, people: People, land, outline):
    """Returns geometries (metres), households, floor areas and the planted group of each."""
    n = size.reports
    spare = people.box_capacity - people.box_used
    tree = cKDTree(people.box_xy)
    groups = rng.choice(["covered", "outside", "short"], size=n, p=[0.4, 0.3, 0.3])
    xy = np.zeros((n, 2))
    hh = np.full(n, np.nan)
    area = np.full(n, np.nan)
    commercial = rng.random(n) < 0.25

    # (a) covered: within 150 m of a box with plenty of spare ports.
    roomy = np.flatnonzero(spare >= 150)
    idx = np.flatnonzero(groups == "covered")
    b = rng.choice(roomy, size=len(idx))
    ang = rng.uniform(0, 2 * np.pi, len(idx))
    rad = rng.uniform(30, 150, len(idx))
    xy[idx] = people.box_xy[b] + np.c_[rad * np.cos(ang), rad * np.sin(ang)]
    lines_cap = np.maximum(20, spare[b] * 0.45)  # at most half the spare
    hh[idx] = np.floor(lines_cap / TAKE_UP * rng.uniform(0.3, 1.0, len(idx)))

    # (b) outside coverage: 600 m or more from every box, inside the city, off the river.
    idx = np.flatnonzero(groups == "outside")
    got = 0
    R = size.outline_radius
    while got < len(idx):
        cand = rng.uniform(-R, R, (4000, 2))
        ok = shapely.contains_xy(land, cand[:, 0], cand[:, 1])
        d, _ = tree.query(cand)
        cand = cand[ok & (d > 650) & (np.hypot(cand[:, 0], cand[:, 1]) < 1.25 * size.town_radius)]
        take = cand[: len(idx) - got]
        xy[idx[got: got + len(take)]] = take
        got += len(take)
    hh[idx] = rng.integers(80, 900, len(idx))

    # (c) near boxes that lack the spare: every box within reach is short of the expected lines.
    idx = np.flatnonzero(groups == "short")
    tight = np.flatnonzero(spare < np.quantile(spare, 0.35))
    b = rng.choice(tight, size=len(idx))
    ang = rng.uniform(0, 2 * np.pi, len(idx))
    rad = rng.uniform(40, 180, len(idx))
    xy[idx] = people.box_xy[b] + np.c_[rad * np.cos(ang), rad * np.sin(ang)]
    near = tree.query_ball_point(xy[idx], REACH_M + 60)
    most = np.array([spare[np.asarray(j, dtype=int)].max() if len(j) else 0 for j in near])
    hh[idx] = np.ceil((most + rng.integers(30, 300, len(idx))) / TAKE_UP)

    # Commercial reports state floor area instead of households (same expected lines).
    area[commercial] = hh[commercial] / LINES_PER_M2
    hh[commercial] = np.nan
    # Keep reports on land: nudge any that fell into the river back towards their box.
    wet = ~shapely.contains_xy(land, xy[:, 0], xy[:, 1])
    for i in np.flatnonzero(wet):
        _, j = tree.query(xy[i])
        for f in np.linspace(0.9, 0.0, 10):
            p = people.box_xy[j] + f * (xy[i] - people.box_xy[j])
            if land.contains(shapely.Point(p)):
                xy[i] = p
                break
    polygon = rng.random(n) < 0.35
    half = rng.uniform(30, 90, n)
    geoms = shapely.points(xy)
    geoms[polygon] = shapely.box(xy[polygon, 0] - half[polygon], xy[polygon, 1] - half[polygon] * 0.7,
                                 xy[polygon, 0] + half[polygon], xy[polygon, 1] + half[polygon] * 0.7)
    geoms[polygon] = shapely.intersection(geoms[polygon], land)
    empty = shapely.is_empty(geoms) | (shapely.get_type_id(geoms) == 7) | (shapely.get_type_id(geoms) == 6)
    geoms[empty] = shapely.points(xy[empty])
    return geoms, hh, area, commercial, groups


def truth(geoms: np.ndarray, hh: np.ndarray, area: np.ndarray, people: People, report_ids, box_ids) -> dict:
    """Apply the rule to the data as generated (not to the planting intent):
    - extend_network: no box within REACH_M (straight line, from the report's geometry) has
      spare ports >= expected lines (households x TAKE_UP, or floor area x LINES_PER_M2 x TAKE_UP);
    - expand_box: utilisation above THRESHOLD now, or above it once the expected lines of the
      extend-network reports within reach whose nearest box it is are added."""
    spare = people.box_capacity - people.box_used
    lines = expected_lines(hh, area)
    tree = shapely.STRtree(shapely.points(people.box_xy))
    pairs = tree.query(geoms, predicate="dwithin", distance=REACH_M)
    r_idx, b_idx = pairs
    servable = np.zeros(len(geoms), bool)
    ok = spare[b_idx] >= lines[r_idx]
    servable[r_idx[ok]] = True
    extend = ~servable
    demand = np.zeros(len(people.box_xy))
    near_r, near_b = tree.query_nearest(geoms, max_distance=REACH_M, all_matches=False)
    sel = extend[near_r]
    np.add.at(demand, near_b[sel], lines[near_r[sel]])
    util_now = people.box_used / people.box_capacity
    util_then = (people.box_used + demand) / people.box_capacity
    expand = (util_now > THRESHOLD) | (util_then > THRESHOLD)
    return {
        "parameters": {"reach_m": REACH_M, "take_up": TAKE_UP, "threshold": THRESHOLD,
                       "lines_per_m2": LINES_PER_M2, "distance": "straight line"},
        "extend_network": [report_ids[i] for i in np.flatnonzero(extend)],
        "covered": [report_ids[i] for i in np.flatnonzero(~extend)],
        "expand_box": [box_ids[i] for i in np.flatnonzero(expand)],
        "expand_box_by_demand": [box_ids[i] for i in np.flatnonzero(expand & (util_now <= THRESHOLD))],
    }
