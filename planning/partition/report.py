"""The report: the measures of a plan (deviations, contiguity, Polsby-Popper, cut edges), the
further constraints met or not, and the dissolved districts with their totals."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

from .inputs import unit_names
from .state import SearchState, polsby_popper


def plan_measures(state: SearchState) -> dict:
    """Deviations, contiguity, Polsby-Popper (of the search's own perimeters) and cut edges."""
    dev = state.workload / state.target - 1
    pp = polsby_popper(state.area, state.perimeter)
    lab = state.labels
    cut = lab[state.graph.source] != lab[state.graph.indices]
    pieces = [connected_components(state.graph.subgraph(np.array(sorted(m))), directed=False)[0] if m else 0
              for m in state.members]
    return {
        "max_deviation": float(np.max(np.abs(dev))),
        "mean_deviation": float(np.mean(np.abs(dev))),
        "non_contiguous": int(sum(1 for c in pieces if c != 1)),
        "polsby_popper_mean": float(pp.mean()),
        "polsby_popper_min": float(pp.min()),
        "cut_edges": int(cut.sum() // 2),
        "per_district": {"workload": state.workload.tolist(), "deviation": dev.tolist(), "polsby_popper": pp.tolist()},
    }


def limits_report(labels, k, values, lower, upper, spec) -> dict:
    """Per attribute held within limits: the limit, the districts' range, and whether it holds."""
    totals = np.zeros((k, values.shape[1]))
    np.add.at(totals, labels, values)
    out = {}
    for j, (col, s) in enumerate(spec):
        x, lo, hi = totals[:, j], lower[:, j], upper[:, j]
        bad = (x < lo - 1e-9) | (x > hi + 1e-9)
        mean = x.mean()
        out[col] = {"limit": s[1] if s[0] == "rel" else [s[1], s[2]],
                    "min": float(x.min()), "max": float(x.max()),
                    "max_deviation_from_mean": float(np.max(np.abs(x / max(mean, 1e-12) - 1))),
                    "districts_outside": int(bad.sum()),
                    "within_limits": bool(not bad.any())}
    return out


def radius_report(units, labels, dist, radius, max_radius) -> dict:
    """The largest and mean district radius, and the units beyond `max_radius` (if one is set)."""
    over = np.flatnonzero(dist > max_radius + 1e-9) if max_radius else np.empty(0, int)
    return {"max_radius_m": max_radius, "largest_m": float(radius.max()), "mean_m": float(radius.mean()),
            "districts_over": len(np.unique(labels[over])), "units_over": len(over),
            **({"units_over_list": unit_names(units, over, 20)} if len(over) else {})}


def per_parent(quota: dict) -> dict[str, int]:
    """Districts per parent area (the groups a lock split a parent into counted together)."""
    out: dict[str, int] = {}
    for group, q in quota.items():
        name = str(group).split("#")[0]
        out[name] = out.get(name, 0) + int(q)
    return out


def relaxation(report: dict, tolerance: float) -> str:
    return (f"no plan of whole units within {tolerance:.1%} was found; the best reached has a "
            f"maximum deviation of {report['max_deviation']:.2%}")


def dissolve_districts(units: gpd.GeoDataFrame, w: np.ndarray, labels, k, radius, target,
                       report) -> gpd.GeoDataFrame:
    """The dissolved districts with their totals and measures; adds the measures taken on the
    outlines (Polsby-Popper, parts, holes) to `report`."""
    df = gpd.GeoDataFrame({"district": labels, "workload": w}, geometry=units.geometry.to_numpy(), crs=units.crs)
    numeric = [c for c in units.columns if c != units.geometry.name and pd.api.types.is_numeric_dtype(units[c])]
    for c in numeric:
        df[c] = units[c].to_numpy()
    # GEOS's coverage union is fast but refuses (or, with overlaps, botches) a layer that is
    # not an exact coverage; a plain union takes anything.
    exact = bool(shapely.coverage_is_valid(df.geometry.to_numpy()))
    out = df.dissolve("district", aggfunc="sum", method="coverage" if exact else "unary")
    out["units"] = np.bincount(labels, minlength=k)
    out["radius_m"] = radius
    out["deviation"] = out["workload"] / target - 1
    # Measured on the dissolved outlines: the search's own perimeters discount borders
    # along slow barriers, which is a preference, not geometry.
    out["polsby_popper"] = polsby_popper(out.area, out.length)
    report["polsby_popper_mean"] = float(out["polsby_popper"].mean())
    report["polsby_popper_min"] = float(out["polsby_popper"].min())
    report["per_district"]["polsby_popper"] = out["polsby_popper"].tolist()
    # Validation: separate parts (a district joined across a bridge has two) and holes
    # (another district, or unserved land, enclosed by this one).
    geoms = out.geometry.to_numpy()
    out["parts"] = shapely.get_num_geometries(geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    out["holes"] = np.bincount(owner, weights=shapely.get_num_interior_rings(parts),
                               minlength=len(out)).astype(int)
    report["districts_in_several_parts"] = int((out["parts"] > 1).sum())
    report["districts_with_holes"] = int((out["holes"] > 0).sum())
    return out.reset_index()
