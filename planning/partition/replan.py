"""Re-planning from a previous plan: where new units go, the region a growth re-plan redraws,
the previous plan's labels kept on what it keeps, and what moved (churn, realignment)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from .first_cut import most_bordered, repair_contiguity, split
from .graph import UnitGraph

# A growth region is grown until its workload makes whole districts within a third of the
# tolerance (tolerance / 3): the rest of the tolerance is the region's own plan's.
REGION_WHOLE_DISTRICTS_DIVISOR = 3
# The region's tolerance is tightened by how far its own mean is off the city's target, but
# never below a quarter of the tolerance asked (tolerance / 4).
REGION_TOLERANCE_FLOOR_DIVISOR = 4


def attach_new(graph: UnitGraph, prev) -> np.ndarray:
    """Previous labels with every new unit (-1) given to the district it borders most."""
    lab = prev.copy()
    for _ in range(len(lab)):
        todo = np.flatnonzero(lab < 0)
        if len(todo) == 0:
            break
        found = most_bordered(graph, lab, lab < 0, sort_groups=True)
        if found is None:  # a new part with no labelled neighbour: its own district
            lab[todo] = lab.max() + 1
            break
        lab[found[0]] = found[1]
    return lab


def from_previous(graph: UnitGraph, w, xy, prev, k, rng) -> np.ndarray:
    """Start from the previous plan: new units join the district they border most, pieces cut
    off by the new tessellation rejoin a neighbour, and districts are split (heaviest first) or
    merged (lightest into its lightest neighbour) until there are k."""
    lab = attach_new(graph, prev)
    _, lab = np.unique(lab, return_inverse=True)
    m = lab.max() + 1
    lab = repair_contiguity(graph, w, lab, m)
    while m < k:
        load = np.bincount(lab, weights=w, minlength=m)
        idx = np.flatnonzero(lab == int(np.argmax(load)))
        if len(idx) < 2:
            break
        _, b = split(graph, w, xy, idx, 1, 1, rng)
        lab[b] = m
        m += 1
    while m > k:
        load = np.bincount(lab, weights=w, minlength=m)
        d = int(np.argmin(load))
        e = np.flatnonzero((lab[graph.source] == d) & (lab[graph.indices] != d))
        if len(e) == 0:
            break
        nb = np.unique(lab[graph.indices[e]])
        into = int(nb[np.argmin(load[nb])])
        lab[lab == d] = into
        lab[lab == m - 1] = d if d != m - 1 else lab[lab == m - 1]
        m -= 1
    return lab


def growth_region(adjacency, w, prev, k, tolerance) -> np.ndarray:
    """Units to keep (True) in a re-plan that changes the number of districts: all but the
    districts out of tolerance and enough neighbours round them that each region's workload
    makes whole districts within a third of the tolerance (a region of 3.4 districts cannot be
    balanced; one of 17.4 grown from it can)."""
    target = w.sum() / k
    g = UnitGraph.from_csr(adjacency)
    lab = attach_new(g, prev)
    m = int(lab.max()) + 1
    load = np.bincount(lab, weights=w, minlength=m)
    cut = lab[g.source] != lab[g.indices]
    touching = sparse.csr_matrix((np.ones(cut.sum()), (lab[g.source[cut]], lab[g.indices[cut]])), shape=(m, m))
    region = np.abs(load / target - 1) > tolerance
    for _ in range(m):
        if not region.any():
            break
        n_c, comp = connected_components(touching[region][:, region], directed=False)
        ids = np.flatnonzero(region)
        comp_load = np.bincount(comp, weights=load[ids], minlength=n_c)
        whole = np.maximum(np.round(comp_load / target), 1)
        bad = np.abs(comp_load / (whole * target) - 1) > tolerance / REGION_WHOLE_DISTRICTS_DIVISOR
        if not bad.any():
            break
        grow = np.zeros(m, bool)
        grow[np.unique(touching[ids[np.isin(comp, np.flatnonzero(bad))]].indices)] = True
        if not (grow & ~region).any():
            break
        region |= grow
    return ~region[lab]


def region_tolerance(tolerance, region_load, k_region, target) -> float:
    """A growth region's own mean is off the city's target: tighten its tolerance by that much."""
    return max(tolerance - abs(region_load / k_region / target - 1), tolerance / REGION_TOLERANCE_FLOOR_DIVISOR)


def match_previous(labels, prev, w, k_free, locked_codes) -> np.ndarray:
    """Labels in the previous plan's numbering: kept districts as they were; each newly
    planned district takes the previous label it shares most workload with (an assignment
    that maximises what stays), the rest fresh labels after the previous ones."""
    out = labels.copy()
    for j, code in enumerate(locked_codes):
        out[labels == k_free + j] = int(code)
    region = labels < k_free
    old = np.unique(prev[region & (prev >= 0)])
    old = old[~np.isin(old, np.asarray(locked_codes, dtype=int))]
    overlap = np.zeros((k_free, len(old)))
    if len(old):
        pos = np.searchsorted(old, prev)
        ok = region & (prev >= 0) & np.isin(prev, old)
        np.add.at(overlap, (labels[ok], pos[ok]), w[ok])
    rows, cols = linear_sum_assignment(-overlap) if len(old) else (np.empty(0, int), np.empty(0, int))
    new_label = np.full(k_free, -1)
    new_label[rows] = old[cols]
    fresh = iter(range(int(max(prev.max(), max(map(int, locked_codes), default=-1))) + 1, 10 ** 9))
    for d in range(k_free):
        if new_label[d] < 0:
            new_label[d] = next(fresh)
    out[region] = new_label[labels[region]]
    # With more districts than before every previous label in the region is matched, so the
    # numbering is 0..k-1 with the previous labels where they were.
    return out


def churn(labels, prev, w, ids):
    """The share of (previously planned) workload whose district changed, the units moved, and
    the realignment: one row per moved unit (unit id, from, to, workload)."""
    had = prev >= 0
    moved = had & (labels != prev)
    realignment = pd.DataFrame({"unit": ids[moved], "from": prev[moved], "to": labels[moved], "workload": w[moved]})
    return float(w[moved].sum() / max(w[had].sum(), 1e-12)), int(moved.sum()), realignment
