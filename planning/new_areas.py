"""Outside-coverage alerts: demand beyond reach of every box, grouped into new areas to plan.

Kept apart from `planning.opportunities.evaluate`, which calls it with the arrays it has already
built (sites, their expected lines, the distance to the nearest box, the boxes' tree).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def outside_coverage_rows(sgeom, site_lines, members, site_keys, near_d, S, box_ids, bxy, tree, reach_m, min_lines,
                      as_of, econ):
    """Demand beyond reach of every box, grouped where its parts lie within reach of each other;
    a group of fewer than `min_lines` expected lines (a few long drops in the outskirts) is not
    a new area."""
    pts, lines, label, reports = [], [], [], []
    out = ~(np.isfinite(near_d) & (near_d <= reach_m))
    for s in np.flatnonzero(out):
        pts.append(sgeom[s])
        lines.append(site_lines[s])
        reports.append(list(members[s]))
        label.append(site_keys[s])
    if S is not None and "connected_since" in S.columns:
        since = pd.to_datetime(S["connected_since"], errors="coerce")
        recent = ((since > as_of - pd.DateOffset(months=12)) & (since <= as_of)).to_numpy()
        g = S.geometry.to_numpy()[recent]
        if len(g) and len(bxy):
            d = shapely.distance(g, bxy[tree.query_nearest(g, all_matches=False)[1]])
            far = d > reach_m
            ids = S["id"].astype(str).to_numpy()[recent][far] if "id" in S.columns else np.arange(far.sum()).astype(str)
            for p, i in zip(g[far], ids):
                pts.append(p)
                lines.append(1.0)
                reports.append([])
                label.append(f"subscriber {i}")
    if not pts:
        return []
    pts = np.array(pts, dtype=object)
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=reach_m)
    n, comp = connected_components(sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(pts),) * 2), directed=False)
    lines = np.asarray(lines)
    rows = []
    for c in range(n):
        idx = np.flatnonzero(comp == c)
        if len(idx) < 2 or lines[idx].sum() < min_lines:  # one site alone is its extend-network alert
            continue
        area = shapely.union_all(pts[idx])
        centre = shapely.centroid(area)
        nb = int(tree.query_nearest(centre, all_matches=False)[0])
        cable = float(shapely.distance(area, bxy[nb]))
        reps = sorted({r for i in idx for r in reports[i]})
        key = min(label[i] for i in idx)
        subs = sum(1 for i in idx if not reports[i])
        rows.append(dict(alert_key=f"area {key}", kind="outside_coverage", report_id=reps[0] if reps else None,
                         report_ids=reps, box_id=box_ids[nb], cable_id=None, distance_m=cable,
                         expected_lines=float(lines[idx].sum()), spare_ports=np.nan, utilisation=np.nan,
                         cable_m=cable, cost=econ.extension_fixed + econ.cable_cost_per_m * cable,
                         reason=(f"{len(reps)} report(s) and {subs} new subscriber(s) more than {reach_m:g} m from "
                                 f"every box; nearest box {box_ids[nb]} at {cable:,.0f} m"),
                         geometry=shapely.convex_hull(area) if len(idx) > 2 else area))
    return rows
