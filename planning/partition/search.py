"""The search for one group of units: a first cut (or the previous plan), then balancing,
the further constraints and compaction, stepping the tolerance down to the one asked; the best
of several starts is kept."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .balance import balance, diffuse, diffuse_swaps
from .compact import compaction
from .constraints import Limits, limits_excess, limits_repair, radius_repair
from .first_cut import first_cut
from .graph import UnitGraph
from .inputs import refuse_heavy_units
from .replan import from_previous
from .report import plan_measures
from .state import SearchState, meets

# Tolerances the search passes through on its way to the one asked (continuation): compact at
# a loose tolerance first, then tighten step by step, so each balancing step starts from round
# districts and only has to nudge them.
TOLERANCE_STEPS = (0.15, 0.08, 0.05, 0.035, 0.025, 0.015)
# A start that misses the tolerance gets up to this many more (fresh seeds): bounded, and the
# best plan is kept whatever happens.
EXTRA_STARTS = 2


@dataclass
class Group:
    """One group of units to cut into k districts, with what the search needs of them."""
    graph: UnitGraph
    w: np.ndarray
    area: np.ndarray
    perim: np.ndarray
    centroid: np.ndarray
    k: int
    units: object                       # the group's rows (for names in messages)
    where: str = ""                     # " in <parent> <name>" for messages
    prev: np.ndarray | None = None      # previous labels: a re-plan starts from them
    seeds: np.ndarray | None = None     # seed index per unit (-1 none)
    side: np.ndarray | None = None      # side of the slow barriers per unit
    limits: tuple | None = None         # (values, lower, upper)


@dataclass
class Settings:
    """The estimator's parameters the search uses."""
    tolerance: float
    max_rounds: int
    compactness: bool
    init: str
    n_init: int
    max_radius: float | None


def new_state(group: Group, labels, target, fixed=None) -> SearchState:
    state = SearchState(group.graph, group.w, group.area, group.perim, labels, group.k, target, fixed,
                        group.centroid)
    if group.limits is not None:
        state.limits = Limits(*group.limits, labels, group.k)
    return state


def solve(group: Group, settings: Settings, rng):
    """Best of `n_init` runs (a re-plan runs once: it starts from the previous plan): plans
    within the tolerance first, then the roundest (mean Polsby-Popper)."""
    tol = settings.tolerance
    runs = 1 if group.prev is not None else max(1, int(settings.n_init))
    best, best_key, total = None, None, {"balance": 0, "compactness": 0}
    extra = 0 if group.prev is not None else EXTRA_STARTS
    for run in range(runs + extra):
        if run >= runs and best_key[0]:
            break
        labels, rounds = solve_once(group, settings, rng)
        state = new_state(group, labels, group.w.sum() / group.k)
        rep = plan_measures(state)
        key = (meets(rep["max_deviation"], tol), -limits_excess(state), rep["polsby_popper_mean"],
               -rep["max_deviation"])
        for kk in total:
            total[kk] += rounds[kk]
        if best_key is None or key > best_key:
            best, best_key = labels, key
    return best, total


def solve_once(group: Group, settings: Settings, rng):
    tolerance, max_rounds = settings.tolerance, settings.max_rounds
    g, w, k, prev = group.graph, group.w, group.k, group.prev
    target = w.sum() / k
    refuse_heavy_units(w, target, tolerance, group.units, group.where)
    if prev is not None:
        labels = from_previous(g, w, group.centroid, prev, k, rng)
    else:
        labels = first_cut(g, w, group.centroid, group.area, k, rng, settings.init, group.seeds, group.side)
    state = new_state(group, labels, target, None if group.seeds is None else group.seeds >= 0)
    state.max_radius = settings.max_radius
    compact = settings.compactness and prev is None  # a re-plan keeps districts where they are
    steps = [t for t in TOLERANCE_STEPS if t > tolerance] + [tolerance]
    rounds = {"balance": 0, "compactness": 0}
    # A re-plan whose district count changed starts far from balance: tighten step by step too.
    changed = prev is not None and len(np.unique(prev[prev >= 0])) != k
    for tol in (steps if compact or changed else [tolerance]):
        # A re-plan fixes only what is outside the tolerance, locally, before any global flow.
        lazy = prev is not None
        if lazy:
            rounds["balance"] += balance(state, max_rounds, tol, lazy=True)
        if state.max_deviation() > tol:
            rounds["balance"] += diffuse(state, tol)
            rounds["balance"] += balance(state, max_rounds, tol, lazy=lazy)
        if state.max_deviation() > tol:  # flows finer than any unit: realise them by swaps
            rounds["balance"] += diffuse_swaps(state, tol)
            rounds["balance"] += balance(state, max_rounds, tol, lazy=lazy)
        rounds["balance"] += limits_repair(state, tol)
        rounds["balance"] += radius_repair(state, tol)
        if compact:
            rounds["compactness"] += compaction(state, max_rounds, tol)
    if not meets(state.max_deviation(), tolerance):
        rounds["balance"] += balance(state, max_rounds, tolerance)
        rounds["balance"] += limits_repair(state, tolerance)
        rounds["balance"] += radius_repair(state, tolerance)
        if compact:  # the last balancing ignored shape: round the districts again
            rounds["compactness"] += compaction(state, max_rounds, tolerance)
    return state.labels, rounds
