"""Districts from planning units: balanced, contiguous, compact, exactly as many as asked.

    part = DistrictPartitioner(n_districts=148, tolerance=0.01, random_state=0).fit(units)
    part.labels_            # district of each unit (0 .. k-1), aligned with `units`
    part.districts_         # GeoDataFrame: one dissolved polygon per district with its totals
    part.report_            # max/mean deviation, contiguity, Polsby-Popper, cut edges, runtime

How (each step keeps every district contiguous):
1. the unit graph (shared borders, from gis.units.adjacency unless given); islands are joined to
   their nearest unit across an explicit, reported link, or refused;
2. a first cut by recursive bisection: each region needing k districts is split into two
   connected parts weighted k1 : k2, grown from one end of its long axis, so parts are compact;
3. local search over single boundary moves: first balance (sum of squared deviations from the
   target), then compactness (mean Polsby-Popper) under the tolerance as a hard bound. A move is
   applied only if the donor district stays connected; many independent moves per round;
4. merge-and-resplit of neighbouring districts along the roundest straight cut that keeps both
   within the tolerance (see `_State.recombine`), which undoes shapes local moves cannot.
"""
from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gis.errors import InputError, PianquError


# Tolerances the search passes through on its way to the one asked (see _solve).
STEPS = (0.15, 0.08, 0.05, 0.035, 0.025, 0.015)


class InfeasiblePlan(PianquError):
    """The request cannot be met; the message says which constraint, which units, and what is
    reachable instead."""

    status = 422


@dataclass
class _Graph:
    indptr: np.ndarray
    indices: np.ndarray
    border: np.ndarray          # shared border length (m) per directed edge
    src: np.ndarray             # source unit per directed edge

    @classmethod
    def from_csr(cls, adj: sparse.csr_matrix) -> "_Graph":
        adj = adj.tocsr()
        src = np.repeat(np.arange(adj.shape[0]), np.diff(adj.indptr))
        return cls(adj.indptr, adj.indices, adj.data.astype(float), src)

    def nbrs(self, u: int) -> np.ndarray:
        return self.indices[self.indptr[u]:self.indptr[u + 1]]


def _workload(units: pd.DataFrame, weight) -> np.ndarray:
    if weight is None:
        weight = "subscribers"
    if isinstance(weight, str):
        weight = {weight: 1.0}
    missing = [c for c in weight if c not in units.columns]
    if missing:
        raise InputError(f"units have no workload column {', '.join(map(repr, missing))} "
                         f"(columns: {', '.join(map(str, units.columns))})")
    w = np.zeros(len(units))
    for col, coef in weight.items():
        v = pd.to_numeric(units[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"workload column {col!r} must be a non-negative number; row {i + 1} has {units[col].iat[i]}")
        w += coef * v
    return w


def _connected(g: _Graph, members: set[int], removed: int) -> bool:
    """Is `members` minus `removed` still connected? (Members are connected before.)"""
    inside = [v for v in g.nbrs(removed) if v in members and v != removed]
    if len(inside) <= 1:
        return True
    targets = set(inside)
    seen = {inside[0]}
    stack = [inside[0]]
    while stack:
        x = stack.pop()
        for y in g.nbrs(x):
            if y != removed and y in members and y not in seen:
                seen.add(y)
                targets.discard(y)
                if not targets:
                    return True
                stack.append(y)
    return not (targets - seen)


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

    def _k(self, total: float, n: int, prev=None) -> int:
        if self.n_districts is None and self.target_size is None and prev is not None:
            k = int(prev.max()) + 1  # a re-plan keeps the previous number of districts
            if k > n:
                raise InfeasiblePlan(f"{k} districts asked of {n} units")
            return k
        if self.n_districts is None and self.target_size is None and self.parent_counts:
            k = int(sum(self.parent_counts.values()))  # the counts per parent set the total
        elif (self.n_districts is None) == (self.target_size is None):
            raise InputError("give exactly one of n_districts and target_size")
        elif self.n_districts is not None:
            k = int(self.n_districts)
            if k != self.n_districts or k < 1:
                raise InputError(f"n_districts must be a positive integer, not {self.n_districts!r}")
        else:
            if not (self.target_size and self.target_size > 0 and np.isfinite(self.target_size)):
                raise InputError(f"target_size must be a positive number, not {self.target_size!r}")
            ratio = total / self.target_size
            if not np.isfinite(ratio) or ratio > n + 0.5:   # a tiny target would ask for more districts than units
                raise InfeasiblePlan(f"a target size of {self.target_size:g} per district makes {ratio:.3g} districts "
                                     f"of {n} units: a district is at least one whole unit, so the target size must "
                                     f"be at least {total / n:,.0f}")
            k = max(1, int(round(ratio)))
        if k > n:
            raise InfeasiblePlan(f"{k} districts asked of {n} units: a district is at least one whole unit; "
                                 f"at most {n} districts are possible")
        if not (0 < self.tolerance < 1):
            raise InputError(f"tolerance must be between 0 and 1 (e.g. 0.02 for 2 %), not {self.tolerance!r}")
        if self.max_radius is not None and not (np.isfinite(self.max_radius) and self.max_radius > 0):
            raise InputError(f"max_radius must be a positive distance in metres, not {self.max_radius!r}")
        if self.islands not in ("join", "refuse"):
            raise InputError(f"islands must be 'join' or 'refuse', not {self.islands!r}")
        return k

    def check_params(self, total: float, n_units: int) -> int:
        """The checks `fit` makes of the parameters alone, on a total workload and a number of
        units: lets a caller refuse a wrong request before it builds the units. Returns k."""
        if not (isinstance(self.tolerance, (int, float)) and 0 < self.tolerance < 1):
            raise InputError(f"tolerance must be between 0 and 1 (e.g. 0.02 for 2 %), not {self.tolerance!r}")
        if self.limits:
            self._limit_spec()
        return self._k(total, n_units)

    # ---- fit ------------------------------------------------------------------------------

    def fit(self, units: gpd.GeoDataFrame, adjacency: sparse.spmatrix | None = None,
            crossings: gpd.GeoDataFrame | None = None, slow_pairs=None) -> "DistrictPartitioner":
        """`slow_pairs`: (a, b) unit pairs whose border runs along a barrier that slows growth
        (gis.units.adjacency lists them): a district's first cut does not grow across it unless
        it must, and the search treats that border as nearly no border."""
        t0 = time.perf_counter()
        if len(units) == 0:
            raise InputError("no units to partition")
        units = units.reset_index(drop=True)
        if units.crs is not None and units.crs.is_geographic:
            from gis.crs import utm_epsg_for
            units = units.to_crs(utm_epsg_for(units.geometry))
        geoms = units.geometry.to_numpy()
        bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        if bad.any():
            raise InputError(f"unit row {int(np.flatnonzero(bad)[0]) + 1} has no geometry")
        w = _workload(units, self.weight)
        total = w.sum()
        if total <= 0:
            raise InputError("total workload is zero: nothing to balance")
        prev = self._previous(units)
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
        side = None
        if slow_pairs is not None and len(slow_pairs):
            a_, b_ = np.asarray(slow_pairs, dtype=int).T
            cut = adjacency.tolil(copy=True)
            cut[a_, b_] = 0
            cut[b_, a_] = 0
            cut = cut.tocsr()
            cut.eliminate_zeros()
            side = connected_components(cut, directed=False)[1]

        # Nesting: each parent area gets its own districts, as many as its share of the workload.
        if self.parent is not None:
            if self.parent not in units.columns:
                raise InputError(f"units have no parent column {self.parent!r}")
            parents = units[self.parent].astype("string").fillna("(none)").to_numpy()
        else:
            parents = np.full(len(units), "", dtype=object)
        # Locked districts are kept exactly; the free units are planned around them, each
        # free part the locks leave (within a parent) getting districts by its workload.
        locked_codes, free = [], np.ones(len(units), bool)
        # A re-plan that adds districts (growth somewhere) re-plans only the
        # region around the districts out of tolerance, grown until its workload divides into
        # whole districts within it; every other district is kept as it was.
        regrow = (prev is not None and self.locked is None and self.parent is None and self.seeds is None
                  and k > len(self.previous_codes_))
        if regrow:
            keep = self._growth_region(adjacency, w, prev, k)
            col = pd.Series(np.where(keep, prev, -1)).replace(-1, np.nan)
            free = ~keep
            locked_codes = list(pd.unique(col[keep]))
            if free.any():
                joined, _ = self._join_islands(units, adjacency)
                _, comp = connected_components(joined[free][:, free], directed=False)
                parents = parents.astype(object)
                parents[free] = [f"#{c}" for c in comp]
        elif self.locked is not None:
            if self.locked not in units.columns:
                raise InputError(f"units have no locked-district column {self.locked!r}")
            col = units[self.locked]
            free = col.isna().to_numpy()
            locked_codes = list(pd.unique(col[~free]))
            if free.any() and k - len(locked_codes) < 1:
                raise InfeasiblePlan(f"{len(locked_codes)} locked districts leave none of the {k} districts for the "
                                     f"{int(free.sum())} free units; ask for more districts")
            if free.any():
                joined, _ = self._join_islands(units, adjacency)
                _, comp = connected_components(joined[free][:, free], directed=False)
                parents = parents.astype(object)
                parents[free] = [f"{p_}#{c}" for p_, c in zip(parents[free], comp)]
        k_free = k - len(locked_codes)
        seed_of = self._seed_column(units, free)
        V, limit_spec = self._limit_columns(units)
        groups = list(dict.fromkeys(parents[free].tolist()))
        quota = self._quota(groups, parents[free], w[free], k_free) if free.any() else {}
        labels = np.full(len(units), -1)
        targets = np.zeros(k)
        if V is not None:
            vlo, vhi = np.full((k, V.shape[1]), -np.inf), np.full((k, V.shape[1]), np.inf)
        links, rounds = [], {"balance": 0, "compactness": 0}
        offset = 0
        for j, code in enumerate(locked_codes):
            mine = (col == code).fillna(False).to_numpy(dtype=bool)
            labels[mine] = k_free + j
            # A user's lock is kept as is (its balance is not this plan's to fix); a district a
            # re-plan keeps is measured against the target like any other.
            targets[k_free + j] = total / k if regrow else w[mine].sum()
        for grp in groups:
            idx = np.flatnonzero((parents == grp) & free)
            kg = quota[grp]
            sub_units = units.iloc[idx]
            sub_adj, sub_links = self._join_islands(sub_units, adjacency[idx][:, idx])
            links += sub_links
            where = f" in {self.parent} {str(grp).split('#')[0]}" if self.parent else ""
            seeds_g = None
            if seed_of is not None and (seed_of[idx] != "").any():
                names = list(dict.fromkeys(seed_of[idx][seed_of[idx] != ""].tolist()))
                if len(names) > kg:
                    raise InfeasiblePlan(f"{len(names)} seeds{where} for {kg} districts: at most one seed per district")
                pos = {n_: i for i, n_ in enumerate(names)}
                seeds_g = np.array([pos.get(x, -1) for x in seed_of[idx]])
            bounds = None
            if V is not None:
                bounds = self._bounds(V[idx], kg, limit_spec)
                vlo[offset:offset + kg], vhi[offset:offset + kg] = bounds
            tolerance = self.tolerance
            if regrow:  # the region's own mean is off the city's target: tighten by that much
                self.tolerance = max(tolerance - abs(w[idx].sum() / kg / (total / k) - 1), tolerance / 4)
            try:
                lab, r = self._solve(_Graph.from_csr(sub_adj), w[idx], area[idx], perim[idx], centroid[idx], kg,
                                     rng, None if prev is None or regrow else prev[idx], sub_units, where, seeds_g,
                                     None if side is None else side[idx],
                                     None if V is None else (V[idx], *bounds))
            finally:
                self.tolerance = tolerance
            labels[idx] = lab + offset
            targets[offset:offset + kg] = w[idx].sum() / kg
            for key in rounds:
                rounds[key] += r[key]
            offset += kg

        if regrow:  # back to the previous plan's labels: kept ones as they were, new ones matched
            labels = self._match_previous(labels, prev, w, k_free, locked_codes)
            targets[:] = total / k
        full = _Graph.from_csr(adjacency)
        state = _State(full, w, area, perim, labels, k, targets, centroid=centroid)
        dist = np.hypot(*(centroid - state.centres()[labels]).T)
        self.radius_ = np.zeros(k)
        np.maximum.at(self.radius_, labels, dist)
        if V is not None:
            self.report_limits_ = self._limits_report(state, V, vlo, vhi, limit_spec)
        self.labels_ = labels
        self.n_districts_ = k
        self.target_ = targets if self.parent else float(targets[0])
        self.links_ = links
        self.report_ = state.report()
        self.report_.update({
            "n_units": len(units), "n_districts": k, "target": float(np.mean(targets)), "tolerance": self.tolerance,
            "within_tolerance": bool(self.report_["max_deviation"] <= self.tolerance + 1e-12),
            "islands_joined": [{"from": str(a), "to": str(b), "distance_m": round(d, 1)} for a, b, d in links],
            "rounds": rounds,
        })
        if V is not None:
            self.report_["limits"] = self.report_limits_
        over = np.flatnonzero(dist > self.max_radius + 1e-9) if self.max_radius else np.empty(0, int)
        self.report_["radius"] = {
            "max_radius_m": self.max_radius, "largest_m": float(self.radius_.max()),
            "mean_m": float(self.radius_.mean()),
            "districts_over": int(len(np.unique(labels[over]))), "units_over": len(over),
            **({"units_over_list": _names(units, over, 20)} if len(over) else {})}
        if self.parent:
            per_parent: dict[str, int] = {}
            for g_, q in quota.items():
                per_parent[str(g_).split("#")[0]] = per_parent.get(str(g_).split("#")[0], 0) + int(q)
            self.report_["districts_per_parent"] = per_parent
        if regrow:
            self.report_["replanned_region"] = {"districts": int(k_free), "units": int(free.sum()),
                                                "workload_share": float(w[free].sum() / total)}
        if locked_codes and not regrow:
            mean_target = w[free].sum() / max(k_free, 1) if free.any() else float(np.mean(targets))
            self.report_["locked"] = [{"district": str(c), "workload": float(targets[k_free + j]),
                                       "deviation_from_target": float(targets[k_free + j] / mean_target - 1)}
                                      for j, c in enumerate(locked_codes)]
        self.locked_codes_ = [] if regrow else [str(c) for c in locked_codes]
        if seed_of is not None:
            self.seeds_ = {str(n_): int(labels[i]) for i, n_ in enumerate(seed_of) if n_ != ""}
            self.report_["seeds"] = self.seeds_
        else:
            self.seeds_ = None
        if prev is not None:
            had = prev >= 0
            moved = had & (labels != prev)
            self.report_["churn"] = float(w[moved].sum() / max(w[had].sum(), 1e-12))
            self.report_["units_moved"] = int(moved.sum())
            unit_ids = _unit_ids(units)
            self.realignment_ = pd.DataFrame({"unit": unit_ids[moved], "from": prev[moved],
                                              "to": labels[moved], "workload": w[moved]})
        else:
            self.realignment_ = None
        if not self.report_["within_tolerance"]:
            self.report_["relaxation"] = (
                f"no plan of whole units within {self.tolerance:.1%} was found; the best reached has a "
                f"maximum deviation of {self.report_['max_deviation']:.2%}")
        self.report_["runtime_s"] = round(time.perf_counter() - t0, 3)
        self.districts_ = self._districts(units, w)
        return self

    def _seed_column(self, units, free) -> np.ndarray | None:
        """Seed name per unit ("" for none); a name may stand on one unit only."""
        if self.seeds is None:
            return None
        if self.seeds not in units.columns:
            raise InputError(f"units have no seed column {self.seeds!r}")
        col = units[self.seeds].astype("string").fillna("").to_numpy(dtype=object)
        names, counts = np.unique(col[col != ""], return_counts=True)
        if (counts > 1).any():
            bad = names[counts > 1][0]
            raise InputError(f"seed {bad!r} stands on {int(counts[counts > 1][0])} units; a seed is one unit "
                             f"(a manager's base)")
        if (col[~free] != "").any():
            raise InputError("a seed lies in a locked district; seeds are for the districts being planned")
        return col

    def _growth_region(self, adjacency, w, prev, k) -> np.ndarray:
        """Units to keep (True) in a re-plan that changes the number of districts: all but the
        districts out of tolerance and enough neighbours round them that each region's workload
        makes whole districts within a third of the tolerance (a region of 3.4 districts cannot be
        balanced; one of 17.4 grown from it can). A third of the tolerance: the rest is the
        region's own plan's."""
        T = w.sum() / k
        g = _Graph.from_csr(adjacency)
        lab = _attach_new(g, prev)
        m = int(lab.max()) + 1
        W = np.bincount(lab, weights=w, minlength=m)
        cut = lab[g.src] != lab[g.indices]
        D = sparse.csr_matrix((np.ones(cut.sum()), (lab[g.src[cut]], lab[g.indices[cut]])), shape=(m, m))
        region = np.abs(W / T - 1) > self.tolerance
        for _ in range(m):
            if not region.any():
                break
            n_c, comp = connected_components(D[region][:, region], directed=False)
            ids = np.flatnonzero(region)
            Wc = np.bincount(comp, weights=W[ids], minlength=n_c)
            mc = np.maximum(np.round(Wc / T), 1)
            bad = np.abs(Wc / (mc * T) - 1) > self.tolerance / 3
            if not bad.any():
                break
            grow = np.zeros(m, bool)
            grow[np.unique(D[ids[np.isin(comp, np.flatnonzero(bad))]].indices)] = True
            if not (grow & ~region).any():
                break
            region |= grow
        return ~region[lab]

    @staticmethod
    def _match_previous(labels, prev, w, k_free, locked_codes) -> np.ndarray:
        """Labels in the previous plan's numbering: kept districts as they were; each newly
        planned district takes the previous label it shares most workload with (an assignment
        that maximises what stays), the rest fresh labels after the previous ones."""
        from scipy.optimize import linear_sum_assignment
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

    def _limit_columns(self, units):
        if not self.limits:
            return None, None
        spec = self._limit_spec()
        missing = [col for col in self.limits if col not in units.columns]
        if missing:
            raise InputError(f"units have no column {missing[0]!r} to hold within limits")
        cols = list(self.limits)
        V = np.column_stack([_workload(units, c) for c in cols])
        return V, list(zip(cols, spec))

    def _limit_spec(self) -> list[tuple]:
        """Each limit as ("abs", min, max) or ("rel", share, None), or an error naming it."""
        if not isinstance(self.limits, dict):
            raise InputError("limits must be {column: tolerance} or {column: (min, max)}")
        spec = []
        for col, lim in self.limits.items():
            if isinstance(lim, (tuple, list)):
                if len(lim) != 2 or not (float(lim[0]) <= float(lim[1])):
                    raise InputError(f"limits for {col!r} must be (min, max) with min <= max, not {lim!r}")
                spec.append(("abs", float(lim[0]), float(lim[1])))
            else:
                if not (0 < float(lim) < 1):
                    raise InputError(f"the limit for {col!r} must be a share between 0 and 1 (e.g. 0.05), not {lim!r}")
                spec.append(("rel", float(lim), None))
        return spec

    @staticmethod
    def _bounds(V, k, spec):
        mean = V.sum(0) / k
        lo = np.array([m * (1 - s[1]) if s[0] == "rel" else s[1] for m, (_, s) in zip(mean, spec)])
        hi = np.array([m * (1 + s[1]) if s[0] == "rel" else s[2] for m, (_, s) in zip(mean, spec)])
        return lo, hi

    @staticmethod
    def _limits_report(state, V, vlo, vhi, spec) -> dict:
        WV = np.zeros((state.k, V.shape[1]))
        np.add.at(WV, state.labels, V)
        out = {}
        for j, (col, s) in enumerate(spec):
            x, lo, hi = WV[:, j], vlo[:, j], vhi[:, j]
            bad = (x < lo - 1e-9) | (x > hi + 1e-9)
            mean = x.mean()
            out[col] = {"limit": s[1] if s[0] == "rel" else [s[1], s[2]],
                        "min": float(x.min()), "max": float(x.max()),
                        "max_deviation_from_mean": float(np.max(np.abs(x / max(mean, 1e-12) - 1))),
                        "districts_outside": int(bad.sum()),
                        "within_limits": bool(not bad.any())}
        return out

    def _previous(self, units) -> np.ndarray | None:
        """Previous labels as 0..m-1 (new units -1); the codes are kept in `previous_codes_`."""
        if self.previous is None:
            self.previous_codes_ = None
            return None
        if self.previous not in units.columns:
            raise InputError(f"units have no previous-plan column {self.previous!r}")
        col = units[self.previous]
        codes = pd.unique(col.dropna())
        self.previous_codes_ = list(codes)
        lookup = {c: i for i, c in enumerate(codes)}
        return col.map(lookup).fillna(-1).astype(int).to_numpy()

    def _quota(self, groups, parents, w, k) -> dict:
        if self.parent is None:
            return {groups[0]: k}
        if self.parent_counts:
            given = {str(p_): c for p_, c in self.parent_counts.items()}
            missing = [g_ for g_ in groups if g_ not in given]
            if missing:
                raise InputError(f"no district count given for {self.parent} {', '.join(map(str, missing[:5]))}")
            bad = [p_ for p_, c in given.items() if not (isinstance(c, (int, np.integer)) and c >= 1)]
            if bad:
                raise InputError(f"district count for {self.parent} {bad[0]} must be a whole number >= 1, "
                                 f"not {given[bad[0]]!r}")
            if sum(given[g_] for g_ in groups) != k:
                raise InputError(f"the district counts per {self.parent} add up to "
                                 f"{sum(given[g_] for g_ in groups)}, not the {k} districts asked")
            counts = {g_: int(np.sum(parents == g_)) for g_ in groups}
            short = [g_ for g_ in groups if counts[g_] < given[g_]]
            if short:
                raise InfeasiblePlan(f"{self.parent} {short[0]} has {counts[short[0]]} units for {given[short[0]]} districts")
            return {g_: int(given[g_]) for g_ in groups}
        if len(groups) > k:
            raise InfeasiblePlan(f"{k} districts cannot nest in {len(groups)} {self.parent} areas: each needs at "
                                 f"least one district")
        load = np.array([w[parents == g_].sum() for g_ in groups])
        share = load / load.sum() * k
        seats = np.maximum(1, np.floor(share)).astype(int)
        while seats.sum() < k:
            seats[np.argmax(share - seats)] += 1
        while seats.sum() > k:
            over = np.flatnonzero(seats > 1)
            seats[over[np.argmin((share - seats)[over])]] -= 1
        counts = {g_: int(np.sum(parents == g_)) for g_ in groups}
        short = [g_ for g_, s_ in zip(groups, seats) if counts[g_] < s_]
        if short:
            raise InfeasiblePlan(f"{self.parent} {short[0]} has {counts[short[0]]} units for {dict(zip(groups, seats))[short[0]]} districts")
        return dict(zip(groups, seats.tolist()))

    def _solve(self, g: _Graph, w, area, perim, centroid, k, rng, prev, units, where: str, seeds=None, side=None,
               limits=None):
        """Best of `n_init` runs (a re-plan runs once: it starts from the previous plan): plans
        within the tolerance first, then the roundest (mean Polsby-Popper)."""
        runs = 1 if prev is not None else max(1, int(self.n_init))
        best, best_key, total = None, None, {"balance": 0, "compactness": 0}
        # A start that misses the tolerance gets up to two more (fresh seeds): bounded, and
        # the best plan is kept whatever happens.
        extra = 0 if prev is not None else 2
        for run in range(runs + extra):
            if run >= runs and best_key[0]:
                break
            labels, rounds = self._solve_once(g, w, area, perim, centroid, k, rng, prev, units, where, seeds, side,
                                              limits)
            st = _State(g, w, area, perim, labels, k, w.sum() / k)
            if limits is not None:
                st.set_limits(*limits)
            rep = st.report()
            key = (rep["max_deviation"] <= self.tolerance + 1e-12, -st.limits_excess(), rep["polsby_popper_mean"],
                   -rep["max_deviation"])
            for kk in total:
                total[kk] += rounds[kk]
            if best_key is None or key > best_key:
                best, best_key = labels, key
        return best, total

    def _solve_once(self, g: _Graph, w, area, perim, centroid, k, rng, prev, units, where: str, seeds=None,
                    side=None, limits=None):
        target = w.sum() / k
        heavy = np.flatnonzero(w > target * (1 + self.tolerance))
        if len(heavy):
            raise InfeasiblePlan(
                f"{len(heavy)} unit(s){where} carry more than a whole district ({target:,.0f} "
                f"+{self.tolerance:.0%}): {_names(units, heavy)}; split them (a box too large for one "
                f"district is split by distribution point) or ask for fewer districts")
        if prev is not None:
            labels = _from_previous(g, w, centroid, prev, k, rng)
        else:
            labels = (_power_diagram(g, w, centroid, area, k, rng, seeds=seeds, side=side)
                      if self.init == "power" or seeds is not None
                      else _bisect(g, w, centroid, k, rng))
            if len(np.unique(labels)) < k and seeds is None:  # the repair emptied a district
                labels = _bisect(g, w, centroid, k, rng)
        state = _State(g, w, area, perim, labels, k, target, None if seeds is None else seeds >= 0, centroid)
        if limits is not None:
            state.set_limits(*limits)
        state.radius = self.max_radius
        compact = self.compactness and prev is None  # a re-plan keeps districts where they are
        # Continuation: compact at a loose tolerance first, then tighten step by step, so each
        # balancing step starts from round districts and only has to nudge them.
        steps = [t for t in STEPS if t > self.tolerance] + [self.tolerance]
        rounds = {"balance": 0, "compactness": 0}
        # A re-plan whose district count changed starts far from balance: tighten step by step too.
        changed = prev is not None and len(np.unique(prev[prev >= 0])) != k
        for tol in (steps if compact or changed else [self.tolerance]):
            # A re-plan fixes only what is outside the tolerance, locally, before any global flow.
            lazy = prev is not None
            if lazy:
                rounds["balance"] += state.balance(self.max_rounds, tol, lazy=True)
            if state.max_dev() > tol:
                rounds["balance"] += state.diffuse(tol)
                rounds["balance"] += state.balance(self.max_rounds, tol, lazy=lazy)
            if state.max_dev() > tol:  # flows finer than any unit: realise them by swaps
                rounds["balance"] += state.diffuse_swaps(tol)
                rounds["balance"] += state.balance(self.max_rounds, tol, lazy=lazy)
            rounds["balance"] += state.limits_repair(tol)
            rounds["balance"] += state.radius_repair(tol)
            if not compact:
                continue
            for _ in range(6):
                r = state.compact(self.max_rounds, tol) + state.compact_swaps(self.max_rounds, tol)
                r += state.recombine(tol) - 1
                rounds["compactness"] += r
                if r <= 2:
                    break
        if state.max_dev() > self.tolerance + 1e-12:
            rounds["balance"] += state.balance(self.max_rounds, self.tolerance)
            rounds["balance"] += state.limits_repair(self.tolerance)
            rounds["balance"] += state.radius_repair(self.tolerance)
            if compact:  # the last balancing ignored shape: round the districts again
                for _ in range(6):
                    r = state.compact(self.max_rounds, self.tolerance) + state.compact_swaps(self.max_rounds, self.tolerance)
                    r += state.recombine(self.tolerance) - 1
                    rounds["compactness"] += r
                    if r <= 2:
                        break
        return state.labels, rounds

    def _join_islands(self, units, adj):
        k, comp = connected_components(adj, directed=False)
        if k == 1:
            return adj, []
        sizes = np.bincount(comp)
        main = int(np.argmax(sizes))
        geoms = units.geometry.to_numpy()
        if self.islands == "refuse":
            parts = [f"[{_names(units, np.flatnonzero(comp == c), 5)}]" for c in range(k) if c != main]
            raise InfeasiblePlan(f"the units form {k} separate parts with no shared border or crossing; "
                                 f"islands: {'; '.join(parts)}. Add a crossing, or allow joining them (islands='join')")
        # Join every other part to its nearest unit elsewhere, nearest part first, until one.
        links = []
        adj = adj.tolil()
        while True:
            k, comp = connected_components(adj.tocsr(), directed=False)
            if k == 1:
                break
            sizes = np.bincount(comp)
            c = int(np.argmin(sizes))
            mine = np.flatnonzero(comp == c)
            others = np.flatnonzero(comp != c)
            sub = shapely.STRtree(geoms[others])
            (qa, qb), dist = sub.query_nearest(geoms[mine], all_matches=False, return_distance=True)
            best = int(np.argmin(dist))
            a, b = int(mine[qa[best]]), int(others[qb[best]])
            adj[a, b] = adj[b, a] = 1.0
            links.append((units.index[a] if "id" not in units.columns else units["id"].iat[a],
                          units.index[b] if "id" not in units.columns else units["id"].iat[b], float(dist[best])))
        return adj.tocsr(), links

    def _districts(self, units: gpd.GeoDataFrame, w: np.ndarray) -> gpd.GeoDataFrame:
        df = gpd.GeoDataFrame({"district": self.labels_, "workload": w}, geometry=units.geometry.to_numpy(),
                              crs=units.crs)
        numeric = [c for c in units.columns if c != units.geometry.name and pd.api.types.is_numeric_dtype(units[c])]
        for c in numeric:
            df[c] = units[c].to_numpy()
        # GEOS's coverage union is fast but refuses (or, with overlaps, botches) a layer that is
        # not an exact coverage; a plain union takes anything.
        exact = bool(shapely.coverage_is_valid(df.geometry.to_numpy()))
        out = df.dissolve("district", aggfunc="sum", method="coverage" if exact else "unary")
        out["units"] = np.bincount(self.labels_, minlength=self.n_districts_)
        out["radius_m"] = self.radius_
        out["deviation"] = out["workload"] / self.target_ - 1
        # Measured on the dissolved outlines: the search's own perimeters discount borders
        # along slow barriers, which is a preference, not geometry.
        out["polsby_popper"] = 4 * np.pi * out.area / np.maximum(out.length, 1e-9) ** 2
        self.report_["polsby_popper_mean"] = float(out["polsby_popper"].mean())
        self.report_["polsby_popper_min"] = float(out["polsby_popper"].min())
        self.report_["per_district"]["polsby_popper"] = out["polsby_popper"].tolist()
        # Validation: separate parts (a district joined across a bridge has two) and holes
        # (another district, or unserved land, enclosed by this one).
        geoms = out.geometry.to_numpy()
        out["parts"] = shapely.get_num_geometries(geoms)
        parts, owner = shapely.get_parts(geoms, return_index=True)
        out["holes"] = np.bincount(owner, weights=shapely.get_num_interior_rings(parts),
                                   minlength=len(out)).astype(int)
        self.report_["districts_in_several_parts"] = int((out["parts"] > 1).sum())
        self.report_["districts_with_holes"] = int((out["holes"] > 0).sum())
        return out.reset_index()


def _unit_ids(units) -> np.ndarray:
    for c in ("unit_id", "box_id", "id"):
        if c in units.columns:
            return units[c].astype(str).to_numpy()
    return units.index.astype(str).to_numpy()


def _names(units, idx, limit: int = 10) -> str:
    col = units["id"] if "id" in units.columns else pd.Series(units.index)
    for c in ("box_id", "unit_id", "id"):
        if c in units.columns:
            col = units[c]
            break
    names = [str(col.iat[i]) for i in idx[:limit]]
    return ", ".join(names) + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def _power_diagram(g: _Graph, w: np.ndarray, xy: np.ndarray, area: np.ndarray, k: int, rng,
                   iterations: int = 80, seeds: np.ndarray | None = None, side: np.ndarray | None = None) -> np.ndarray:
    """Compact, roughly balanced first cut: units go to the nearest of k centres in a power
    diagram (squared distance minus a per-district offset); centres move to their districts'
    centroids (Lloyd) while each offset grows where the district is light and shrinks where it
    is heavy, in units of that district's own size, so sparse outskirts and the dense centre
    converge alike. Then every district keeps its largest connected piece and hands the rest to
    the neighbour it shares most border with."""
    n = len(w)
    T = w.sum() / k
    # Seeds: k-means++ (weighted) for a city; for thousands of districts its k passes over all
    # units cost more than they give, and a workload-weighted sample is as good a start.
    centres = np.empty((k, 2))
    if k <= 300:
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
    seeded = np.flatnonzero(seeds >= 0) if seeds is not None else np.empty(0, int)
    if len(seeded):
        centres[seeds[seeded]] = xy[seeded]  # a seeded district starts at its seed
    beta = np.zeros(k)
    near = min(k, 12)
    unit_tree = cKDTree(xy) if side is not None else None
    for _ in range(iterations):
        # Offsets are local, so the power-nearest centre is among the few Euclidean-nearest:
        # a k-d tree query keeps this O(n log k) instead of an n x k distance matrix.
        _, cand = cKDTree(centres).query(xy, k=near)
        cand = cand.reshape(n, near)
        d = ((xy[:, None, :] - centres[cand]) ** 2).sum(-1) - beta[cand]
        if side is not None:  # across a slow barrier a centre looks a district's diameter farther away
            c_side = side[unit_tree.query(centres)[1]]
            d += (side[:, None] != c_side[cand]) * (4 * area.sum() / (np.pi * k))
        lab = cand[np.arange(n), np.argmin(d, axis=1)]
        if len(seeded):
            lab[seeded] = seeds[seeded]
        W = np.bincount(lab, weights=w, minlength=k)
        Ar = np.bincount(lab, weights=area, minlength=k)
        live = W > 0
        cx = np.bincount(lab, weights=w * xy[:, 0], minlength=k)
        cy = np.bincount(lab, weights=w * xy[:, 1], minlength=k)
        centres[live] = np.c_[cx[live] / W[live], cy[live] / W[live]]
        for j in np.flatnonzero(~live):  # an empty district restarts inside the heaviest one
            heavy = int(np.argmax(W))
            members = np.flatnonzero(lab == heavy)
            centres[j] = xy[rng.choice(members)]
            beta[j] = beta[heavy]
        scale = np.maximum(Ar, 1.0) / np.pi
        beta += 0.5 * (1 - W / T) * scale
    return _repair_contiguity(g, w, lab, k, seeds)


def _repair_contiguity(g: _Graph, w: np.ndarray, lab: np.ndarray, k: int, seeds=None) -> np.ndarray:
    lab = lab.copy()
    for _ in range(100):
        stray = []
        for d in range(k):
            idx = np.flatnonzero(lab == d)
            if len(idx) <= 1:
                continue
            n_comp, comp = connected_components(_subgraph(g, idx), directed=False)
            if n_comp > 1:
                keep = int(np.argmax(np.bincount(comp, weights=w[idx] + 1e-9)))
                if seeds is not None and (seeds[idx] >= 0).any():  # the piece holding the seed stays
                    keep = int(comp[np.flatnonzero(seeds[idx] >= 0)[0]])
                stray.extend(idx[comp != keep].tolist())
        if not stray:
            return lab
        stray = np.array(stray)
        mark = np.zeros(len(lab), bool)
        mark[stray] = True
        # Each stray unit joins the district (not its own, not stray) it borders most.
        e = np.flatnonzero(mark[g.src] & ~mark[g.indices])
        if len(e) == 0:
            break
        key = pd.DataFrame({"u": g.src[e], "d": lab[g.indices[e]], "s": g.border[e]})
        best = key.groupby(["u", "d"], sort=False)["s"].sum().reset_index().sort_values(
            ["u", "s"], ascending=[True, False]).drop_duplicates("u")
        lab[best["u"].to_numpy()] = best["d"].to_numpy()
    return lab


def _attach_new(g: _Graph, prev) -> np.ndarray:
    """Previous labels with every new unit (-1) given to the district it borders most."""
    lab = prev.copy()
    for _ in range(len(lab)):
        todo = np.flatnonzero(lab < 0)
        if len(todo) == 0:
            break
        mark = lab < 0
        e = np.flatnonzero(mark[g.src] & ~mark[g.indices])
        if len(e) == 0:  # a new part with no labelled neighbour: its own district
            lab[todo] = lab.max() + 1
            break
        best = pd.DataFrame({"u": g.src[e], "d": lab[g.indices[e]], "s": g.border[e]}).groupby(
            ["u", "d"])["s"].sum().reset_index().sort_values(["u", "s"], ascending=[True, False]).drop_duplicates("u")
        lab[best["u"].to_numpy()] = best["d"].to_numpy()
    return lab


def _from_previous(g: _Graph, w, xy, prev, k, rng) -> np.ndarray:
    """Start from the previous plan: new units join the district they border most, pieces cut
    off by the new tessellation rejoin a neighbour, and districts are split (heaviest first) or
    merged (lightest into its lightest neighbour) until there are k."""
    lab = _attach_new(g, prev)
    _, lab = np.unique(lab, return_inverse=True)
    m = lab.max() + 1
    lab = _repair_contiguity(g, w, lab, m)
    while m < k:
        W = np.bincount(lab, weights=w, minlength=m)
        d = int(np.argmax(W))
        idx = np.flatnonzero(lab == d)
        if len(idx) < 2:
            break
        _, b = _split(g, w, xy, idx, 1, 1, rng)
        lab[b] = m
        m += 1
    while m > k:
        W = np.bincount(lab, weights=w, minlength=m)
        d = int(np.argmin(W))
        e = np.flatnonzero((lab[g.src] == d) & (lab[g.indices] != d))
        if len(e) == 0:
            break
        nb = np.unique(lab[g.indices[e]])
        into = int(nb[np.argmin(W[nb])])
        lab[lab == d] = into
        lab[lab == m - 1] = d if d != m - 1 else lab[lab == m - 1]
        m -= 1
    return lab


def _connected_after(g: _Graph, members: set[int], out: int, inn: int) -> bool:
    """Is members - {out} + {inn} connected?"""
    new = (members - {out}) | {inn}
    start = inn
    seen = {start}
    stack = [start]
    while stack:
        x = stack.pop()
        for y in g.nbrs(x):
            y = int(y)
            if y in new and y not in seen:
                seen.add(y)
                stack.append(y)
    return len(seen) == len(new)


def _bisect(g: _Graph, w: np.ndarray, xy: np.ndarray, k: int, rng) -> np.ndarray:
    """Recursive bisection into k connected parts with workloads proportional to their counts."""
    labels = np.full(len(w), -1)
    next_label = [0]
    stack = [(np.arange(len(w)), k)]
    while stack:
        idx, kk = stack.pop()
        if kk == 1:
            labels[idx] = next_label[0]
            next_label[0] += 1
            continue
        k1 = kk // 2
        a, b = _split(g, w, xy, idx, k1, kk - k1, rng)
        stack.append((b, kk - k1))
        stack.append((a, k1))
    return labels


def _split(g: _Graph, w, xy, idx, k1, k2, rng):
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
    for v in g.nbrs(start):
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
        for u in g.nbrs(v):
            u = int(u)
            if inset[u] and u not in taken:
                heapq.heappush(heap, (key[u], u))
    a = np.array(sorted(taken))
    rest = np.setdiff1d(idx, a)
    # The rest may fall apart: keep its largest piece, hand the others to A (they border A).
    if len(rest):
        sub = _subgraph(g, rest)
        n_comp, comp = connected_components(sub, directed=False)
        if n_comp > 1:
            sizes = np.bincount(comp, weights=w[rest])
            keep = int(np.argmax(sizes))
            a = np.union1d(a, rest[comp != keep])
            rest = rest[comp == keep]
    if len(rest) < k2:  # cannot happen for connected input with len(idx) >= k; guard anyway
        raise InfeasiblePlan("the unit graph cannot be cut into the requested number of connected districts")
    return a, rest


def _subgraph(g: _Graph, idx: np.ndarray) -> sparse.csr_matrix:
    pos = np.full(len(g.indptr) - 1, -1)
    pos[idx] = np.arange(len(idx))
    src, dst = g.src, g.indices
    keep = (pos[src] >= 0) & (pos[dst] >= 0)
    return sparse.csr_matrix((np.ones(keep.sum()), (pos[src[keep]], pos[dst[keep]])), shape=(len(idx), len(idx)))


class _State:
    """Labels plus per-district totals, updated move by move."""

    def __init__(self, g: _Graph, w, area, perim, labels, k, target, fixed=None, centroid=None):
        self.g, self.w, self.area, self.perim, self.k, self.T = g, w, area, perim, k, target
        self.centroid = centroid
        self.fixed = np.zeros(len(w), bool) if fixed is None else fixed  # seed units never move
        self.labels = labels.copy()
        self.W = np.bincount(labels, weights=w, minlength=k)
        self.A = np.bincount(labels, weights=area, minlength=k)
        internal = labels[g.src] == labels[g.indices]
        # Each internal border is counted from both sides; a district's perimeter drops by 2x it.
        self.P = np.bincount(labels, weights=perim, minlength=k) - np.bincount(
            labels[g.src[internal]], weights=g.border[internal], minlength=k)
        self.members = [set(np.flatnonzero(labels == d).tolist()) for d in range(k)]
        self.version = np.zeros(k, np.int64)   # bumped on every change of a district
        self._no_cut: set = set()              # (a, b, versions, tol) pairs recombine found no cut for
        self.V = None                          # further attributes held within limits (set_limits)
        self.radius = None                     # largest distance from a district's centre (m)

    # ---- further attributes within their own limits (Esri's several balance variables) -------

    def set_limits(self, V: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.V, self.vlo, self.vhi = V, lo, hi
        self.WV = np.zeros((self.k, V.shape[1]))
        np.add.at(self.WV, self.labels, V)
        self.vscale = np.maximum(np.abs(hi), 1e-9)

    def _vex(self, X):
        """How far totals X (..., m) lie outside the limits, relative to each upper limit."""
        return ((np.maximum(self.vlo - X, 0) + np.maximum(X - self.vhi, 0)) / self.vscale).sum(-1)

    def limits_ok(self, a, b, dv):
        """Does handing dv from a to b leave the limits no worse? (Always, without limits.)"""
        if self.V is None:
            return True
        before = self._vex(self.WV[a]) + self._vex(self.WV[b])
        return self._vex(self.WV[a] - dv) + self._vex(self.WV[b] + dv) <= before + 1e-12

    # ---- a maximum distance from the district's centre --------------------------------------

    def centres(self) -> np.ndarray:
        """Workload-weighted centre of each district (where its manager's work is)."""
        W = np.maximum(self.W, 1e-12)
        wx = np.bincount(self.labels, weights=self.w * self.centroid[:, 0], minlength=self.k)
        wy = np.bincount(self.labels, weights=self.w * self.centroid[:, 1], minlength=self.k)
        return np.c_[wx / W, wy / W]

    def radius_excess(self, C=None) -> np.ndarray:
        """Per unit, how far (m) it lies beyond `radius` from its district's centre."""
        if self.radius is None:
            return np.zeros(len(self.w))
        C = self.centres() if C is None else C
        return np.maximum(np.hypot(*(self.centroid - C[self.labels]).T) - self.radius, 0)

    def radius_repair(self, tol, rounds: int = 100) -> int:
        """Move units beyond the radius to a neighbouring district whose centre is nearer,
        keeping the workload within the tolerance (and further attributes in their limits)."""
        if self.radius is None or not self.radius_excess().any():
            return 0
        T = self.T
        done = 0
        for _ in range(rounds):
            C = self.centres()

            def score(u, a, b, s_ub, s_ua):
                d_a = np.hypot(*(self.centroid[u] - C[a]).T)
                d_b = np.hypot(*(self.centroid[u] - C[b]).T)
                return np.maximum(d_b - self.radius, 0) - np.maximum(d_a - self.radius, 0)

            def ok(u, a, b):
                wu = self.w[u]
                within = (np.abs((self.W[a] - wu) / T - 1) <= tol) & (np.abs((self.W[b] + wu) / T - 1) <= tol)
                return within & (self.limits_ok(a, b, self.V[u]) if self.V is not None else True)
            before = self.radius_excess(C).sum()
            self._run(score, 1, ok)
            if self.radius_excess().sum() >= before - 1e-9 and not self._radius_swaps(tol, self.centres()):
                break
            done += 1
            if not self.radius_excess().any():
                break
        return done

    def _radius_swaps(self, tol, C) -> int:
        ex = self.radius_excess(C)
        pairs = self._boundary_sets()
        applied, touched = 0, set()
        for a, b in sorted(p for p in pairs if p[0] < p[1]):
            if a in touched or b in touched or (b, a) not in pairs:
                continue
            ua, vb = np.array(sorted(pairs[(a, b)])), np.array(sorted(pairs[(b, a)]))
            if not (ex[ua].any() or ex[vb].any()):
                continue
            after_u = np.maximum(np.hypot(*(self.centroid[ua] - C[b]).T) - self.radius, 0)
            after_v = np.maximum(np.hypot(*(self.centroid[vb] - C[a]).T) - self.radius, 0)
            gain = (after_u - ex[ua])[:, None] + (after_v - ex[vb])[None, :]
            ok = self._within_after_swap(a, b, ua, vb, tol)
            if self._swap_best(a, b, ua, vb, np.where(ok, gain, np.inf), eps=1e-9):
                touched.update((a, b))
                applied += 1
        return applied

    def radius_ok(self, u, b, C):
        """Does unit u (array) stay within the radius of b's centre (or no radius)?"""
        if self.radius is None:
            return True
        return np.hypot(*(self.centroid[u] - C[b]).T) <= self.radius + 1e-9

    def limits_excess(self) -> float:
        return 0.0 if self.V is None else float(self._vex(self.WV).sum())

    def limits_repair(self, tol, rounds: int = 200) -> int:
        """Bring the further attributes within their limits by moves, then swaps, that keep
        the workload within the tolerance and every district connected."""
        if self.V is None or self.limits_excess() <= 0:
            return 0
        T = self.T

        def score(u, a, b, s_ub, s_ua):
            dv = self.V[u]
            return (self._vex(self.WV[a] - dv) + self._vex(self.WV[b] + dv)
                    - self._vex(self.WV[a]) - self._vex(self.WV[b]))

        def ok(u, a, b):
            wu = self.w[u]
            return (np.abs((self.W[a] - wu) / T - 1) <= tol) & (np.abs((self.W[b] + wu) / T - 1) <= tol)
        done = 0
        for _ in range(rounds):
            done += self._run(score, rounds, ok)
            if self.limits_excess() <= 0 or not self._limit_swaps(tol):
                break
        return done

    def _boundary_sets(self) -> dict[tuple[int, int], set]:
        """{(a, b): the movable units of district a that border district b}."""
        g, lab = self.g, self.labels
        cut = lab[g.src] != lab[g.indices]
        pairs: dict[tuple[int, int], set] = {}
        for u, v in zip(g.src[cut].tolist(), g.indices[cut].tolist()):
            if not self.fixed[u]:
                pairs.setdefault((int(lab[u]), int(lab[v])), set()).add(u)
        return pairs

    def _swap_best(self, a, b, ua, vb, gain, tries: int = 32, eps: float = 1e-12) -> bool:
        """Swap u (of a) with v (of b) for the lowest negative `gain[i, j]` that leaves both
        districts connected; tries the `tries` best."""
        for f in np.argsort(gain, axis=None, kind="stable")[:tries]:
            if gain.flat[f] >= -eps:
                return False
            i, j = np.unravel_index(f, gain.shape)
            u, v = int(ua[i]), int(vb[j])
            if not (_connected_after(self.g, self.members[a], u, v) and _connected_after(self.g, self.members[b], v, u)):
                continue
            self._apply(u, b, self._border(u, b), self._border(u, a))
            self._apply(v, a, self._border(v, a), self._border(v, b))
            return True
        return False

    def _within_after_swap(self, a, b, ua, vb, tol):
        """Which (u of a, v of b) swaps keep both districts within the tolerance (and limits)."""
        T = self.T
        t = self.w[ua][:, None] - self.w[vb][None, :]
        ok = (np.abs((self.W[a] - t) / T - 1) <= tol) & (np.abs((self.W[b] + t) / T - 1) <= tol)
        if self.V is not None:
            ok &= self.limits_ok(a, b, self.V[ua][:, None, :] - self.V[vb][None, :, :])
        return ok

    def _limit_swaps(self, tol) -> int:
        pairs = self._boundary_sets()
        ex = self._vex(self.WV)
        applied, touched = 0, set()
        for a, b in sorted(p for p in pairs if p[0] < p[1]):
            if a in touched or b in touched or (b, a) not in pairs or ex[a] + ex[b] <= 0:
                continue
            ua, vb = np.array(sorted(pairs[(a, b)])), np.array(sorted(pairs[(b, a)]))
            t = self.w[ua][:, None] - self.w[vb][None, :]
            dv = self.V[ua][:, None, :] - self.V[vb][None, :, :]
            gain = self._vex(self.WV[a] - dv) + self._vex(self.WV[b] + dv) - ex[a] - ex[b]
            ok = (np.abs((self.W[a] - t) / self.T - 1) <= tol) & (np.abs((self.W[b] + t) / self.T - 1) <= tol)
            if self._swap_best(a, b, ua, vb, np.where(ok, gain, np.inf)):
                touched.update((a, b))
                applied += 1
        return applied

    def max_dev(self) -> float:
        return float(np.max(np.abs(self.W / self.T - 1)))

    def _candidates(self):
        """Every (unit, destination) move along a cut edge, with the unit's border to its own
        district and to the destination."""
        g, lab = self.g, self.labels
        lv = lab[g.indices]
        # Border of each unit with each district it touches.
        key = g.src.astype(np.int64) * self.k + lv
        uk, inv = np.unique(key, return_inverse=True)
        s = np.bincount(inv, weights=g.border)
        u_of, d_of = uk // self.k, uk % self.k
        own = lab[u_of] == d_of
        s_own = np.zeros(len(lab))
        s_own[u_of[own]] = s[own]
        move = ~own & ~self.fixed[u_of]
        return u_of[move], d_of[move], s[move], s_own[u_of[move]]

    def _apply(self, u, b, s_ub, s_ua):
        a = self.labels[u]
        self.labels[u] = b
        self.W[a] -= self.w[u]
        self.W[b] += self.w[u]
        self.A[a] -= self.area[u]
        self.A[b] += self.area[u]
        self.P[a] += -self.perim[u] + 2 * s_ua
        self.P[b] += self.perim[u] - 2 * s_ub
        self.members[a].discard(u)
        self.members[b].add(u)
        self.version[a] += 1
        self.version[b] += 1
        if self.V is not None:
            self.WV[a] -= self.V[u]
            self.WV[b] += self.V[u]

    def _run(self, score_fn, rounds, ok_fn=None) -> int:
        done = 0
        for _ in range(rounds):
            u, b, s_ub, s_ua = self._candidates()
            a = self.labels[u]
            score = score_fn(u, a, b, s_ub, s_ua)
            ok = score < -1e-12
            if ok_fn is not None:
                ok &= ok_fn(u, a, b)
            if not ok.any():
                break
            order = np.flatnonzero(ok)[np.argsort(score[ok], kind="stable")]
            touched = set()
            applied = 0
            for i in order:
                ai, bi, ui = int(a[i]), int(b[i]), int(u[i])
                if ai in touched or bi in touched or len(self.members[ai]) <= 1:
                    continue
                if not _connected(self.g, self.members[ai], ui):
                    continue
                self._apply(ui, bi, s_ub[i], s_ua[i])
                touched.update((ai, bi))
                applied += 1
            done += 1
            if applied == 0:
                break
        return done

    def balance(self, rounds, tol, lazy: bool = False) -> int:
        """Boundary moves (then swaps) that lower the summed squared deviation. `lazy`, for a
        re-plan: only moves that involve a district outside the tolerance, so that nothing
        moves once every district is within it (polishing would only add churn)."""
        T = self.T

        def score(u, a, b, s_ub, s_ua):
            wu = self.w[u]
            da, db = self.W[a] - T, self.W[b] - T
            gain = ((da - wu) ** 2 + (db + wu) ** 2 - da ** 2 - db ** 2) / T ** 2
            # Tie-break towards shorter borders (compactness) without outweighing balance.
            return gain + 1e-9 * (s_ua - s_ub)
        def excess(x):
            return np.maximum(np.abs(x - T) - tol * T, 0)

        def lazy_score(u, a, b, s_ub, s_ua):
            # Only the workload beyond the tolerance counts: a move must shrink it, so moves stop
            # as soon as every district is within the tolerance and never push one outside.
            wu = self.w[u]
            gain = (excess(self.W[a] - wu) + excess(self.W[b] + wu) - excess(self.W[a]) - excess(self.W[b])) / T
            return np.where(gain < -1e-12, gain + 1e-6 * score(u, a, b, s_ub, s_ua), 0.0)

        done = 0
        for _ in range(rounds):
            done += self._run(lazy_score if lazy else score, rounds)
            if self.max_dev() <= tol or not self._swaps(tol, lazy):
                break
            done += 1
        return done

    def _potential(self, dev: np.ndarray):
        """phi with L phi = dev on the district graph (L its Laplacian, a tiny ridge for the
        constant null space), and the cut edges (source and target units) it was built from."""
        from scipy.sparse.linalg import spsolve
        g, k, lab = self.g, self.k, self.labels
        cut = lab[g.src] != lab[g.indices]
        su, sv = g.src[cut], g.indices[cut]
        A = sparse.coo_matrix((np.ones(len(su)), (lab[su], lab[sv])), shape=(k, k)).tocsr()
        A.data[:] = 1.0
        L = sparse.diags(np.asarray(A.sum(axis=1)).ravel()) - A
        return spsolve((L + 1e-9 * sparse.eye(k)).tocsc(), dev - dev.mean()), su, sv

    def diffuse(self, tol, iterations: int = 60) -> int:
        """Global balancing: solve L phi = deviation on the district graph (L its Laplacian); the
        flow phi_a - phi_b over each district border is what a must hand to b for every district
        to reach the target (the diffusion scheme of multilevel graph partitioners). Realise it
        with boundary units, largest flows first; repeat as borders change."""
        T, g = self.T, self.g
        for it in range(iterations):
            dev = self.W - T
            if np.max(np.abs(dev)) <= tol * T:
                return it
            lab = self.labels
            phi, _, _ = self._potential(dev)
            u, b, s_ub, s_ua = self._candidates()
            a = lab[u]
            flow = phi[a] - phi[b]
            want = (flow > 0) & (self.w[u] <= 1.5 * flow)
            if not want.any():
                return it
            # Within a border, hand over first the units that belong more to b than to a: the
            # cut gets shorter and the districts rounder while the workload flows.
            order = np.flatnonzero(want)[np.lexsort((u[want], -(s_ub[want] - s_ua[want]) / self.perim[u[want]]))]
            left: dict[tuple[int, int], float] = {}
            moved = 0
            for i in order:
                ui, ai, bi = int(u[i]), int(a[i]), int(b[i])
                if self.labels[ui] != ai:
                    continue
                rem = left.setdefault((ai, bi), float(flow[i]))
                if self.w[ui] > 1.5 * rem or len(self.members[ai]) <= 1:
                    continue
                if not (self.labels[g.nbrs(ui)] == bi).any():  # its neighbour in b has moved on
                    continue
                if not _connected(g, self.members[ai], ui):
                    continue
                self._apply(ui, bi, self._border(ui, bi), self._border(ui, ai))
                left[(ai, bi)] = rem - self.w[ui]
                moved += 1
            if moved == 0:
                return it
        return iterations

    def diffuse_swaps(self, tol, iterations: int = 40) -> int:
        """Fine balancing: the diffusion flows of `diffuse`, realised by swapping a boundary unit
        of a for one of b whose difference in workload matches the flow a -> b, since at a tight
        tolerance every flow is smaller than any single unit."""
        T, g = self.T, self.g
        for it in range(iterations):
            dev = self.W - T
            if np.max(np.abs(dev)) <= tol * T:
                return it
            lab = self.labels
            phi, su, sv = self._potential(dev)
            da, db = lab[su], lab[sv]
            side: dict[tuple[int, int], set] = {}
            for u, a, b in zip(su.tolist(), da.tolist(), db.tolist()):
                if not self.fixed[u]:
                    side.setdefault((a, b), set()).add(u)
            flows = sorted(((phi[a] - phi[b], a, b) for (a, b) in side if phi[a] > phi[b]), reverse=True)
            touched, applied = set(), 0
            for f, a, b in flows:
                if a in touched or b in touched or (b, a) not in side:
                    continue
                ua = np.array(sorted(side[(a, b)]))
                vb = np.array(sorted(side[(b, a)]))
                t = self.w[ua][:, None] - self.w[vb][None, :]
                # Best match to the flow, but never past the point where a and b swap roles.
                gain = 2 * t * (t - dev[a] + dev[b])
                miss = np.where((t > 0) & (gain < 0), np.abs(t - f), np.inf)
                for flat in np.argsort(miss, axis=None, kind="stable")[:16]:
                    if not np.isfinite(miss.flat[flat]):
                        break
                    i, j = np.unravel_index(flat, miss.shape)
                    u, v = int(ua[i]), int(vb[j])
                    if len(self.members[a]) <= 1 or len(self.members[b]) <= 1:
                        break
                    if not (_connected_after(g, self.members[a], u, v) and _connected_after(g, self.members[b], v, u)):
                        continue
                    self._apply(u, b, self._border(u, b), self._border(u, a))
                    self._apply(v, a, self._border(v, a), self._border(v, b))
                    touched.update((a, b))
                    applied += 1
                    break
            if applied == 0:
                return it
        return iterations

    def _swaps(self, tol, lazy: bool = False) -> int:
        """Exchange a boundary unit of a with one of b when no single move helps: the net
        transfer w_u - w_v can be much finer than any unit. Returns the swaps applied."""
        T, g = self.T, self.g
        pairs = self._boundary_sets()
        dev = self.W - T
        order = sorted({(min(a, b), max(a, b)) for a, b in pairs}, key=lambda p: -abs(dev[p[0]] - dev[p[1]]))
        touched, applied = set(), 0
        for a, b in order:
            if a in touched or b in touched:
                continue
            if lazy and abs(dev[a]) <= tol * T and abs(dev[b]) <= tol * T:
                continue
            ua = np.array(sorted(pairs.get((a, b), ())))
            vb = np.array(sorted(pairs.get((b, a), ())))
            if len(ua) == 0 or len(vb) == 0:
                continue
            da, db = dev[a], dev[b]
            t = self.w[ua][:, None] - self.w[vb][None, :]
            gain = 2 * t * (t - da + db)
            if lazy:  # only what lies beyond the tolerance counts (see balance)
                ex = lambda x: np.maximum(np.abs(x) - tol * T, 0)  # noqa: E731
                gain = np.where(ex(da - t) + ex(db + t) < ex(da) + ex(db), gain, np.inf)
            flat = np.argsort(gain, axis=None, kind="stable")
            for f in flat[:64]:
                if gain.flat[f] >= -1e-9:
                    break
                i, j = np.unravel_index(f, gain.shape)
                u, v = int(ua[i]), int(vb[j])
                if len(self.members[a]) <= 1 or len(self.members[b]) <= 1:
                    break
                if not (_connected_after(g, self.members[a], u, v) and _connected_after(g, self.members[b], v, u)):
                    continue
                s_ub, s_ua = self._border(u, b), self._border(u, a)
                self._apply(u, b, s_ub, s_ua)
                s_va, s_vb = self._border(v, a), self._border(v, b)
                self._apply(v, a, s_va, s_vb)
                touched.update((a, b))
                applied += 1
                break
        return applied

    def _border(self, u: int, d: int) -> float:
        nb = self.g.nbrs(u)
        sel = self.labels[nb] == d
        sel &= nb != u
        return float(self.g.border[self.g.indptr[u]:self.g.indptr[u + 1]][sel].sum())

    def compact_swaps(self, rounds, tol, tries: int = 32) -> int:
        """Rounder districts at constant balance: swap a boundary unit of a that belongs more to
        b with one of b that belongs more to a, when both stay within tolerance, both stay
        connected, and the pair's summed Polsby-Popper rises."""
        g = self.g
        done = 0
        for _ in range(rounds):
            pairs = self._boundary_sets()
            applied, touched = 0, set()
            for (a, b) in sorted(p for p in pairs if p[0] < p[1]):
                if a in touched or b in touched or (b, a) not in pairs:
                    continue
                ua = np.array(sorted(pairs[(a, b)]))
                vb = np.array(sorted(pairs[(b, a)]))
                bel_u = np.array([(self._border(x, b) - self._border(x, a)) / self.perim[x] for x in ua])
                bel_v = np.array([(self._border(x, a) - self._border(x, b)) / self.perim[x] for x in vb])
                ok = self._within_after_swap(a, b, ua, vb, tol)
                if self.radius is not None:
                    C = self.centres()
                    ok &= self.radius_ok(ua, b, C)[:, None] & self.radius_ok(vb, a, C)[None, :]
                h = np.where(ok, bel_u[:, None] + bel_v[None, :], -np.inf)
                for f in np.argsort(-h, axis=None, kind="stable")[:tries]:
                    if not np.isfinite(h.flat[f]) or h.flat[f] <= 0:
                        break
                    i, j = np.unravel_index(f, h.shape)
                    u, v = int(ua[i]), int(vb[j])
                    if not (_connected_after(g, self.members[a], u, v) and _connected_after(g, self.members[b], v, u)):
                        continue
                    before = self._pp(a) + self._pp(b)
                    self._apply(u, b, self._border(u, b), self._border(u, a))
                    self._apply(v, a, self._border(v, a), self._border(v, b))
                    if self._pp(a) + self._pp(b) > before + 1e-9:
                        touched.update((a, b))
                        applied += 1
                        break
                    self._apply(v, b, self._border(v, b), self._border(v, a))  # undo
                    self._apply(u, a, self._border(u, a), self._border(u, b))
            done += 1
            if applied == 0:
                break
        return done

    def _pp(self, d: int) -> float:
        return 4 * np.pi * self.A[d] / max(self.P[d], 1e-9) ** 2

    def recombine(self, tol, rounds: int = 3, angles: int = 16) -> int:
        """Merge and re-split (the move of GerryChain's ReCom, made deterministic): two
        neighbouring districts are pooled and cut again by a straight line, in `angles`
        directions, at the point that halves their workload; the roundest cut that keeps both
        halves connected and within the tolerance replaces them. Local moves cannot undo a
        district wrapped round its neighbour; this can. Worst pairs first."""
        g = self.g
        dirs = np.c_[np.cos(np.linspace(0, np.pi, angles, endpoint=False)),
                     np.sin(np.linspace(0, np.pi, angles, endpoint=False))]
        done = 0
        for _ in range(rounds):
            pp = 4 * np.pi * self.A / np.maximum(self.P, 1e-9) ** 2
            lab = self.labels
            cut = lab[g.src] != lab[g.indices]
            pairs = np.unique(np.sort(np.c_[lab[g.src[cut]], lab[g.indices[cut]]], axis=1), axis=0)
            pairs = pairs[np.argsort(pp[pairs[:, 0]] + pp[pairs[:, 1]], kind="stable")]
            touched: set[int] = set()
            applied = 0
            for a, b in pairs.tolist():
                if a in touched or b in touched:
                    continue
                key = (a, b, int(self.version[a]), int(self.version[b]), tol)
                if key in self._no_cut:  # nothing changed since the last try
                    continue
                idx = np.array(sorted(self.members[a] | self.members[b]))
                if self.fixed[idx].any() or len(idx) < 4:
                    continue
                res = self._best_cut(idx, a, dirs, tol)
                if res is None or res[1] <= 1e-4:
                    self._no_cut.add(key)
                    continue
                mask, gain = res
                # Keep each code on the side that holds more of its old workload.
                in_a = self.labels[idx] == a
                keep = (self.w[idx] * (mask == in_a)).sum() >= (self.w[idx] * (mask != in_a)).sum()
                self.labels[idx] = np.where(mask == keep, a, b)
                for d in (a, b):
                    mem = idx[self.labels[idx] == d]
                    self.members[d] = set(mem.tolist())
                    self.W[d], self.A[d], self.P[d] = self._totals(mem)
                    self.version[d] += 1
                    if self.V is not None:
                        self.WV[d] = self.V[mem].sum(0)
                touched.update((a, b))
                applied += 1
            done += 1
            if applied == 0:
                break
        return done

    def _edges_within(self, idx: np.ndarray):
        """Directed edges with both ends in `idx`, as local positions, and their borders: read
        from the CSR rows of `idx` only, so a pair costs its own size, not the whole graph's."""
        g = self.g
        if not hasattr(self, "_pos"):
            self._pos = np.full(len(self.w), -1)
        pos = self._pos
        pos[idx] = np.arange(len(idx))
        starts, ends = g.indptr[idx], g.indptr[idx + 1]
        lens = ends - starts
        eid = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        dst = pos[g.indices[eid]]
        keep = dst >= 0
        es, ed, eb = np.repeat(np.arange(len(idx)), lens)[keep], dst[keep], g.border[eid][keep]
        pos[idx] = -1
        return es, ed, eb

    def _totals(self, mem: np.ndarray):
        """Workload, area and perimeter of a set of units (shared borders counted out twice)."""
        _, _, eb = self._edges_within(mem)
        return self.w[mem].sum(), self.area[mem].sum(), self.perim[mem].sum() - eb.sum()

    def _best_cut(self, idx, a, dirs, tol, tries: int = 8):
        """The roundest straight cut of the pooled units: every cut position in every direction
        scored at once (prefix sums of workload, area and perimeter; a border is inside the
        prefix when both its units are), then connectivity checked on the best few."""
        T = self.T
        n = len(idx)
        es, ed, eb = self._edges_within(idx)
        w, ar, pe = self.w[idx], self.area[idx], self.perim[idx]
        D = len(dirs)
        order = np.argsort(self.centroid[idx] @ dirs.T, axis=0, kind="stable").T      # D x n
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(D, 0), axis=1)
        cw, ca, cp = np.cumsum(w[order], 1), np.cumsum(ar[order], 1), np.cumsum(pe[order], 1)
        hi = np.maximum(rank[:, es], rank[:, ed])
        lo = np.minimum(rank[:, es], rank[:, ed])
        rows = np.repeat(np.arange(D), len(es))
        b_in = np.bincount(rows * n + hi.ravel(), weights=np.tile(eb, D), minlength=D * n).reshape(D, n).cumsum(1)
        b_lo = np.bincount(rows * n + lo.ravel(), weights=np.tile(eb, D), minlength=D * n).reshape(D, n).cumsum(1)
        tw, ta, tp, tb = w.sum(), ar.sum(), pe.sum(), eb.sum()
        Pa = cp - b_in
        Pb = (tp - cp) - (tb - b_lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = 4 * np.pi * (ca / Pa ** 2 + (ta - ca) / Pb ** 2)
        dev_a, dev_b = cw / T - 1, (tw - cw) / T - 1
        # Cuts a little out of balance are kept too: one unit moved across fixes them (below).
        ok = (np.abs(dev_a) <= 3 * tol) & (np.abs(dev_b) <= 3 * tol)
        ok[:, -1] = False
        b = int(self.labels[idx][self.labels[idx] != a][0])
        if self.V is not None:  # the halves' further attributes no further outside their limits
            Vi = self.V[idx]
            cv = np.cumsum(Vi[order], axis=1)
            ex0 = self._vex(self.WV[a]) + self._vex(self.WV[b])
            ok &= self._vex(cv) + self._vex(Vi.sum(0) - cv) <= ex0 + 1e-12
        before = 4 * np.pi * (self.A[a] / self.P[a] ** 2 + self.A[b] / self.P[b] ** 2)
        score = np.where(ok & np.isfinite(score), score, -np.inf)
        flat = np.argsort(-score, axis=None, kind="stable")[:tries]
        sub = sparse.csr_matrix((np.ones(len(es)), (es, ed)), shape=(n, n))

        r_before = self.radius_excess()[idx].sum() if self.radius is not None else 0.0

        def connected(mask):
            if self.radius is not None:  # no farther from the new centres than before
                xy_, w_ = self.centroid[idx], np.maximum(w, 1e-12)
                far = 0.0
                for m in (mask, ~mask):
                    c = (xy_[m] * w_[m, None]).sum(0) / w_[m].sum()
                    far += np.maximum(np.hypot(*(xy_[m] - c).T) - self.radius, 0).sum()
                if far > r_before + 1e-9:
                    return False
            return (connected_components(sub[mask][:, mask], directed=False)[0] == 1
                    and connected_components(sub[~mask][:, ~mask], directed=False)[0] == 1)

        best, best_pp = None, before + 1e-4
        for f in flat:
            if score.flat[f] <= best_pp:
                break
            d, c = divmod(int(f), n)
            mask = np.zeros(n, bool)
            mask[order[d, :c + 1]] = True
            if abs(dev_a[d, c]) <= tol and abs(dev_b[d, c]) <= tol:
                if connected(mask):
                    best, best_pp = mask, float(score.flat[f])
                continue
            # Move one unit from the heavier side across the cut, the one that leaves the
            # pair roundest among those that bring both sides within the tolerance.
            heavy = dev_a[d, c] > dev_b[d, c]
            Wa = cw[d, c]
            on_a = mask
            to_a = np.bincount(es, weights=eb * on_a[ed], minlength=n)      # border with side A
            to_b = np.bincount(es, weights=eb * ~on_a[ed], minlength=n)
            cand = np.flatnonzero((on_a == heavy) & ((to_b if heavy else to_a) > 0))
            if len(cand) == 0:
                continue
            sign = -1.0 if heavy else 1.0
            new_wa = Wa + sign * w[cand]
            fit = (np.abs(new_wa / T - 1) <= tol) & (np.abs((tw - new_wa) / T - 1) <= tol)
            cand = cand[fit]
            if len(cand) == 0:
                continue
            Pa0, Pb0, Aa0 = Pa[d, c], Pb[d, c], ca[d, c]
            if heavy:   # u leaves A for B
                Pa1 = Pa0 - pe[cand] + 2 * to_a[cand]
                Pb1 = Pb0 + pe[cand] - 2 * to_b[cand]
                Aa1 = Aa0 - ar[cand]
            else:
                Pa1 = Pa0 + pe[cand] - 2 * to_a[cand]
                Pb1 = Pb0 - pe[cand] + 2 * to_b[cand]
                Aa1 = Aa0 + ar[cand]
            pp1 = 4 * np.pi * (Aa1 / Pa1 ** 2 + (ta - Aa1) / Pb1 ** 2)
            if self.V is not None:
                va1 = cv[d, c] + sign * Vi[cand]
                pp1 = np.where(self._vex(va1) + self._vex(Vi.sum(0) - va1) <= ex0 + 1e-12, pp1, -np.inf)
            for j in np.argsort(-pp1, kind="stable")[:4]:
                if pp1[j] <= best_pp:
                    break
                m2 = mask.copy()
                m2[cand[j]] = not heavy
                if connected(m2):
                    best, best_pp = m2, float(pp1[j])
                    break
        return None if best is None else (best, best_pp - before)

    def compact(self, rounds, tol) -> int:
        T = self.T

        def pp(A, P):
            return 4 * np.pi * A / np.maximum(P, 1e-9) ** 2

        def score(u, a, b, s_ub, s_ua):
            Aa, Ab = self.A[a] - self.area[u], self.A[b] + self.area[u]
            Pa = self.P[a] - self.perim[u] + 2 * s_ua
            Pb = self.P[b] + self.perim[u] - 2 * s_ub
            before = pp(self.A[a], self.P[a]) + pp(self.A[b], self.P[b])
            return -(pp(Aa, Pa) + pp(Ab, Pb) - before)

        def ok(u, a, b):
            wu = self.w[u]
            within = (np.abs((self.W[a] - wu) / T - 1) <= tol) & (np.abs((self.W[b] + wu) / T - 1) <= tol)
            within &= self.radius_ok(u, b, self.centres()) if self.radius is not None else True
            return within & (self.limits_ok(a, b, self.V[u]) if self.V is not None else True)
        return self._run(score, rounds, ok)

    def report(self) -> dict:
        dev = self.W / self.T - 1
        pp = 4 * np.pi * self.A / np.maximum(self.P, 1e-9) ** 2
        lab = self.labels
        cut = lab[self.g.src] != lab[self.g.indices]
        sub = [connected_components(_subgraph(self.g, np.array(sorted(m))), directed=False)[0] if m else 0
               for m in self.members]
        return {
            "max_deviation": float(np.max(np.abs(dev))),
            "mean_deviation": float(np.mean(np.abs(dev))),
            "non_contiguous": int(sum(1 for c in sub if c != 1)),
            "polsby_popper_mean": float(pp.mean()),
            "polsby_popper_min": float(pp.min()),
            "cut_edges": int(cut.sum() // 2),
            "per_district": {"workload": self.W.tolist(), "deviation": dev.tolist(), "polsby_popper": pp.tolist()},
        }


def partition_units(units: gpd.GeoDataFrame, *, n_districts: int | None = None, target_size: float | None = None,
                    tolerance: float = 0.02, weight=None, barriers: gpd.GeoDataFrame | None = None,
                    parent: str | None = None, previous: str | None = None, locked: str | None = None,
                    seeds: str | None = None, limits: dict | None = None, max_radius: float | None = None,
                    parent_counts: dict | None = None, random_state: int | None = 0, source: str = "units",
                    repair_coverage: bool = False, gap_width_m: float | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """The whole job on any polygon layer: returns the units (every row and column kept, in their
    own CRS) with a `district` code, the dissolved districts with totals and metrics, and the
    report. `barriers` may mix lines and polygons (barriers) with points (crossings).

    The layer must tile its area (gis.coverage): misnoding within a centimetre is snapped away;
    overlaps, and gaps narrower than `gap_width_m`, raise a CoverageError saying where, unless
    `repair_coverage`, which gives each overlap to one unit and each gap to a neighbour (the
    units come back with the repaired outlines)."""
    from gis import coverage
    from gis.crs import utm_epsg_for
    from gis.units import adjacency
    if units.crs is None:
        raise InputError(f"{source}: the layer has no coordinate reference system")
    geoms = units.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad = ~np.isin(kinds, [3, 6]) | ~shapely.is_valid(geoms)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        why = "is not a polygon" if kinds[i] not in (3, 6) else f"is invalid: {shapely.is_valid_reason(geoms[i])}"
        raise InputError(f"{source} row {i + 1}: geometry {why}")
    crs = units.crs if units.crs.is_projected else utm_epsg_for(units.geometry)
    metric = units.to_crs(crs).reset_index(drop=True)
    # Before any partitioning: a misnoded layer loses links in the graph and breaks the dissolve.
    gap = coverage.GAP_WIDTH_M if gap_width_m is None else gap_width_m
    cov = coverage.check_coverage(metric, None, gap_width_m=gap)
    if not cov.ok and not repair_coverage:
        raise coverage.CoverageError(cov.summary(), cov, source)
    fix = coverage.repair_coverage if repair_coverage else coverage.snap_coverage
    metric = fix(metric, None, gap_width_m=gap, report=cov, source=source)
    lines = crossings = None
    if barriers is not None and len(barriers):
        b = barriers.to_crs(crs)
        is_point = shapely.get_type_id(b.geometry.to_numpy()) == 0
        lines, crossings = b[~is_point], b[is_point]
        if "id" not in crossings.columns:
            crossings = crossings.assign(id=[f"crossing {i + 1}" for i in range(len(crossings))])
    adj, links = adjacency(metric, barriers=lines, crossings=crossings)
    slow = links.loc[links["crossing"] == "(slow barrier)", ["a", "b"]].to_numpy()
    part = DistrictPartitioner(n_districts=n_districts, target_size=target_size, tolerance=tolerance,
                               weight=weight, parent=parent, previous=previous, locked=locked,
                               seeds=seeds, limits=limits, max_radius=max_radius, parent_counts=parent_counts,
                               random_state=random_state).fit(metric, adjacency=adj,
                                                                                          slow_pairs=slow)
    codes = np.array([f"D{i + 1:03d}" for i in range(part.n_districts_)], dtype=object)
    if part.previous_codes_:
        kept = min(len(part.previous_codes_), part.n_districts_)
        codes[:kept] = [str(c) for c in part.previous_codes_[:kept]]
    n_locked = len(part.locked_codes_)
    if n_locked:
        codes[part.n_districts_ - n_locked:] = part.locked_codes_
        taken = set(part.locked_codes_)
        fresh = (f"D{i:03d}" for i in range(1, 10 * part.n_districts_) if f"D{i:03d}" not in taken)
        for i in range(part.n_districts_ - n_locked):
            if codes[i] in taken:
                codes[i] = next(fresh)
    out = units.copy()
    if not cov.ok:  # repaired: the units as partitioned, in their own CRS
        out[out.geometry.name] = gpd.GeoSeries(metric.geometry.to_crs(units.crs).to_numpy(), index=units.index,
                                               crs=units.crs)
    out["district"] = codes[part.labels_]
    districts = part.districts_.copy()
    districts["district"] = codes[districts["district"].to_numpy()]
    districts = districts.to_crs(units.crs)
    report = {k: v for k, v in part.report_.items() if k != "per_district"}
    report["coverage"] = {**cov.as_dict(), "repaired": not cov.ok}
    if part.seeds_:
        report["seeds"] = {name: codes[lab] for name, lab in part.seeds_.items()}
    if part.realignment_ is not None:
        prev_codes = np.array([str(c) for c in part.previous_codes_], dtype=object)
        r = part.realignment_
        report["moved"] = [{"unit": u, "from": prev_codes[f], "to": codes[t], "workload": float(x)}
                           for u, f, t, x in zip(r["unit"], r["from"], r["to"], r["workload"])]
    return out, districts, report
