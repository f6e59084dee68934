"""The first cut: k connected, compact, roughly balanced districts to start the search from.
A power diagram (weighted Voronoi) whose offsets balance the workload, then a repair that
makes every district connected; recursive bisection as the fallback."""
from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .errors import InfeasiblePlan
from .graph import UnitGraph

# Lloyd iterations of the power diagram: enough for the offsets to settle on a city.
POWER_ITERATIONS = 80
# k-means++ seeding costs k passes over the units: worth it for a city, not for thousands of
# districts, where a workload-weighted sample is as good a start.
KMEANS_PP_MAX_DISTRICTS = 300
# The power-nearest centre is among the few Euclidean-nearest (offsets are local).
CANDIDATE_CENTRES = 12
# Offset step, in units of the district's own size (area / pi): half a size per iteration
# converges without oscillating in the sparse outskirts or the dense centre.
OFFSET_STEP = 0.5
# Rounds of the contiguity repair (each hands every stray piece to a neighbour; a few suffice).
REPAIR_ROUNDS = 100


def first_cut(graph: UnitGraph, w, xy, area, k, rng, init: str, seeds=None, side=None) -> np.ndarray:
    """Labels 0..k-1: the power diagram (always with seeds), else recursive bisection; the
    bisection too when the repair emptied a district."""
    labels = (power_diagram(graph, w, xy, area, k, rng, seeds=seeds, side=side)
              if init == "power" or seeds is not None else bisect(graph, w, xy, k, rng))
    if len(np.unique(labels)) < k and seeds is None:
        labels = bisect(graph, w, xy, k, rng)
    return labels


def _initial_centres(w, xy, k, rng) -> np.ndarray:
    n = len(w)
    centres = np.empty((k, 2))
    if k <= KMEANS_PP_MAX_DISTRICTS:
        first = rng.choice(n, p=w / w.sum())
        centres[0] = xy[first]
        d2 = ((xy - centres[0]) ** 2).sum(1)
        for j in range(1, k):
            p = w * d2
            centres[j] = xy[rng.choice(n, p=p / p.sum())]
            d2 = np.minimum(d2, ((xy - centres[j]) ** 2).sum(1))
    else:
        pw = w + 1e-9
        centres[:] = xy[rng.choice(n, size=k, replace=False, p=pw / pw.sum())]
    return centres


def power_diagram(graph: UnitGraph, w: np.ndarray, xy: np.ndarray, area: np.ndarray, k: int, rng,
                  iterations: int = POWER_ITERATIONS, seeds: np.ndarray | None = None,
                  side: np.ndarray | None = None) -> np.ndarray:
    """Compact, roughly balanced first cut: units go to the nearest of k centres in a power
    diagram (squared distance minus a per-district offset); centres move to their districts'
    centroids (Lloyd) while each offset grows where the district is light and shrinks where it
    is heavy, in units of that district's own size, so sparse outskirts and the dense centre
    converge alike. Then every district keeps its largest connected piece and hands the rest to
    the neighbour it shares most border with."""
    n = len(w)
    target = w.sum() / k
    centres = _initial_centres(w, xy, k, rng)
    seeded = np.flatnonzero(seeds >= 0) if seeds is not None else np.empty(0, int)
    if len(seeded):
        centres[seeds[seeded]] = xy[seeded]  # a seeded district starts at its seed
    offset = np.zeros(k)
    near = min(k, CANDIDATE_CENTRES)
    unit_tree = cKDTree(xy) if side is not None else None
    # Across a slow barrier a centre looks a district's diameter farther away (squared, as the
    # distances are: 4 x the mean district area / pi).
    barrier_penalty = 4 * area.sum() / (np.pi * k)
    for _ in range(iterations):
        # A k-d tree query keeps this O(n log k) instead of an n x k distance matrix.
        _, cand = cKDTree(centres).query(xy, k=near)
        cand = cand.reshape(n, near)
        d = ((xy[:, None, :] - centres[cand]) ** 2).sum(-1) - offset[cand]
        if side is not None:
            centre_side = side[unit_tree.query(centres)[1]]
            d += (side[:, None] != centre_side[cand]) * barrier_penalty
        lab = cand[np.arange(n), np.argmin(d, axis=1)]
        if len(seeded):
            lab[seeded] = seeds[seeded]
        load = np.bincount(lab, weights=w, minlength=k)
        district_area = np.bincount(lab, weights=area, minlength=k)
        live = load > 0
        cx = np.bincount(lab, weights=w * xy[:, 0], minlength=k)
        cy = np.bincount(lab, weights=w * xy[:, 1], minlength=k)
        centres[live] = np.c_[cx[live] / load[live], cy[live] / load[live]]
        for j in np.flatnonzero(~live):  # an empty district restarts inside the heaviest one
            heavy = int(np.argmax(load))
            members = np.flatnonzero(lab == heavy)
            centres[j] = xy[rng.choice(members)]
            offset[j] = offset[heavy]
        size = np.maximum(district_area, 1.0) / np.pi
        offset += OFFSET_STEP * (1 - load / target) * size
    return repair_contiguity(graph, w, lab, k, seeds)


def most_bordered(graph: UnitGraph, lab: np.ndarray, mark: np.ndarray, sort_groups: bool = False):
    """For each marked unit with an unmarked neighbour: (units, the district it borders most),
    or None if there is none. (`sort_groups` only changes which of two equal borders wins.)"""
    e = np.flatnonzero(mark[graph.source] & ~mark[graph.indices])
    if len(e) == 0:
        return None
    key = pd.DataFrame({"u": graph.source[e], "d": lab[graph.indices[e]], "s": graph.border[e]})
    best = key.groupby(["u", "d"], sort=sort_groups)["s"].sum().reset_index().sort_values(
        ["u", "s"], ascending=[True, False]).drop_duplicates("u")
    return best["u"].to_numpy(), best["d"].to_numpy()


def repair_contiguity(graph: UnitGraph, w: np.ndarray, lab: np.ndarray, k: int, seeds=None) -> np.ndarray:
    """Every district keeps its heaviest connected piece (the one holding its seed, if any);
    each stray unit joins the district (not its own, not stray) it borders most."""
    lab = lab.copy()
    for _ in range(REPAIR_ROUNDS):
        stray = []
        for d in range(k):
            idx = np.flatnonzero(lab == d)
            if len(idx) <= 1:
                continue
            n_pieces, piece = connected_components(graph.subgraph(idx), directed=False)
            if n_pieces > 1:
                keep = int(np.argmax(np.bincount(piece, weights=w[idx] + 1e-9)))
                if seeds is not None and (seeds[idx] >= 0).any():  # the piece holding the seed stays
                    keep = int(piece[np.flatnonzero(seeds[idx] >= 0)[0]])
                stray.extend(idx[piece != keep].tolist())
        if not stray:
            return lab
        mark = np.zeros(len(lab), bool)
        mark[np.array(stray)] = True
        found = most_bordered(graph, lab, mark)
        if found is None:
            break
        lab[found[0]] = found[1]
    return lab


def bisect(graph: UnitGraph, w: np.ndarray, xy: np.ndarray, k: int, rng) -> np.ndarray:
    """Recursive bisection into k connected parts with workloads proportional to their counts."""
    labels = np.full(len(w), -1)
    next_label = 0
    stack = [(np.arange(len(w)), k)]
    while stack:
        idx, kk = stack.pop()
        if kk == 1:
            labels[idx] = next_label
            next_label += 1
            continue
        k1 = kk // 2
        a, b = split(graph, w, xy, idx, k1, kk - k1, rng)
        stack.append((b, kk - k1))
        stack.append((a, k1))
    return labels


def split(graph: UnitGraph, w, xy, idx, k1, k2, rng):
    """Cut the units `idx` into two connected parts weighted k1 : k2, the first grown from one
    end of their long axis (so both are compact)."""
    inset = np.zeros(len(w), bool)
    inset[idx] = True
    pts = xy[idx]
    span = pts.max(axis=0) - pts.min(axis=0)
    axis = 0 if span[0] >= span[1] else 1
    proj = pts[:, axis] + rng.uniform(0, 1e-6, len(idx))
    key = dict(zip(idx.tolist(), proj.tolist()))
    want = w[idx].sum() * k1 / (k1 + k2)
    start = int(idx[np.argmin(proj)])
    taken = {start}
    acc = w[start]
    heap = []
    for v in graph.neighbours(start):
        if inset[v]:
            heapq.heappush(heap, (key[int(v)], int(v)))
    max_a = len(idx) - k2
    while heap and len(taken) < max_a:
        _, v = heapq.heappop(heap)
        if v in taken:
            continue
        # Stop where the running total is closest to the share, once A has enough units.
        if len(taken) >= k1 and abs(acc + w[v] - want) >= abs(acc - want):
            break
        taken.add(v)
        acc += w[v]
        for u in graph.neighbours(v):
            u = int(u)
            if inset[u] and u not in taken:
                heapq.heappush(heap, (key[u], u))
    a = np.array(sorted(taken))
    rest = np.setdiff1d(idx, a)
    # The rest may fall apart: keep its largest piece, hand the others to A (they border A).
    if len(rest):
        n_pieces, piece = connected_components(graph.subgraph(rest), directed=False)
        if n_pieces > 1:
            keep = int(np.argmax(np.bincount(piece, weights=w[rest])))
            a = np.union1d(a, rest[piece != keep])
            rest = rest[piece == keep]
    if len(rest) < k2:  # cannot happen for connected input with len(idx) >= k; guard anyway
        raise InfeasiblePlan("the unit graph cannot be cut into the requested number of connected districts")
    return a, rest
