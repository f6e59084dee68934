"""Further constraints beside the workload: other attributes held within their own limits per
district (Esri's several balance variables) and a largest distance from a district's centre.
Each is met by moves and swaps that keep the workload within the tolerance."""
from __future__ import annotations

import numpy as np

from .state import SearchState

# Rounds of each repair: bounded, the search never loops without end.
LIMIT_REPAIR_ROUNDS = 200
RADIUS_REPAIR_ROUNDS = 100
# Swaps tried per district pair (best first) before giving up on the pair.
SWAP_TRIES = 32
# Distances are in metres: a millimetre is no gain.
RADIUS_EPS = 1e-9
# A swap must lower the limits' excess by more than float noise.
MIN_SWAP_GAIN = 1e-12


class Limits:
    """Attributes (units x m) with a lower and upper total per district (k x m each), and the
    districts' running totals."""

    def __init__(self, values: np.ndarray, lower: np.ndarray, upper: np.ndarray, labels, k: int):
        self.values, self.lower, self.upper = values, lower, upper
        self.totals = np.zeros((k, values.shape[1]))
        np.add.at(self.totals, labels, values)
        self.scale = np.maximum(np.abs(upper), 1e-9)

    def excess(self, totals):
        """How far totals (..., m) lie outside the limits, relative to each upper limit."""
        return ((np.maximum(self.lower - totals, 0) + np.maximum(totals - self.upper, 0)) / self.scale).sum(-1)

    def total_excess(self) -> float:
        return float(self.excess(self.totals).sum())

    def ok(self, a, b, dv):
        """Does handing attributes dv from a to b leave the limits no worse?"""
        before = self.excess(self.totals[a]) + self.excess(self.totals[b])
        return self.excess(self.totals[a] - dv) + self.excess(self.totals[b] + dv) <= before + 1e-12

    def move(self, a, b, u) -> None:
        self.totals[a] -= self.values[u]
        self.totals[b] += self.values[u]


def limits_excess(state: SearchState) -> float:
    return 0.0 if state.limits is None else state.limits.total_excess()


def limits_ok(state: SearchState, a, b, dv):
    """Limits no worse after handing dv from a to b (always, without limits)."""
    return True if state.limits is None else state.limits.ok(a, b, dv)


def move_ok(state: SearchState, u, a, b, tol):
    """Moves of units u from a to b that keep the workload within the tolerance and the limits."""
    within = state.within_after(a, b, state.unit_workload[u], tol)
    return within & (state.limits.ok(a, b, state.limits.values[u]) if state.limits is not None else True)


def swap_ok(state: SearchState, a, b, ua, vb, tol):
    """Which (u of a, v of b) swaps keep both districts within the tolerance (and the limits)."""
    w = state.unit_workload
    ok = state.within_after(a, b, w[ua][:, None] - w[vb][None, :], tol)
    if state.limits is not None:
        v = state.limits.values
        ok &= state.limits.ok(a, b, v[ua][:, None, :] - v[vb][None, :, :])
    return ok


def limits_repair(state: SearchState, tol, rounds: int = LIMIT_REPAIR_ROUNDS) -> int:
    """Bring the further attributes within their limits by moves, then swaps, that keep the
    workload within the tolerance and every district connected."""
    lim = state.limits
    if lim is None or lim.total_excess() <= 0:
        return 0

    def score(u, a, b, border_to_b, border_to_own):
        dv = lim.values[u]
        return (lim.excess(lim.totals[a] - dv) + lim.excess(lim.totals[b] + dv)
                - lim.excess(lim.totals[a]) - lim.excess(lim.totals[b]))

    def ok(u, a, b):
        return state.within_after(a, b, state.unit_workload[u], tol)
    done = 0
    for _ in range(rounds):
        done += state.run_moves(score, rounds, ok)
        if lim.total_excess() <= 0 or not _limit_swaps(state, tol):
            break
    return done


def _limit_swaps(state: SearchState, tol) -> int:
    lim, w = state.limits, state.unit_workload
    pairs = state.boundary_sets()
    ex = lim.excess(lim.totals)
    applied, touched = 0, set()
    for a, b in sorted(p for p in pairs if p[0] < p[1]):
        if a in touched or b in touched or (b, a) not in pairs or ex[a] + ex[b] <= 0:
            continue
        ua, vb = state.boundary_pair(pairs, a, b)
        dv = lim.values[ua][:, None, :] - lim.values[vb][None, :, :]
        gain = lim.excess(lim.totals[a] - dv) + lim.excess(lim.totals[b] + dv) - ex[a] - ex[b]
        ok = state.within_after(a, b, w[ua][:, None] - w[vb][None, :], tol)
        if state.swap(a, b, ua, vb, np.where(ok, gain, np.inf), -MIN_SWAP_GAIN, SWAP_TRIES):
            touched.update((a, b))
            applied += 1
    return applied


# ---- a maximum distance from the district's centre -------------------------------------------

def radius_excess(state: SearchState, centres=None) -> np.ndarray:
    """Per unit, how far (m) it lies beyond the radius from its district's centre."""
    if state.max_radius is None:
        return np.zeros(len(state.unit_workload))
    centres = state.centres() if centres is None else centres
    return np.maximum(np.hypot(*(state.centroid - centres[state.labels]).T) - state.max_radius, 0)


def radius_ok(state: SearchState, u, b, centres):
    """Do units u (array) stay within the radius of b's centre (or is there no radius)?"""
    if state.max_radius is None:
        return True
    return np.hypot(*(state.centroid[u] - centres[b]).T) <= state.max_radius + RADIUS_EPS


def radius_repair(state: SearchState, tol, rounds: int = RADIUS_REPAIR_ROUNDS) -> int:
    """Move units beyond the radius to a neighbouring district whose centre is nearer, keeping
    the workload within the tolerance (and further attributes in their limits)."""
    if state.max_radius is None or not radius_excess(state).any():
        return 0
    r = state.max_radius
    done = 0
    for _ in range(rounds):
        centres = state.centres()

        def score(u, a, b, border_to_b, border_to_own, centres=centres):
            d_a = np.hypot(*(state.centroid[u] - centres[a]).T)
            d_b = np.hypot(*(state.centroid[u] - centres[b]).T)
            return np.maximum(d_b - r, 0) - np.maximum(d_a - r, 0)

        before = radius_excess(state, centres).sum()
        state.run_moves(score, 1, lambda u, a, b: move_ok(state, u, a, b, tol))
        if radius_excess(state).sum() >= before - RADIUS_EPS and not _radius_swaps(state, tol, state.centres()):
            break
        done += 1
        if not radius_excess(state).any():
            break
    return done


def _radius_swaps(state: SearchState, tol, centres) -> int:
    ex = radius_excess(state, centres)
    pairs = state.boundary_sets()
    r = state.max_radius
    applied, touched = 0, set()
    for a, b in sorted(p for p in pairs if p[0] < p[1]):
        if a in touched or b in touched or (b, a) not in pairs:
            continue
        ua, vb = state.boundary_pair(pairs, a, b)
        if not (ex[ua].any() or ex[vb].any()):
            continue
        after_u = np.maximum(np.hypot(*(state.centroid[ua] - centres[b]).T) - r, 0)
        after_v = np.maximum(np.hypot(*(state.centroid[vb] - centres[a]).T) - r, 0)
        gain = (after_u - ex[ua])[:, None] + (after_v - ex[vb])[None, :]
        ok = swap_ok(state, a, b, ua, vb, tol)
        if state.swap(a, b, ua, vb, np.where(ok, gain, np.inf), -RADIUS_EPS, SWAP_TRIES):
            touched.update((a, b))
            applied += 1
    return applied
