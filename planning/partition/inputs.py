"""What the partitioner reads from the units: the workload, the further attributes held within
limits, the seeds, the previous plan, and how many districts each parent area gets. Each
function raises an InputError (a wrong column or value) or InfeasiblePlan (a request the data
cannot meet) in a planner's words."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import InputError

from .errors import InfeasiblePlan


def unit_ids(units) -> np.ndarray:
    """Each unit's id as text (unit_id, else box_id, else id, else its row label): what reports
    and realignments name a unit by."""
    for c in ("unit_id", "box_id", "id"):
        if c in units.columns:
            return units[c].astype(str).to_numpy()
    return units.index.astype(str).to_numpy()


def unit_names(units, idx, limit: int = 10) -> str:
    """The units `idx` listed for a message (the box first: what a planner knows), at most `limit`."""
    col = units["id"] if "id" in units.columns else pd.Series(units.index)
    for c in ("box_id", "unit_id", "id"):
        if c in units.columns:
            col = units[c]
            break
    names = [str(col.iat[i]) for i in idx[:limit]]
    return ", ".join(names) + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def workload(units: pd.DataFrame, weight) -> np.ndarray:
    """Per unit, the weighted sum of the workload columns (default: subscribers)."""
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


def limit_spec(limits) -> list[tuple]:
    """Each limit as ("abs", min, max) or ("rel", share, None), or an error naming it."""
    if not isinstance(limits, dict):
        raise InputError("limits must be {column: tolerance} or {column: (min, max)}")
    spec = []
    for col, lim in limits.items():
        if isinstance(lim, (tuple, list)):
            if len(lim) != 2 or not (float(lim[0]) <= float(lim[1])):
                raise InputError(f"limits for {col!r} must be (min, max) with min <= max, not {lim!r}")
            spec.append(("abs", float(lim[0]), float(lim[1])))
        else:
            if not (0 < float(lim) < 1):
                raise InputError(f"the limit for {col!r} must be a share between 0 and 1 (e.g. 0.05), not {lim!r}")
            spec.append(("rel", float(lim), None))
    return spec


def limit_columns(units, limits):
    """The attributes held within limits, one column per limit (units x m), and [(column, spec)];
    (None, None) without limits."""
    if not limits:
        return None, None
    spec = limit_spec(limits)
    missing = [col for col in limits if col not in units.columns]
    if missing:
        raise InputError(f"units have no column {missing[0]!r} to hold within limits")
    cols = list(limits)
    values = np.column_stack([workload(units, c) for c in cols])
    return values, list(zip(cols, spec))


def limit_bounds(values, k, spec):
    """Per attribute, the lower and upper total a district may have: a share either side of the
    mean over k districts, or the absolute bounds given."""
    mean = values.sum(0) / k
    lower = np.array([m * (1 - s[1]) if s[0] == "rel" else s[1] for m, (_, s) in zip(mean, spec)])
    upper = np.array([m * (1 + s[1]) if s[0] == "rel" else s[2] for m, (_, s) in zip(mean, spec)])
    return lower, upper


def seed_column(units, seeds: str | None, free) -> np.ndarray | None:
    """Seed name per unit ("" for none); a name may stand on one unit only."""
    if seeds is None:
        return None
    if seeds not in units.columns:
        raise InputError(f"units have no seed column {seeds!r}")
    col = units[seeds].astype("string").fillna("").to_numpy(dtype=object)
    names, counts = np.unique(col[col != ""], return_counts=True)
    if (counts > 1).any():
        bad = names[counts > 1][0]
        raise InputError(f"seed {bad!r} stands on {int(counts[counts > 1][0])} units; a seed is one unit "
                         f"(a manager's base)")
    if (col[~free] != "").any():
        raise InputError("a seed lies in a locked district; seeds are for the districts being planned")
    return col


def group_seeds(seed_of, idx, k: int, where: str) -> np.ndarray | None:
    """Within one group of units `idx`: each unit's seed as 0..s-1 (-1 for none), or None."""
    if seed_of is None or not (seed_of[idx] != "").any():
        return None
    names = list(dict.fromkeys(seed_of[idx][seed_of[idx] != ""].tolist()))
    if len(names) > k:
        raise InfeasiblePlan(f"{len(names)} seeds{where} for {k} districts: at most one seed per district")
    pos = {n: i for i, n in enumerate(names)}
    return np.array([pos.get(x, -1) for x in seed_of[idx]])


def previous_labels(units, previous: str | None) -> tuple[np.ndarray | None, list | None]:
    """Previous labels as 0..m-1 (new units -1), and the codes they stand for (label i is
    code i), or (None, None) for a first plan."""
    if previous is None:
        return None, None
    if previous not in units.columns:
        raise InputError(f"units have no previous-plan column {previous!r}")
    col = units[previous]
    codes = pd.unique(col.dropna())
    lookup = {c: i for i, c in enumerate(codes)}
    return col.map(lookup).fillna(-1).astype(int).to_numpy(), list(codes)


def parent_quotas(groups, parents, w, k, parent: str | None, parent_counts: dict | None) -> dict:
    """Districts per group of units: all k for a single group; else the counts given per parent,
    or seats by workload share (largest remainder, at least one each)."""
    if parent is None:
        return {groups[0]: k}
    if parent_counts:
        given = {str(p): c for p, c in parent_counts.items()}
        missing = [g for g in groups if g not in given]
        if missing:
            raise InputError(f"no district count given for {parent} {', '.join(map(str, missing[:5]))}")
        bad = [p for p, c in given.items() if not (isinstance(c, (int, np.integer)) and c >= 1)]
        if bad:
            raise InputError(f"district count for {parent} {bad[0]} must be a whole number >= 1, "
                             f"not {given[bad[0]]!r}")
        if sum(given[g] for g in groups) != k:
            raise InputError(f"the district counts per {parent} add up to "
                             f"{sum(given[g] for g in groups)}, not the {k} districts asked")
        counts = {g: int(np.sum(parents == g)) for g in groups}
        short = [g for g in groups if counts[g] < given[g]]
        if short:
            raise InfeasiblePlan(f"{parent} {short[0]} has {counts[short[0]]} units for {given[short[0]]} districts")
        return {g: int(given[g]) for g in groups}
    if len(groups) > k:
        raise InfeasiblePlan(f"{k} districts cannot nest in {len(groups)} {parent} areas: each needs at "
                             f"least one district")
    load = np.array([w[parents == g].sum() for g in groups])
    share = load / load.sum() * k
    seats = np.maximum(1, np.floor(share)).astype(int)
    while seats.sum() < k:
        seats[np.argmax(share - seats)] += 1
    while seats.sum() > k:
        over = np.flatnonzero(seats > 1)
        seats[over[np.argmin((share - seats)[over])]] -= 1
    counts = {g: int(np.sum(parents == g)) for g in groups}
    short = [g for g, s in zip(groups, seats) if counts[g] < s]
    if short:
        raise InfeasiblePlan(f"{parent} {short[0]} has {counts[short[0]]} units for {dict(zip(groups, seats))[short[0]]} districts")
    return dict(zip(groups, seats.tolist()))


def refuse_heavy_units(w, target, tolerance, units, where: str) -> None:
    """A unit heavier than a whole district (plus the tolerance) cannot be placed: refuse, naming it."""
    heavy = np.flatnonzero(w > target * (1 + tolerance))
    if len(heavy):
        raise InfeasiblePlan(
            f"{len(heavy)} unit(s){where} carry more than a whole district ({target:,.0f} "
            f"+{tolerance:.0%}): {unit_names(units, heavy)}; split them (a box too large for one "
            f"district is split by distribution point) or ask for fewer districts")


def metric_units(units: gpd.GeoDataFrame):
    """The units in a metric CRS (their UTM zone if in degrees), indexed 0..n-1, and their
    geometries; refuses no units or a unit without geometry."""
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
    return units, geoms
