"""Editing a plan by hand: moves of units between districts checked against the plan's own rules
(every district contiguous on the unit graph, always; within the tolerance, unless the planner
overrides it; locked districts untouched), and suggested moves that bring a district back within
the tolerance (the partitioner's own balancing, on the edited plan).

The plan is a `PlanGraph`: unit ids, their district codes, workloads and neighbours (positions),
with the target and tolerance it was made for. A check costs the moved units plus a search
inside the districts they leave and join (never the whole city): each leave is tested with the
partitioner's early-stopping search (graph.connected_without) when one unit goes, a search over
the district's remaining units when several do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
from scipy import sparse

from gis.errors import InputError

from .balance import balance
from .graph import UnitGraph, connected, connected_without
from .state import SearchState
from .report import dissolve_districts

MAX_SUGGESTIONS = 200      # moves a suggestion lists at most (a planner reads them one by one)
SUGGEST_ROUNDS = 20        # rounds of the partitioner's balancing a suggestion may take


@dataclass
class PlanGraph:
    units: list[str]                 # unit ids, in the order of the graph
    codes: np.ndarray                # district code per unit (object array)
    workload: np.ndarray             # per unit
    neighbours: list[list[int]]      # positions, both directions, island links included
    target: float
    tolerance: float
    _graph: UnitGraph | None = field(default=None, repr=False)
    _pos: dict | None = field(default=None, repr=False)

    @property
    def graph(self) -> UnitGraph:
        if self._graph is None:
            rows = np.repeat(np.arange(len(self.units)), [len(n) for n in self.neighbours])
            cols = np.array([j for n in self.neighbours for j in n], dtype=int)
            adj = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(self.units), len(self.units)))
            self._graph = UnitGraph.from_csr(adj)
        return self._graph

    def position(self, unit: str) -> int:
        if self._pos is None:
            self._pos = {u: i for i, u in enumerate(self.units)}
        if unit not in self._pos:
            raise InputError(f"unit {unit!r} is not in the plan")
        return self._pos[unit]

    def loads(self, codes: np.ndarray | None = None) -> dict[str, float]:
        codes = self.codes if codes is None else codes
        out: dict[str, float] = {}
        for c, w in zip(codes, self.workload):
            out[c] = out.get(c, 0.0) + float(w)
        return out

    def deviation(self, load: float) -> float:
        return load / self.target - 1.0 if self.target else 0.0


@dataclass
class MoveCheck:
    ok: bool
    reason: str | None                          # why the moves are refused (None when ok)
    districts: dict[str, dict]                  # code -> workload, deviation, contiguous, within, before
    moved: int


def _members(codes: np.ndarray, code: str) -> set[int]:
    return set(np.flatnonzero(codes == code).tolist())


def check_moves(plan: PlanGraph, moves: dict[str, str], *, locked: set[str] = frozenset(),
                override_tolerance: bool = False) -> MoveCheck:
    """The districts the moves touch, before and after, and whether the moves may be made: a
    district left or joined must stay in one piece (never overridable), a locked one must not
    change, and one that ends outside the tolerance must not be further from the target than it
    was (overridable: a planner may knowingly leave a district over)."""
    known = set(plan.codes.tolist())
    pos = {}
    for unit, code in moves.items():
        if code not in known:
            raise InputError(f"district {code!r} is not in the plan (districts: {', '.join(sorted(known))})")
        pos[plan.position(unit)] = code
    new = plan.codes.copy()
    for i, code in pos.items():
        new[i] = code
    changed = {i for i in pos if plan.codes[i] != new[i]}
    touched = sorted({plan.codes[i] for i in changed} | {new[i] for i in changed})
    before, after = plan.loads(), {}
    w = plan.workload
    for c in touched:
        after[c] = before[c] + sum(float(w[i]) for i in changed if new[i] == c) - \
            sum(float(w[i]) for i in changed if plan.codes[i] == c)
    out, reason = {}, None
    graph = plan.graph
    for c in touched:
        leaving = [i for i in changed if plan.codes[i] == c]
        if len(leaving) == 1 and not any(new[i] == c for i in changed):
            contiguous = connected_without(graph, _members(plan.codes, c), leaving[0])
        else:
            contiguous = connected(graph, _members(new, c))
        if not _members(new, c):
            contiguous = False          # a district emptied is a district lost
        dev0, dev1 = plan.deviation(before[c]), plan.deviation(after[c])
        within = abs(dev1) <= plan.tolerance + 1e-12
        out[c] = {"workload": after[c], "deviation": dev1, "contiguous": contiguous, "within_tolerance": within,
                  "workload_before": before[c], "deviation_before": dev0}
        if reason is None and c in locked:
            reason = f"district {c} is locked"
        elif reason is None and not contiguous:
            reason = (f"district {c} would be left in pieces" if any(plan.codes[i] == c for i in changed)
                      else f"district {c} would not be in one piece with the units it takes")
            if not _members(new, c):
                reason = f"district {c} would be left with no unit"
        elif reason is None and not within and abs(dev1) > abs(dev0) + 1e-12 and not override_tolerance:
            reason = (f"district {c} would be {dev1:+.1%} from the target workload, outside the tolerance of "
                      f"{plan.tolerance:.1%} (override the tolerance to move anyway)")
    return MoveCheck(reason is None, reason, out, len(changed))


def suggest_moves(plan: PlanGraph, *, locked: set[str] = frozenset(), rounds: int = SUGGEST_ROUNDS) -> list[dict]:
    """The moves that bring the districts outside the tolerance back within it: the
    partitioner's own balancing (planning.partition.balance, in its re-plan mode, which moves
    only while a district is outside the tolerance and never pushes one out) run on the edited
    plan, locked districts held fixed. Each move keeps both districts in one piece (the search's
    own check); the list is what changed, with each district's deviation at the end."""
    names = sorted(set(plan.codes.tolist()))
    index = {c: i for i, c in enumerate(names)}
    labels = np.array([index[c] for c in plan.codes])
    fixed = np.isin(plan.codes, list(locked))
    n = len(plan.units)
    # Areas and perimeters only break ties between equal gains here (the shared-border lengths of
    # the stored graph are not kept): ones and zeros leave the balance itself untouched.
    state = SearchState(plan.graph, plan.workload, np.ones(n), np.zeros(n), labels, len(names), plan.target,
                        fixed=fixed)
    balance(state, rounds, plan.tolerance, lazy=True)
    loads = {c: float(state.workload[i]) for c, i in index.items()}
    out = [{"unit": plan.units[u], "from": names[labels[u]], "to": names[state.labels[u]],
            "workload": float(plan.workload[u]),
            "deviation_from": plan.deviation(loads[names[labels[u]]]),
            "deviation_to": plan.deviation(loads[names[state.labels[u]]])}
           for u in np.flatnonzero(state.labels != labels)]
    return sorted(out, key=lambda m: -m["workload"])[:MAX_SUGGESTIONS]


def plan_graph(units: gpd.GeoDataFrame, target: float, tolerance: float) -> PlanGraph:
    """A PlanGraph from a plan's saved units (gis.plans.plan_units: unit_id, district, workload,
    neighbours as unit ids)."""
    ids = units["unit_id"].astype(str).tolist()
    pos = {u: i for i, u in enumerate(ids)}
    neighbours = [sorted(pos[v] for v in (n or []) if v in pos) for n in units["neighbours"]]
    return PlanGraph(ids, units["district"].astype(str).to_numpy(dtype=object),
                     units["workload"].to_numpy(dtype=float), neighbours, float(target), float(tolerance))


def edited_plan(units: gpd.GeoDataFrame, plan: PlanGraph, moves: dict[str, str], *, locked: set[str] = frozenset(),
                override_tolerance: bool = False) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """The plan after the moves, checked as one change (check_moves), as the partitioner returns a
    plan: the units with their `district`, the dissolved districts with totals and measures,
    and the report. `units` in a metric CRS, in the order of `plan`."""
    check = check_moves(plan, moves, locked=locked, override_tolerance=override_tolerance)
    if not check.ok:
        raise InputError(f"the edit is refused: {check.reason}")
    codes = plan.codes.copy()
    for unit, code in moves.items():
        codes[plan.position(unit)] = code
    names = sorted(set(codes.tolist()))
    labels = np.array([names.index(c) for c in codes])
    report: dict = {"per_district": {}}
    districts = dissolve_districts(units, plan.workload, labels, len(names), np.nan, plan.target, report)
    districts["district"] = np.array(names, dtype=object)[districts["district"].to_numpy()]
    dev = districts["deviation"].to_numpy()
    pieces = sum(not connected(plan.graph, _members(codes, c)) for c in names)
    report.pop("per_district")
    report.update({"max_deviation": float(np.abs(dev).max()), "mean_deviation": float(np.abs(dev).mean()),
                   "non_contiguous": int(pieces), "n_units": len(codes), "n_districts": len(names),
                   "target": plan.target, "tolerance": plan.tolerance,
                   "within_tolerance": bool(np.abs(dev).max() <= plan.tolerance + 1e-12),
                   "edited": {"moved_units": int((codes != plan.codes).sum()), "locked": sorted(locked),
                              "tolerance_overridden": bool(override_tolerance)}})
    out = units.copy()
    out["district"] = codes
    return out, districts, report
