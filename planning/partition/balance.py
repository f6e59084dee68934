"""Balancing: bring every district's workload within the tolerance of the target. Local
boundary moves and swaps that lower the summed squared deviation; diffusion (a potential on the
district graph says how much each border must carry) for global imbalance; and swaps that
realise flows finer than any single unit."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from .graph import connected_without
from .state import SearchState

# Tie-break weight of the border length in a move's score: shorter borders (rounder districts)
# among equal balance gains, never outweighing a real gain.
BORDER_TIE_BREAK = 1e-9
# In a re-plan's lazy balance the squared-deviation score only orders moves that shrink the excess.
LAZY_TIE_BREAK = 1e-6
# A swap must lower the squared deviation by more than float noise.
MIN_SWAP_GAIN = 1e-9
# Swaps tried per district pair when balancing, and when realising a diffusion flow.
BALANCE_SWAP_TRIES = 64
FLOW_SWAP_TRIES = 16
# Diffusion iterations (each solves the potential again on the changed borders).
DIFFUSE_ITERATIONS = 60
DIFFUSE_SWAP_ITERATIONS = 40
# A unit may carry up to 1.5 x the flow left on its border: a flow a little smaller than the
# lightest unit is still realised, one a lot smaller is left to the swaps.
FLOW_OVERSHOOT = 1.5
# Ridge for the district graph's Laplacian (singular: constant potentials are its null space).
LAPLACIAN_RIDGE = 1e-9


def balance(state: SearchState, rounds, tol, lazy: bool = False) -> int:
    """Boundary moves (then swaps) that lower the summed squared deviation. `lazy`, for a
    re-plan: only moves that involve a district outside the tolerance, so that nothing moves
    once every district is within it (polishing would only add churn)."""
    target, w = state.target, state.unit_workload

    def score(u, a, b, border_to_b, border_to_own):
        wu = w[u]
        da, db = state.workload[a] - target, state.workload[b] - target
        gain = ((da - wu) ** 2 + (db + wu) ** 2 - da ** 2 - db ** 2) / target ** 2
        return gain + BORDER_TIE_BREAK * (border_to_own - border_to_b)

    def excess(x):
        return np.maximum(np.abs(x - target) - tol * target, 0)

    def lazy_score(u, a, b, border_to_b, border_to_own):
        # Only the workload beyond the tolerance counts: a move must shrink it, so moves stop
        # as soon as every district is within the tolerance and never push one outside.
        wu = w[u]
        load = state.workload
        gain = (excess(load[a] - wu) + excess(load[b] + wu) - excess(load[a]) - excess(load[b])) / target
        return np.where(gain < -1e-12, gain + LAZY_TIE_BREAK * score(u, a, b, border_to_b, border_to_own), 0.0)

    done = 0
    for _ in range(rounds):
        done += state.run_moves(lazy_score if lazy else score, rounds)
        if state.max_deviation() <= tol or not balance_swaps(state, tol, lazy):
            break
        done += 1
    return done


def balance_swaps(state: SearchState, tol, lazy: bool = False) -> int:
    """Exchange a boundary unit of a with one of b when no single move helps: the net transfer
    w_u - w_v can be much finer than any unit. Pairs furthest apart first. Returns the swaps."""
    target, w = state.target, state.unit_workload
    pairs = state.boundary_sets()
    dev = state.workload - target
    order = sorted({(min(a, b), max(a, b)) for a, b in pairs}, key=lambda p: -abs(dev[p[0]] - dev[p[1]]))
    touched, applied = set(), 0
    for a, b in order:
        if a in touched or b in touched:
            continue
        if lazy and abs(dev[a]) <= tol * target and abs(dev[b]) <= tol * target:
            continue
        ua, vb = state.boundary_pair(pairs, a, b)
        # (A swap keeps sizes, but a single-unit district is left alone, as it always was.)
        if len(ua) == 0 or len(vb) == 0 or len(state.members[a]) <= 1 or len(state.members[b]) <= 1:
            continue
        da, db = dev[a], dev[b]
        t = w[ua][:, None] - w[vb][None, :]
        gain = 2 * t * (t - da + db)
        if lazy:  # only what lies beyond the tolerance counts (see balance)
            def ex(x):
                return np.maximum(np.abs(x) - tol * target, 0)
            gain = np.where(ex(da - t) + ex(db + t) < ex(da) + ex(db), gain, np.inf)
        if state.swap(a, b, ua, vb, gain, -MIN_SWAP_GAIN, BALANCE_SWAP_TRIES):
            touched.update((a, b))
            applied += 1
    return applied


def potential(state: SearchState, dev: np.ndarray):
    """phi with L phi = dev on the district graph (L its Laplacian, a tiny ridge for the
    constant null space), and the cut edges (source and target units) it was built from."""
    g, k, lab = state.graph, state.k, state.labels
    cut = lab[g.source] != lab[g.indices]
    su, sv = g.source[cut], g.indices[cut]
    A = sparse.coo_matrix((np.ones(len(su)), (lab[su], lab[sv])), shape=(k, k)).tocsr()
    A.data[:] = 1.0
    L = sparse.diags(np.asarray(A.sum(axis=1)).ravel()) - A
    return spsolve((L + LAPLACIAN_RIDGE * sparse.eye(k)).tocsc(), dev - dev.mean()), su, sv


def diffuse(state: SearchState, tol, iterations: int = DIFFUSE_ITERATIONS) -> int:
    """Global balancing: solve L phi = deviation on the district graph (L its Laplacian); the
    flow phi_a - phi_b over each district border is what a must hand to b for every district
    to reach the target (the diffusion scheme of multilevel graph partitioners). Realise it
    with boundary units, largest flows first; repeat as borders change."""
    target, g, w = state.target, state.graph, state.unit_workload
    for it in range(iterations):
        dev = state.workload - target
        if np.max(np.abs(dev)) <= tol * target:
            return it
        phi, _, _ = potential(state, dev)
        u, b, to_dest, to_own = state.candidates()
        a = state.labels[u]
        flow = phi[a] - phi[b]
        want = (flow > 0) & (w[u] <= FLOW_OVERSHOOT * flow)
        if not want.any():
            return it
        # Within a border, hand over first the units that belong more to b than to a: the
        # cut gets shorter and the districts rounder while the workload flows.
        belong = -(to_dest[want] - to_own[want]) / state.unit_perimeter[u[want]]
        order = np.flatnonzero(want)[np.lexsort((u[want], belong))]
        left: dict[tuple[int, int], float] = {}
        moved = 0
        for i in order:
            ui, ai, bi = int(u[i]), int(a[i]), int(b[i])
            if state.labels[ui] != ai:
                continue
            rem = left.setdefault((ai, bi), float(flow[i]))
            if w[ui] > FLOW_OVERSHOOT * rem or len(state.members[ai]) <= 1:
                continue
            if not (state.labels[g.neighbours(ui)] == bi).any():  # its neighbour in b has moved on
                continue
            if not connected_without(g, state.members[ai], ui):
                continue
            state.move(ui, bi)
            left[(ai, bi)] = rem - w[ui]
            moved += 1
        if moved == 0:
            return it
    return iterations


def diffuse_swaps(state: SearchState, tol, iterations: int = DIFFUSE_SWAP_ITERATIONS) -> int:
    """Fine balancing: the diffusion flows of `diffuse`, realised by swapping a boundary unit
    of a for one of b whose difference in workload matches the flow a -> b, since at a tight
    tolerance every flow is smaller than any single unit."""
    target, w = state.target, state.unit_workload
    for it in range(iterations):
        dev = state.workload - target
        if np.max(np.abs(dev)) <= tol * target:
            return it
        lab = state.labels
        phi, su, sv = potential(state, dev)
        side: dict[tuple[int, int], set] = {}
        for u, a, b in zip(su.tolist(), lab[su].tolist(), lab[sv].tolist()):
            if not state.fixed[u]:
                side.setdefault((a, b), set()).add(u)
        flows = sorted(((phi[a] - phi[b], a, b) for (a, b) in side if phi[a] > phi[b]), reverse=True)
        touched, applied = set(), 0
        for f, a, b in flows:
            if a in touched or b in touched or (b, a) not in side:
                continue
            if len(state.members[a]) <= 1 or len(state.members[b]) <= 1:
                continue
            ua, vb = state.boundary_pair(side, a, b)
            t = w[ua][:, None] - w[vb][None, :]
            # Best match to the flow, but never past the point where a and b swap roles.
            gain = 2 * t * (t - dev[a] + dev[b])
            miss = np.where((t > 0) & (gain < 0), np.abs(t - f), np.inf)
            if state.swap(a, b, ua, vb, miss, np.inf, FLOW_SWAP_TRIES):
                touched.update((a, b))
                applied += 1
        if applied == 0:
            return it
    return iterations
