"""The estimator: parameters stored in __init__, checked first in `fit`, fitted state (names
ending in _) set at the end of `fit` only (scikit-learn's contract)."""
from __future__ import annotations

import numbers
import time
from dataclasses import replace

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse

from gis.errors import InputError

from . import inputs, replan
from . import report as reports
from .errors import InfeasiblePlan
from .graph import UnitGraph, barrier_sides, join_islands
from .layout import plan_layout
from .search import Group, Settings, solve
from .state import SearchState, meets


class DistrictPartitioner:
    """Split units into districts of balanced workload.

    Parameters
    ----------
    n_districts, target_size : exactly one; `target_size` gives k = round(total / target_size).
    tolerance : largest allowed relative deviation of a district's workload from the target.
    weight : a column name, or {column: coefficient} for a weighted workload (default subscribers).
    islands : "join" (link each disconnected part to its nearest unit, reported) or "refuse".
    compactness : run the compactness phase after balancing.
    random_state : seeds the tie-breaking; the same input and seed give the same plan.
    max_rounds : bound on local-search rounds per phase (the search never loops without bound).
    parent : column of a parent area (office region, community); districts nest inside it, each
        parent getting districts in proportion to its workload (at least one).
    previous : column with the previous plan's district of each unit (empty for new units): the
        plan starts from it and restores balance moving as little workload as possible;
        `report_["churn"]` is the share of workload whose district changed.
    locked : column with a district code for the units of districts to keep exactly (empty for
        the rest); those districts count towards the k, keep their code, and are not rebalanced.
    n_init : independent starts (power-diagram seeds); the best plan is kept: within the
        tolerance first, then the roundest. Time grows linearly.
    seeds : column naming a seed (a manager's base) on at most one unit per name: each seed gets
        its own district, grown from it, and the seed unit never leaves it.
    limits : further attributes each held within its own limits per district, as Esri's several
        balance variables: {column: r} keeps every district within +-r of the mean (the ideal),
        {column: (min, max)} within absolute bounds. Hard limits, met by moves and swaps that keep
        the workload within the tolerance; what cannot be met is reported (`report_["limits"]`).
    parent_counts : {parent: number of districts} to set the count per parent area instead of
        deriving it from the workload (every parent named; the total is the plan's k).
    max_radius : metres: every unit (its centroid) within this distance of its district's
        centre (workload-weighted). Units beyond it are moved or swapped to a neighbour whose
        centre is nearer, within the tolerance, and no compaction step may push a unit beyond
        it; a radius the balance does not allow (a sparse outskirt needs a wide district) is
        reported with the units over it (`report_["radius"]`), as is every plan's largest radius.
    """

    def __init__(self, n_districts: int | None = None, target_size: float | None = None, *,
                 tolerance: float = 0.02, weight=None, islands: str = "join", compactness: bool = True,
                 random_state: int | None = None, max_rounds: int = 400, init: str = "power",
                 parent: str | None = None, previous: str | None = None, locked: str | None = None,
                 n_init: int = 1, seeds: str | None = None, limits: dict | None = None,
                 max_radius: float | None = None, parent_counts: dict | None = None):
        self.n_districts = n_districts
        self.target_size = target_size
        self.tolerance = tolerance
        self.weight = weight
        self.islands = islands
        self.compactness = compactness
        self.random_state = random_state
        self.max_rounds = max_rounds
        self.init = init
        self.parent = parent
        self.previous = previous
        self.locked = locked
        self.n_init = n_init
        self.seeds = seeds
        self.limits = limits
        self.max_radius = max_radius
        self.parent_counts = parent_counts

    # ---- validation -----------------------------------------------------------------------

    def _validate_params(self) -> None:
        """Every rule on the parameters alone, checked before any data is read, whatever the
        request (a first plan or a re-plan)."""
        def positive(x) -> bool:
            return isinstance(x, numbers.Real) and not isinstance(x, bool) and bool(np.isfinite(x)) and x > 0

        if not (positive(self.tolerance) and self.tolerance < 1):
            raise InputError(f"tolerance must be between 0 and 1 (e.g. 0.02 for 2 %), not {self.tolerance!r}")
        if self.islands not in ("join", "refuse"):
            raise InputError(f"islands must be 'join' or 'refuse', not {self.islands!r}")
        if self.max_radius is not None and not positive(self.max_radius):
            raise InputError(f"max_radius must be a positive distance in metres, not {self.max_radius!r}")
        if self.limits:
            inputs.limit_spec(self.limits)
        replanning = self.previous is not None
        if self.n_districts is not None and self.target_size is not None:
            raise InputError("give exactly one of n_districts and target_size")
        if self.n_districts is None and self.target_size is None and not self.parent_counts and not replanning:
            raise InputError("give exactly one of n_districts and target_size")
        if self.n_districts is not None and not (positive(self.n_districts) and float(self.n_districts).is_integer()):
            raise InputError(f"n_districts must be a positive integer, not {self.n_districts!r}")
        if self.target_size is not None and not positive(self.target_size):
            raise InputError(f"target_size must be a positive number, not {self.target_size!r}")

    def _k(self, total: float, n: int, prev=None) -> int:
        """The number of districts, from the parameters (validated) and the data."""
        if self.n_districts is None and self.target_size is None and prev is not None:
            k = int(prev.max()) + 1  # a re-plan keeps the previous number of districts
            if k > n:
                raise InfeasiblePlan(f"{k} districts asked of {n} units")
            return k
        if self.n_districts is None and self.target_size is None:
            k = int(sum(self.parent_counts.values()))  # the counts per parent set the total
        elif self.n_districts is not None:
            k = int(self.n_districts)
        else:
            ratio = total / self.target_size
            if not np.isfinite(ratio) or ratio > n + 0.5:   # a tiny target would ask for more districts than units
                raise InfeasiblePlan(f"a target size of {self.target_size:g} per district makes {ratio:.3g} districts "
                                     f"of {n} units: a district is at least one whole unit, so the target size must "
                                     f"be at least {total / n:,.0f}")
            k = max(1, round(float(ratio)))
        if k > n:
            raise InfeasiblePlan(f"{k} districts asked of {n} units: a district is at least one whole unit; "
                                 f"at most {n} districts are possible")
        return k

    def check_params(self, total: float, n_units: int) -> int | None:
        """The checks `fit` makes of the parameters alone, on a total workload and a number of
        units: lets a caller refuse a wrong request before it builds the units. Returns k, or
        None for a re-plan that keeps the previous plan's count (known only from its labels)."""
        self._validate_params()
        if self.previous is not None and self.n_districts is None and self.target_size is None \
                and not self.parent_counts:
            return None
        return self._k(total, n_units)

    # ---- fit ------------------------------------------------------------------------------

    def fit(self, units: gpd.GeoDataFrame, adjacency: sparse.spmatrix | None = None,
            crossings: gpd.GeoDataFrame | None = None, slow_pairs=None) -> DistrictPartitioner:
        """`slow_pairs`: (a, b) unit pairs whose border runs along a barrier that slows growth
        (gis.units.adjacency lists them): a district's first cut does not grow across it unless
        it must, and the search treats that border as nearly no border."""
        t0 = time.perf_counter()
        self._validate_params()
        units, geoms = inputs.metric_units(units)
        w = inputs.workload(units, self.weight)
        total = w.sum()
        if total <= 0:
            raise InputError("total workload is zero: nothing to balance")
        prev, previous_codes = inputs.previous_labels(units, self.previous)
        k = self._k(total, len(units), prev)
        rng = np.random.default_rng(self.random_state)
        if adjacency is None:
            from gis.units import adjacency as build_adjacency
            adjacency, _ = build_adjacency(units, crossings=crossings)
        adjacency = sparse.csr_matrix(adjacency)
        if adjacency.shape != (len(units), len(units)):
            raise InputError(f"adjacency is {adjacency.shape[0]} x {adjacency.shape[1]} for {len(units)} units")
        area = shapely.area(geoms)
        perim = shapely.length(shapely.boundary(geoms))
        centroid = shapely.get_coordinates(shapely.centroid(geoms))
        side = barrier_sides(adjacency, slow_pairs)

        layout = plan_layout(units, adjacency, w, prev, previous_codes, k, parent=self.parent,
                             locked=self.locked, seeds=self.seeds, tolerance=self.tolerance,
                             islands=self.islands)
        kept, free, regrow = layout.kept_codes, layout.free, layout.regrow
        k_free = k - len(kept)
        seed_of = inputs.seed_column(units, self.seeds, free)
        values, limit_spec = inputs.limit_columns(units, self.limits)
        groups = list(dict.fromkeys(layout.groups[free].tolist()))
        quota = (inputs.parent_quotas(groups, layout.groups[free], w[free], k_free, self.parent, self.parent_counts)
                 if free.any() else {})
        labels = np.full(len(units), -1)
        targets = np.zeros(k)
        if values is not None:
            lower, upper = np.full((k, values.shape[1]), -np.inf), np.full((k, values.shape[1]), np.inf)
        for j, code in enumerate(kept):
            mine = (layout.kept_column == code).fillna(False).to_numpy(dtype=bool)
            labels[mine] = k_free + j
            # A user's lock is kept as is (its balance is not this plan's to fix); a district a
            # re-plan keeps is measured against the target like any other.
            targets[k_free + j] = total / k if regrow else w[mine].sum()
        settings = Settings(self.tolerance, self.max_rounds, self.compactness, self.init, self.n_init, self.max_radius)
        links, rounds, offset = [], {"balance": 0, "compactness": 0}, 0
        for name in groups:
            idx = np.flatnonzero((layout.groups == name) & free)
            kg = quota[name]
            sub_units = units.iloc[idx]
            sub_adj, sub_links = join_islands(sub_units, adjacency[idx][:, idx], self.islands)
            links += sub_links
            where = f" in {self.parent} {str(name).split('#')[0]}" if self.parent else ""
            bounds = None
            if values is not None:
                bounds = inputs.limit_bounds(values[idx], kg, limit_spec)
                lower[offset:offset + kg], upper[offset:offset + kg] = bounds
            tolerance = (replan.region_tolerance(self.tolerance, w[idx].sum(), kg, total / k) if regrow
                         else self.tolerance)
            group = Group(UnitGraph.from_csr(sub_adj), w[idx], area[idx], perim[idx], centroid[idx], kg, sub_units,
                          where, None if prev is None or regrow else prev[idx],
                          inputs.group_seeds(seed_of, idx, kg, where), None if side is None else side[idx],
                          None if values is None else (values[idx], *bounds))
            lab, r = solve(group, replace(settings, tolerance=tolerance), rng)
            labels[idx] = lab + offset
            targets[offset:offset + kg] = w[idx].sum() / kg
            for key in rounds:
                rounds[key] += r[key]
            offset += kg
        if regrow:  # back to the previous plan's labels: kept ones as they were, new ones matched
            labels = replan.match_previous(labels, prev, w, k_free, kept)
            targets[:] = total / k

        state = SearchState(UnitGraph.from_csr(adjacency), w, area, perim, labels, k, targets, centroid=centroid)
        dist = np.hypot(*(centroid - state.centres()[labels]).T)
        radius = np.zeros(k)
        np.maximum.at(radius, labels, dist)
        limits_report = (reports.limits_report(labels, k, values, lower, upper, limit_spec)
                         if values is not None else None)
        target = targets if self.parent else float(targets[0])
        report = reports.plan_measures(state)
        report.update({
            "n_units": len(units), "n_districts": k, "target": float(np.mean(targets)), "tolerance": self.tolerance,
            "within_tolerance": meets(report["max_deviation"], self.tolerance),
            "islands_joined": [{"from": str(a), "to": str(b), "distance_m": round(d, 1)} for a, b, d in links],
            "rounds": rounds,
        })
        if values is not None:
            report["limits"] = limits_report
        report["radius"] = reports.radius_report(units, labels, dist, radius, self.max_radius)
        if self.parent:
            report["districts_per_parent"] = reports.per_parent(quota)
        if regrow:
            report["replanned_region"] = {"districts": int(k_free), "units": int(free.sum()),
                                          "workload_share": float(w[free].sum() / total)}
        if kept and not regrow:
            mean_target = w[free].sum() / max(k_free, 1) if free.any() else float(np.mean(targets))
            report["locked"] = [{"district": str(c), "workload": float(targets[k_free + j]),
                                 "deviation_from_target": float(targets[k_free + j] / mean_target - 1)}
                                for j, c in enumerate(kept)]
        seeds = None
        if seed_of is not None:
            seeds = {str(n): int(labels[i]) for i, n in enumerate(seed_of) if n != ""}
            report["seeds"] = seeds
        realignment = None
        if prev is not None:
            report["churn"], report["units_moved"], realignment = replan.churn(labels, prev, w, inputs.unit_ids(units))
        if not report["within_tolerance"]:
            report["relaxation"] = reports.relaxation(report, self.tolerance)
        report["runtime_s"] = round(time.perf_counter() - t0, 3)
        districts = reports.dissolve_districts(units, w, labels, k, radius, target, report)
        # Fitted state, all at once at the end: a fit that raises leaves none behind.
        self.labels_, self.n_districts_, self.target_, self.links_ = labels, k, target, links
        self.radius_, self.report_limits_, self.report_, self.districts_ = radius, limits_report, report, districts
        self.previous_codes_, self.locked_codes_ = previous_codes, [] if regrow else [str(c) for c in kept]
        self.seeds_, self.realignment_ = seeds, realignment
        return self
