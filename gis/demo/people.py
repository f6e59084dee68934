"""Buildings and the subscribers in them; cross-connect boxes sited at demand clusters; the
distribution points behind each box."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .geography import Geography, bank, density, _sample
from .spec import Size

BOX_MAX_USED = 1_150   # a cluster above this is split: 1,200 ports at 96 % is the largest box
BOX_MIN_USED = 100     # below this it joins a neighbour: 200 ports at 50 %
CAPACITIES = np.arange(200, 1201, 50)
DP_CAPACITIES = np.array([10, 20, 30, 50, 60])


@dataclass
class People:
    building_xy: np.ndarray      # (b, 2)
    building_box: np.ndarray     # (b,) box index
    sub_building: np.ndarray     # (n,) building index
    sub_xy: np.ndarray           # (n, 2)
    sub_box: np.ndarray          # (n,)
    sub_dp: np.ndarray           # (n,)
    box_xy: np.ndarray           # (k, 2)
    box_capacity: np.ndarray
    box_used: np.ndarray
    box_year: np.ndarray
    dp_xy: np.ndarray
    dp_box: np.ndarray
    dp_capacity: np.ndarray
    dp_used: np.ndarray


def _non_residential(rng, size: Size):
    """A smooth mask that carves parks, campuses and industry out of the residential fabric."""
    k = rng.uniform(0.6, 1.6, (4, 2)) * 2 * np.pi / size.town_radius * 3
    ph = rng.uniform(0, 2 * np.pi, 4)

    def mask(xy):
        s = sum(np.sin(xy @ k[i] + ph[i]) for i in range(4))
        return s > -1.6
    return mask


def buildings(rng: np.random.Generator, size: Size, geo: Geography) -> tuple[np.ndarray, np.ndarray]:
    """Building sites and their subscriber counts, summing exactly to the size's subscribers."""
    mask = _non_residential(rng, size)
    est = int(size.subscribers / 8) + 1000
    xy = _sample(rng, est, size, geo.villages, geo.land, mask)
    d = density(xy, size, geo.villages)
    r = np.hypot(xy[:, 0], xy[:, 1])
    in_town = r < 1.05 * size.town_radius
    # Towers in the centre, walk-ups further out, houses in the villages.
    mean = np.where(in_town, 4 + 40 * d ** 1.3, 2.5)
    per = np.maximum(1, rng.poisson(mean))
    cum = np.cumsum(per)
    while cum[-1] < size.subscribers:  # rare: draw more buildings
        extra = _sample(rng, est // 4, size, geo.villages, geo.land, mask)
        xy = np.concatenate([xy, extra])
        de = density(extra, size, geo.villages)
        per = np.concatenate([per, np.maximum(1, rng.poisson(4 + 40 * de ** 1.3))])
        cum = np.cumsum(per)
    last = int(np.searchsorted(cum, size.subscribers))
    per = per[: last + 1].copy()
    per[-1] -= cum[last] - size.subscribers
    return xy[: last + 1], per


def _lloyd(xy: np.ndarray, w: np.ndarray, k: int, rng, iters: int = 12) -> np.ndarray:
    """Weighted k-means (Lloyd) with a k-d tree for the assignment step; returns labels."""
    p = w / w.sum()
    centres = xy[rng.choice(len(xy), size=k, replace=False, p=p)]
    for _ in range(iters):
        _, lab = cKDTree(centres).query(xy)
        ws = np.bincount(lab, weights=w, minlength=k)
        cx = np.bincount(lab, weights=w * xy[:, 0], minlength=k)
        cy = np.bincount(lab, weights=w * xy[:, 1], minlength=k)
        live = ws > 0
        centres[live] = np.c_[cx[live] / ws[live], cy[live] / ws[live]]
    _, lab = cKDTree(centres).query(xy)
    return lab


def _balance_clusters(xy, w, lab) -> np.ndarray:
    """Split clusters above BOX_MAX_USED along their long axis; merge those below BOX_MIN_USED into
    the nearest other cluster. Each pass fixes every offending cluster at once."""
    for _ in range(50):
        _, lab = np.unique(lab, return_inverse=True)
        k = lab.max() + 1
        ws = np.bincount(lab, weights=w, minlength=k)
        big = np.flatnonzero(ws > BOX_MAX_USED)
        small = np.flatnonzero(ws < BOX_MIN_USED)
        if len(big) == 0 and len(small) == 0:
            return lab
        nxt = k
        for c in big:  # a few per pass; each split is a weighted median cut
            idx = np.flatnonzero(lab == c)
            pts = xy[idx] - xy[idx].mean(axis=0)
            axis = np.linalg.svd(pts, full_matrices=False)[2][0] if len(idx) > 1 else np.array([1.0, 0.0])
            proj = pts @ axis
            order = np.argsort(proj)
            half = np.searchsorted(np.cumsum(w[idx][order]), ws[c] / 2)
            lab[idx[order[half + 1:]]] = nxt if half + 1 < len(idx) else c
            nxt += 1
        if len(small):
            cx = np.bincount(lab, weights=w * xy[:, 0]) / np.maximum(np.bincount(lab, weights=w), 1e-9)
            cy = np.bincount(lab, weights=w * xy[:, 1]) / np.maximum(np.bincount(lab, weights=w), 1e-9)
            centres = np.c_[cx, cy]
            tree = cKDTree(centres)
            for c in small:
                if c >= len(centres):
                    continue
                _, near = tree.query(centres[c], k=min(2, len(centres)))
                other = near[1] if np.ndim(near) and len(near) > 1 else c
                lab[lab == c] = other
    return lab


def boxes_and_dps(rng: np.random.Generator, size: Size, geo: Geography, bxy: np.ndarray,
                  per: np.ndarray, street_nodes: np.ndarray) -> People:
    side = bank(bxy, geo.river_axis)
    lab = np.empty(len(bxy), dtype=np.int64)
    offset = 0
    # Boxes never serve across the river: cluster each bank on its own.
    for s in (0, 1):
        idx = np.flatnonzero(side == s)
        k = max(1, int(round(per[idx].sum() / size.subscribers_per_box)))
        sub = _lloyd(bxy[idx], per[idx].astype(float), k, rng)
        sub = _balance_clusters(bxy[idx], per[idx].astype(float), sub)
        lab[idx] = sub + offset
        offset += sub.max() + 1
    _, lab = np.unique(lab, return_inverse=True)
    k = lab.max() + 1
    used = np.bincount(lab, weights=per, minlength=k).astype(np.int64)
    cx = np.bincount(lab, weights=per * bxy[:, 0], minlength=k) / used
    cy = np.bincount(lab, weights=per * bxy[:, 1], minlength=k) / used
    centre = np.c_[cx, cy]
    # Site each box at the street corner nearest its cluster's centre, on the same bank.
    box_xy = centre.copy()
    node_side = bank(street_nodes, geo.river_axis)
    box_side = bank(centre, geo.river_axis)
    for s in (0, 1):
        nodes = street_nodes[node_side == s]
        sel = np.flatnonzero(box_side == s)
        if len(nodes) and len(sel):
            dist, j = cKDTree(nodes).query(centre[sel])
            near = dist < 250
            box_xy[sel[near]] = nodes[j[near]]

    wet = np.flatnonzero(shapely.contains_xy(geo.river, box_xy[:, 0], box_xy[:, 1]))
    for b in wet:  # rare: a cluster centre over water; take its heaviest building instead
        members = np.flatnonzero(lab == b)
        box_xy[b] = bxy[members[np.argmax(per[members])]]

    # Capacity for a utilisation between 45 % and 96 %, then nudged into 40-98 %.
    util = np.clip(rng.beta(5, 2.2, k) * 0.55 + 0.43, 0.45, 0.96)
    cap = np.clip(np.ceil(used / util / 50) * 50, 200, 1200).astype(np.int64)
    cap = np.where(used / cap > 0.98, cap + 50, cap)
    cap = np.where(used / cap < 0.40, np.maximum(200, cap - 50 * np.ceil((cap * 0.40 - used) / 50)), cap).astype(np.int64)

    r = np.hypot(box_xy[:, 0], box_xy[:, 1]) / size.town_radius
    year = np.where(r < 0.35, rng.integers(1995, 2007, k),
                    np.where(r < 0.8, rng.integers(2003, 2016, k), rng.integers(2010, 2025, k)))

    # Subscribers: every one in a building; buildings' subscribers sit within a few metres.
    n = int(per.sum())
    sub_building = np.repeat(np.arange(len(bxy)), per)
    sub_xy = bxy[sub_building] + rng.normal(0, 3.0, (n, 2))
    wet = shapely.contains_xy(geo.river, sub_xy[:, 0], sub_xy[:, 1])
    sub_xy[wet] = bxy[sub_building[wet]]  # buildings are on land; a jitter must not cross the bank
    sub_box = lab[sub_building]

    # Distribution points: each box's subscribers in Morton order, cut into runs of 12-45.
    q = ((sub_xy - sub_xy.min(axis=0)) / 8).astype(np.int64)
    morton = _morton(q[:, 0], q[:, 1])
    order = np.lexsort((morton, sub_box))
    sb = sub_box[order]
    first = np.r_[0, np.flatnonzero(np.diff(sb)) + 1]
    rank = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    run = rng.integers(12, 46, k)
    dp_local = rank // run[sb]
    dp_key = sb.astype(np.int64) * 1000 + dp_local
    _, dp_of_sorted = np.unique(dp_key, return_inverse=True)
    sub_dp = np.empty(n, dtype=np.int64)
    sub_dp[order] = dp_of_sorted
    m = sub_dp.max() + 1
    dp_used = np.bincount(sub_dp, minlength=m)
    dp_box = np.zeros(m, dtype=np.int64)
    dp_box[sub_dp] = sub_box
    dp_xy = np.c_[np.bincount(sub_dp, weights=sub_xy[:, 0]), np.bincount(sub_dp, weights=sub_xy[:, 1])] / dp_used[:, None]
    dp_xy += rng.normal(0, 4.0, dp_xy.shape)
    wet = np.flatnonzero(shapely.contains_xy(geo.river, dp_xy[:, 0], dp_xy[:, 1]))
    if len(wet):  # a dp whose centre falls in the river goes next to its first subscriber's door,
        first_sub = np.full(m, -1)  # a step towards its box (same bank, so inland)
        first_sub[sub_dp[::-1]] = np.arange(n)[::-1]
        door = sub_xy[first_sub[wet]]
        towards = box_xy[dp_box[wet]] - door
        dp_xy[wet] = door + 2.0 * towards / np.maximum(np.hypot(*towards.T), 1e-9)[:, None]
    slack = dp_used * rng.uniform(1.0, 1.5, m)
    dp_cap = DP_CAPACITIES[np.minimum(np.searchsorted(DP_CAPACITIES, slack), len(DP_CAPACITIES) - 1)]
    dp_cap = np.maximum(dp_cap, dp_used)
    return People(bxy, lab, sub_building, sub_xy, sub_box, sub_dp, box_xy, cap, used, year,
                  dp_xy, dp_box, dp_cap, dp_used)


def _morton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    def spread(v):
        v = v.astype(np.uint64) & np.uint64(0xFFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        v = (v | (v << np.uint64(1))) & np.uint64(0x55555555)
        return v
    return spread(x) | (spread(y) << np.uint64(1))


def services(rng: np.random.Generator, n: int):
    broadband = rng.random(n) < 0.86
    voice = rng.random(n) < 0.55
    iptv = broadband & (rng.random(n) < 0.42)
    business = rng.random(n) < 0.05
    revenue = (25 + 65 * broadband + 20 * voice + 25 * iptv) * rng.lognormal(0, 0.25, n)
    revenue = np.where(business, revenue * 3.2, revenue)
    return voice, broadband, iptv, np.round(np.clip(revenue, 15, 990), 2)
