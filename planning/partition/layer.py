"""The whole job on any polygon layer (the door the CLI's file command and the plan service use):
coverage checked or repaired, the barrier-aware adjacency, the partition, and district codes."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse

from gis.errors import InputError

from .estimator import DistrictPartitioner


def partition_units(units: gpd.GeoDataFrame, *, n_districts: int | None = None, target_size: float | None = None,
                    tolerance: float = 0.02, weight=None, barriers: gpd.GeoDataFrame | None = None,
                    parent: str | None = None, previous: str | None = None, locked: str | None = None,
                    seeds: str | None = None, limits: dict | None = None, max_radius: float | None = None,
                    parent_counts: dict | None = None, random_state: int | None = 0, source: str = "units",
                    repair_coverage: bool = False, gap_width_m: float | None = None,
                    graph: bool = False) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """The whole job on any polygon layer: returns the units (every row and column kept, in their
    own CRS) with a `district` code, the dissolved districts with totals and metrics, and the
    report. `barriers` may mix lines and polygons (barriers) with points (crossings).

    The layer must tile its area (gis.coverage): misnoding within a centimetre is snapped away;
    overlaps, and gaps narrower than `gap_width_m`, raise a CoverageError saying where, unless
    `repair_coverage`, which gives each overlap to one unit and each gap to a neighbour (the
    units come back with the repaired outlines).

    `graph`: the units also carry `workload` (the weighted sum the plan balanced) and
    `neighbours` (row positions on the unit graph the plan was made on, islands' links
    included), which the store keeps so a plan can be edited by hand (planning.partition.editing)."""
    from gis import coverage
    from gis.crs import utm_epsg_for
    from gis.units import adjacency

    from .inputs import unit_ids, workload
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
    if graph:
        out["workload"] = workload(metric, weight)
        out["neighbours"] = neighbour_lists(adj, unit_ids(metric), part.links_)
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


def neighbour_lists(adjacency, ids, links) -> list[list[int]]:
    """Each unit's neighbours (row positions), the links that joined islands added both ways."""
    adj = sparse.csr_matrix(adjacency)
    out = [set(adj.indices[adj.indptr[i]:adj.indptr[i + 1]].tolist()) - {i} for i in range(adj.shape[0])]
    pos = {str(u): i for i, u in enumerate(ids)}
    for a, b, _ in links:
        i, j = pos[str(a)], pos[str(b)]
        out[i].add(j)
        out[j].add(i)
    return [sorted(n) for n in out]
