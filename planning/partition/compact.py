"""Compaction: rounder districts (mean Polsby-Popper) at constant balance. Single boundary
moves, swaps of two boundary units, and merge-and-resplit of neighbouring districts along the
roundest straight cut, each under the tolerance (and the further constraints) as a hard bound."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .constraints import limits_ok, radius_excess, radius_ok, swap_ok
from .state import SearchState, polsby_popper, within

# The compaction loop: moves, swaps and recombination again while they still change enough
# (more than COMPACTION_MIN_ROUNDS rounds of work), at most COMPACTION_PASSES times.
COMPACTION_PASSES = 6
COMPACTION_MIN_ROUNDS = 2
# Swaps tried per district pair, best first.
SWAP_TRIES = 32
# Recombination: rounds over all pairs, cut directions, cuts checked for connectivity, and
# one-unit fixes tried per cut.
RECOMBINE_ROUNDS = 3
CUT_ANGLES = 16
CUT_TRIES = 8
FIX_TRIES = 4
# Cuts up to 3 x the tolerance off balance are kept: one unit moved across fixes them.
CUT_SLACK = 3
# A recombination must raise the pair's summed Polsby-Popper by at least this much.
MIN_RECOMBINE_GAIN = 1e-4


def compaction(state: SearchState, rounds, tol) -> int:
    """The compaction loop: moves, swaps, recombination, repeated while they work."""
    done = 0
    for _ in range(COMPACTION_PASSES):
        r = compact_moves(state, rounds, tol) + compact_swaps(state, rounds, tol)
        r += recombine(state, tol) - 1
        done += r
        if r <= COMPACTION_MIN_ROUNDS:
            break
    return done


def compact_moves(state: SearchState, rounds, tol) -> int:
    """Boundary moves that raise the two districts' summed Polsby-Popper."""
    def score(u, a, b, border_to_b, border_to_own):
        area_a, area_b = state.area[a] - state.unit_area[u], state.area[b] + state.unit_area[u]
        perim_a = state.perimeter[a] - state.unit_perimeter[u] + 2 * border_to_own
        perim_b = state.perimeter[b] + state.unit_perimeter[u] - 2 * border_to_b
        before = polsby_popper(state.area[a], state.perimeter[a]) + polsby_popper(state.area[b], state.perimeter[b])
        return -(polsby_popper(area_a, perim_a) + polsby_popper(area_b, perim_b) - before)

    def ok(u, a, b):
        within = state.within_after(a, b, state.unit_workload[u], tol)
        within &= radius_ok(state, u, b, state.centres()) if state.max_radius is not None else True
        return within & (limits_ok(state, a, b, state.limits.values[u]) if state.limits is not None else True)
    return state.run_moves(score, rounds, ok)


def compact_swaps(state: SearchState, rounds, tol, tries: int = SWAP_TRIES) -> int:
    """Swap a boundary unit of a that belongs more to b with one of b that belongs more to a,
    when both stay within tolerance, both stay connected, and the pair's summed Polsby-Popper
    rises."""
    done = 0
    perim = state.unit_perimeter
    for _ in range(rounds):
        pairs = state.boundary_sets()
        # Every unit's border with every district, once per round: a swap touches only its two
        # districts, which the round then leaves alone, so the others' borders stay exact.
        border = BorderTable(state)
        applied, touched = 0, set()
        for (a, b) in sorted(p for p in pairs if p[0] < p[1]):
            if a in touched or b in touched or (b, a) not in pairs:
                continue
            ua, vb = state.boundary_pair(pairs, a, b)
            belong_u = (border(ua, b) - border(ua, a)) / perim[ua]
            belong_v = (border(vb, a) - border(vb, b)) / perim[vb]
            ok = swap_ok(state, a, b, ua, vb, tol)
            if state.max_radius is not None:
                centres = state.centres()
                ok &= radius_ok(state, ua, b, centres)[:, None] & radius_ok(state, vb, a, centres)[None, :]
            belong = np.where(ok, belong_u[:, None] + belong_v[None, :], -np.inf)
            if state.swap(a, b, ua, vb, -belong, 0.0, tries,
                          objective=lambda a=a, b=b: state.polsby_popper(a) + state.polsby_popper(b)):
                touched.update((a, b))
                applied += 1
        done += 1
        if applied == 0:
            break
    return done


class BorderTable:
    """The border length of units with districts, for the labels of the moment it is made
    (what SearchState.border gives one pair at a time, for whole arrays)."""

    def __init__(self, state: SearchState):
        g, lab, self.k = state.graph, state.labels, state.k
        real = g.source != g.indices
        key = g.source[real].astype(np.int64) * self.k + lab[g.indices[real]]
        self.keys, inv = np.unique(key, return_inverse=True)
        self.length = np.bincount(inv, weights=g.border[real])

    def __call__(self, units: np.ndarray, d: int) -> np.ndarray:
        key = units.astype(np.int64) * self.k + d
        i = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        return np.where(self.keys[i] == key, self.length[i], 0.0)


def recombine(state: SearchState, tol, rounds: int = RECOMBINE_ROUNDS, angles: int = CUT_ANGLES) -> int:
    """Merge and re-split (the move of GerryChain's ReCom, made deterministic): two
    neighbouring districts are pooled and cut again by a straight line, in `angles`
    directions, at the point that halves their workload; the roundest cut that keeps both
    halves connected and within the tolerance replaces them. Local moves cannot undo a
    district wrapped round its neighbour; this can. Worst pairs first."""
    g, w = state.graph, state.unit_workload
    dirs = np.c_[np.cos(np.linspace(0, np.pi, angles, endpoint=False)),
                 np.sin(np.linspace(0, np.pi, angles, endpoint=False))]
    done = 0
    for _ in range(rounds):
        pp = polsby_popper(state.area, state.perimeter)
        lab = state.labels
        cut = lab[g.source] != lab[g.indices]
        pairs = np.unique(np.sort(np.c_[lab[g.source[cut]], lab[g.indices[cut]]], axis=1), axis=0)
        pairs = pairs[np.argsort(pp[pairs[:, 0]] + pp[pairs[:, 1]], kind="stable")]
        touched: set[int] = set()
        applied = 0
        for a, b in pairs.tolist():
            if a in touched or b in touched:
                continue
            key = (a, b, int(state.version[a]), int(state.version[b]), tol)
            if key in state.no_cut:  # nothing changed since the last try
                continue
            idx = np.array(sorted(state.members[a] | state.members[b]))
            if state.fixed[idx].any() or len(idx) < 4:
                continue
            res = best_cut(state, idx, a, dirs, tol)
            if res is None or res[1] <= MIN_RECOMBINE_GAIN:
                state.no_cut.add(key)
                continue
            mask, _ = res
            # Keep each code on the side that holds more of its old workload.
            in_a = state.labels[idx] == a
            keep = (w[idx] * (mask == in_a)).sum() >= (w[idx] * (mask != in_a)).sum()
            state.labels[idx] = np.where(mask == keep, a, b)
            for d in (a, b):
                state.set_district(d, idx[state.labels[idx] == d])
            touched.update((a, b))
            applied += 1
        done += 1
        if applied == 0:
            break
    return done


def best_cut(state: SearchState, idx, a, dirs, tol, tries: int = CUT_TRIES):
    """The roundest straight cut of the pooled units `idx` (districts a and b): every cut
    position in every direction scored at once (prefix sums of workload, area and perimeter; a
    border is inside the prefix when both its units are), then connectivity checked on the best
    few. Returns (mask of one side, gain in summed Polsby-Popper) or None."""
    target, lim = state.target, state.limits
    n = len(idx)
    es, ed, eb = state.edges_within(idx)
    w, ar, pe = state.unit_workload[idx], state.unit_area[idx], state.unit_perimeter[idx]
    D = len(dirs)
    order = np.argsort(state.centroid[idx] @ dirs.T, axis=0, kind="stable").T      # D x n
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(D, 0), axis=1)
    cw, ca, cp = np.cumsum(w[order], 1), np.cumsum(ar[order], 1), np.cumsum(pe[order], 1)
    hi = np.maximum(rank[:, es], rank[:, ed])
    lo = np.minimum(rank[:, es], rank[:, ed])
    rows = np.repeat(np.arange(D), len(es))
    b_in = np.bincount(rows * n + hi.ravel(), weights=np.tile(eb, D), minlength=D * n).reshape(D, n).cumsum(1)
    b_lo = np.bincount(rows * n + lo.ravel(), weights=np.tile(eb, D), minlength=D * n).reshape(D, n).cumsum(1)
    tw, ta, tp, tb = w.sum(), ar.sum(), pe.sum(), eb.sum()
    perim_a = cp - b_in
    perim_b = (tp - cp) - (tb - b_lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = polsby_popper(ca, perim_a) + polsby_popper(ta - ca, perim_b)
    dev_a, dev_b = cw / target - 1, (tw - cw) / target - 1
    ok = within(cw, target, CUT_SLACK * tol) & within(tw - cw, target, CUT_SLACK * tol)
    ok[:, -1] = False
    b = int(state.labels[idx][state.labels[idx] != a][0])
    if lim is not None:  # the halves' further attributes no further outside their limits
        vi = lim.values[idx]
        cv = np.cumsum(vi[order], axis=1)
        ex0 = lim.excess(lim.totals[a]) + lim.excess(lim.totals[b])
        ok &= lim.excess(cv) + lim.excess(vi.sum(0) - cv) <= ex0 + 1e-12
    before = state.polsby_popper(a) + state.polsby_popper(b)
    score = np.where(ok & np.isfinite(score), score, -np.inf)
    flat = np.argsort(-score, axis=None, kind="stable")[:tries]
    sub = []   # the pair's graph, built on the first cut that needs a connectivity check
    r_before = radius_excess(state)[idx].sum() if state.max_radius is not None else 0.0

    def acceptable(mask):
        if state.max_radius is not None:  # no farther from the new centres than before
            xy_, w_ = state.centroid[idx], np.maximum(w, 1e-12)
            far = 0.0
            for m in (mask, ~mask):
                c = (xy_[m] * w_[m, None]).sum(0) / w_[m].sum()
                far += np.maximum(np.hypot(*(xy_[m] - c).T) - state.max_radius, 0).sum()
            if far > r_before + 1e-9:
                return False
        if not sub:
            sub.append(sparse.csr_matrix((np.ones(len(es)), (es, ed)), shape=(n, n)))
        return (connected_components(sub[0][mask][:, mask], directed=False)[0] == 1
                and connected_components(sub[0][~mask][:, ~mask], directed=False)[0] == 1)

    best, best_pp = None, before + MIN_RECOMBINE_GAIN
    for f in flat:
        if score.flat[f] <= best_pp:
            break
        d, c = divmod(int(f), n)
        mask = np.zeros(n, bool)
        mask[order[d, :c + 1]] = True
        if within(cw[d, c], target, tol) and within(tw - cw[d, c], target, tol):
            if acceptable(mask):
                best, best_pp = mask, float(score.flat[f])
            continue
        # Move one unit from the heavier side across the cut, the one that leaves the
        # pair roundest among those that bring both sides within the tolerance.
        heavy = dev_a[d, c] > dev_b[d, c]
        to_a = np.bincount(es, weights=eb * mask[ed], minlength=n)      # border with side A
        to_b = np.bincount(es, weights=eb * ~mask[ed], minlength=n)
        cand = np.flatnonzero((mask == heavy) & ((to_b if heavy else to_a) > 0))
        if len(cand) == 0:
            continue
        sign = -1.0 if heavy else 1.0
        new_wa = cw[d, c] + sign * w[cand]
        cand = cand[within(new_wa, target, tol) & within(tw - new_wa, target, tol)]
        if len(cand) == 0:
            continue
        pa0, pb0, aa0 = perim_a[d, c], perim_b[d, c], ca[d, c]
        if heavy:   # u leaves A for B
            pa1 = pa0 - pe[cand] + 2 * to_a[cand]
            pb1 = pb0 + pe[cand] - 2 * to_b[cand]
            aa1 = aa0 - ar[cand]
        else:
            pa1 = pa0 + pe[cand] - 2 * to_a[cand]
            pb1 = pb0 - pe[cand] + 2 * to_b[cand]
            aa1 = aa0 + ar[cand]
        pp1 = polsby_popper(aa1, pa1) + polsby_popper(ta - aa1, pb1)
        if lim is not None:
            va1 = cv[d, c] + sign * vi[cand]
            pp1 = np.where(lim.excess(va1) + lim.excess(vi.sum(0) - va1) <= ex0 + 1e-12, pp1, -np.inf)
        for j in np.argsort(-pp1, kind="stable")[:FIX_TRIES]:
            if pp1[j] <= best_pp:
                break
            m2 = mask.copy()
            m2[cand[j]] = not heavy
            if acceptable(m2):
                best, best_pp = m2, float(pp1[j])
                break
    return None if best is None else (best, best_pp - before)
