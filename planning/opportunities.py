"""New-construction opportunity alerts: demand the network does not reach yet.

    scan = evaluate(boxes, demand, reach_m=300, take_up=0.6, threshold=0.85, streets=None)
    scan.alerts      # GeoDataFrame, one row per alert, best first (see ALERT_COLUMNS)
    scan.sites       # every demand site: its expected lines, the box that could serve it, or why not
    scan.boxes       # every box: utilisation now and forecast

One function serves the file command (`pianqu opportunities`) and the store
(`pianqu alerts evaluate`), so both apply the same rules:

- expected lines of a report = households x take-up, or, for a commercial report that states only
  its floor area, floor area x `lines_per_m2` x take-up;
- reports closer than `duplicate_m` to each other are one site (the same building reported
  twice): its demand is the largest of them, its key the first report's id;
- extend_network: no box within `reach_m` (along the streets when given, else straight line)
  has spare ports >= the site's expected lines. The alert names the nearest box, its spare
  ports and the cable length to lay;
- expand_box: utilisation above `threshold` now, or forecast above it within `horizon_months`
  from the box's connection trend (subscribers connected in the last 12 months) plus the
  expected lines of the extend-network sites within reach whose nearest box it is;
- outside_coverage: groups of demand (reports, and subscribers connected in the last 12 months)
  lying beyond `reach_m` of every box, linked when closer than `reach_m` to each other, of at
  least two sites and `area_min_lines` expected lines: a new area to plan (a lone site is its
  extend-network alert);
- rebuild: old trunk or distribution cable (at least `rebuild_age` years; drops are not rebuilt
  as projects) running through a fault hotspot, with at least 12 faults a year there (its own,
  when a `hot_faults` column attributes them, else the hotspots'). With an `expected_faults_year`
  column (the fault risk's prediction, planning.risk) the faults a rebuild avoids, its
  `faults_per_year`, its value and the 12 it needs, are the coming ones, not last year's.

Ranking (column `score`, CNY): every kind on one scale, its value over the payback horizon
(`Economics.horizon_months`) minus its cost, so the list mixes kinds by what they are worth:
    score = value - cost
    value = expected_lines x revenue_per_line x horizon_months       (extension, area, box)
    value = faults_per_year x (fault_cost + outage_cost) x horizon_months / 12    (rebuild)
with cost = extension_fixed + cable_cost_per_m x cable_m for an extension (and an outside-
coverage area), expansion_cost for a box, cable_cost_per_m x cable_m for a rebuild. A rebuild is
taken to clear the cable's own faults: each avoided fault saves the repair (fault_cost) and the
subscriber's side of the outage (outage_cost). `payback_months` = cost / the value of one month.
Columns mean one thing for every kind and are missing (NaN) where they do not apply: a rebuild
has faults_per_year, cable_age_years and cable_m, and no expected_lines or monthly_revenue.
The defaults are placeholders for an operator's own figures (`Economics`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gis.errors import InputError

from .new_areas import outside_coverage_rows

KINDS = ("extend_network", "expand_box", "outside_coverage", "rebuild")
ALERT_COLUMNS = ["alert_key", "kind", "report_id", "report_ids", "box_id", "cable_id", "distance_m",
                 "expected_lines", "spare_ports", "utilisation", "cable_m", "faults_per_year", "cable_age_years",
                 "value", "cost", "monthly_revenue", "payback_months", "score", "reason", "geometry"]
_DERIVED = ("value", "monthly_revenue", "payback_months", "score")  # computed from the rows, below


@dataclass(frozen=True)
class Economics:
    """The figures alerts are ranked by (CNY); placeholders for an operator's own."""
    revenue_per_line: float = 60.0      # CNY per line per month
    cable_cost_per_m: float = 120.0     # CNY per metre laid (duct, fibre, labour); also a rebuild's per metre
    extension_fixed: float = 15_000.0   # CNY: a new distribution point and splicing
    expansion_cost: float = 30_000.0    # CNY: a box module or a second box
    fault_cost: float = 800.0           # CNY per fault: a truck roll and the repair
    # CNY per fault, the subscriber's side of the outage: the service credit for the hours out,
    # the call-centre contact, call-back and complaint handling (~90 together), and the risk the
    # subscriber leaves (~5 % of a line's 36 months of revenue, ~110).
    outage_cost: float = 200.0
    horizon_months: int = 36            # months the value is counted over (the payback horizon)


@dataclass
class Scan:
    alerts: gpd.GeoDataFrame
    sites: pd.DataFrame
    boxes: pd.DataFrame
    parameters: dict

    def summary(self) -> dict:
        counts = self.alerts["kind"].value_counts()
        return {"alerts": int(len(self.alerts)), "by_kind": {k: int(counts.get(k, 0)) for k in KINDS},
                "sites": int(len(self.sites)), "boxes": int(len(self.boxes)), "parameters": self.parameters}


def _column(frame, names, what, source):
    for n in names:
        if n in frame.columns:
            return n
    raise InputError(f"{source}: no {what} column (expected {' or '.join(map(repr, names))}; "
                     f"columns: {', '.join(map(str, frame.columns))})")


def _numbers(frame, col, source, ids, *, allow_missing=False) -> np.ndarray:
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    bad = (~np.isfinite(v) & ~(allow_missing & frame[col].isna().to_numpy())) | (v < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source} row {i + 1} (id {ids[i]}): {col} must be a number >= 0, not {frame[col].iat[i]!r}")
    return v


def _metric(frame: gpd.GeoDataFrame, crs, source: str, id_columns=("box_id", "report_id", "cable_id", "id")) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise InputError(f"{source}: the layer has no coordinate reference system")
    geoms = frame.geometry.to_numpy()
    idc = next((c for c in id_columns if c in frame.columns), None)

    def row(i):
        return f"{source} row {i + 1}" + (f" (id {frame[idc].iat[i]})" if idc else "")
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise InputError(f"{row(int(np.flatnonzero(bad)[0]))}: no geometry")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        raise InputError(f"{row(i)}: geometry is invalid ({shapely.is_valid_reason(geoms[i])})")
    return frame.to_crs(crs).reset_index(drop=True)


def expected_lines(households, floor_area, take_up: float, lines_per_m2: float) -> np.ndarray:
    households = np.asarray(households, dtype=float)
    floor_area = np.asarray(floor_area, dtype=float)
    return np.where(np.isnan(households), np.nan_to_num(floor_area) * lines_per_m2, np.nan_to_num(households)) * take_up


MAX_REACH_M = 20_000.0    # a box serving beyond 20 km is not a box: the value is a mistake
MAX_HORIZON_MONTHS = 120  # a utilisation forecast ten years out is not a forecast


def check_parameters(reach_m=300.0, take_up=0.6, threshold=0.85, horizon_months=6, duplicate_m=30.0,
                     names: dict | None = None) -> None:
    """The accepted ranges, checked before any work. `names` maps a parameter to the word the
    caller's door uses for it (the CLI: {"reach_m": "--reach", ...}), so the message names it."""
    n = {"reach_m": "reach", "take_up": "take-up", "threshold": "threshold", "horizon_months": "forecast horizon",
         "duplicate_m": "duplicate distance", **(names or {})}
    ok = lambda v: isinstance(v, (int, float, np.number)) and np.isfinite(v)  # noqa: E731
    if not (ok(reach_m) and 0 < reach_m <= MAX_REACH_M):
        raise InputError(f"{n['reach_m']} must be more than 0 and at most {MAX_REACH_M:,.0f} m, not {reach_m!r}")
    if not (ok(take_up) and 0 < take_up <= 1):
        raise InputError(f"{n['take_up']} must be a share in (0, 1], not {take_up!r}")
    if not (ok(threshold) and 0 < threshold <= 1):
        raise InputError(f"{n['threshold']} must be a utilisation in (0, 1], not {threshold!r}")
    if not (ok(horizon_months) and float(horizon_months).is_integer() and 0 <= horizon_months <= MAX_HORIZON_MONTHS):
        raise InputError(f"{n['horizon_months']} must be 0 to {MAX_HORIZON_MONTHS} months (0: utilisation now "
                         f"only), not {horizon_months!r}")
    if not (ok(duplicate_m) and 0 <= duplicate_m < reach_m):
        raise InputError(f"{n['duplicate_m']} must be >= 0 and below the reach, not {duplicate_m!r}")


def evaluate(boxes: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *, reach_m: float = 300.0,
             take_up: float = 0.6, threshold: float = 0.85, streets: gpd.GeoDataFrame | None = None,
             subscribers: gpd.GeoDataFrame | None = None, outline=None, cables: gpd.GeoDataFrame | None = None,
             hotspots: gpd.GeoDataFrame | None = None, lines_per_m2: float = 0.01, horizon_months: int = 6,
             duplicate_m: float = 30.0, area_min_lines: float = 20.0, rebuild_age: int = 20, as_of=None, crs=None,
             economics: Economics = Economics()) -> Scan:
    """All alerts for one network and its demand (see the module docstring for the rules).

    boxes: points with box_id (or id), capacity, used. demand: points or outlines with report_id
    (or id) and households (or floor_area_m2 for commercial space). Any CRS; the metric work is
    done in `crs` (default: the UTM zone of the boxes). subscribers (optional): points with
    box_id and connected_since, for the connection trend and new demand outside coverage.
    outline (optional): the city's area; demand outside it is refused.
    """
    check_parameters(reach_m, take_up, threshold, horizon_months, duplicate_m)
    as_of = pd.Timestamp.today().normalize() if as_of is None else pd.Timestamp(as_of)
    if crs is None:
        if boxes.crs is None:
            raise InputError("boxes: the layer has no coordinate reference system")
        from gis.crs import utm_epsg_for
        crs = boxes.crs if boxes.crs.is_projected else utm_epsg_for(boxes.geometry)
    B = _metric(boxes, crs, "boxes")
    D = _metric(demand, crs, "demand")
    box_col = _column(B, ("box_id", "id"), "box id", "boxes")
    box_ids = B[box_col].astype(str).to_numpy()
    if pd.Index(box_ids).duplicated().any():
        raise InputError(f"boxes: box id {box_ids[pd.Index(box_ids).duplicated()][0]!r} appears twice")
    not_point = shapely.get_type_id(B.geometry.to_numpy()) != 0
    if not_point.any():
        i = int(np.flatnonzero(not_point)[0])
        raise InputError(f"boxes row {i + 1} (id {box_ids[i]}): a box is a point, not a {B.geom_type.iat[i]}")
    cap = _numbers(B, _column(B, ("capacity",), "capacity", "boxes"), "boxes", box_ids)
    used = _numbers(B, _column(B, ("used",), "used ports", "boxes"), "boxes", box_ids)
    if (cap <= 0).any() or (used > cap).any():
        i = int(np.flatnonzero((cap <= 0) | (used > cap))[0])
        raise InputError(f"boxes row {i + 1} (id {box_ids[i]}): used ({used[i]:g}) must be within a positive "
                         f"capacity ({cap[i]:g})")
    rep_col = _column(D, ("report_id", "id"), "report id", "demand")
    rep_ids = D[rep_col].astype(str).to_numpy()
    if "households" not in D.columns and "floor_area_m2" not in D.columns:
        raise InputError(f"demand: no households column (or floor_area_m2 for commercial space); "
                         f"columns: {', '.join(map(str, D.columns))}")
    hh = (_numbers(D, "households", "demand", rep_ids, allow_missing=True) if "households" in D.columns
          else np.full(len(D), np.nan))
    fa = (_numbers(D, "floor_area_m2", "demand", rep_ids, allow_missing=True) if "floor_area_m2" in D.columns
          else np.full(len(D), np.nan))
    none = np.isnan(hh) & np.isnan(fa)
    if none.any():
        i = int(np.flatnonzero(none)[0])
        raise InputError(f"demand row {i + 1} (id {rep_ids[i]}): neither households nor floor area is given")
    if "box_id" in D.columns:  # a report may name the box its reporter expects to serve it
        named = D["box_id"].notna().to_numpy()
        unknown = named & ~np.isin(D["box_id"].astype(str).to_numpy(), box_ids)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(f"demand row {i + 1} (id {rep_ids[i]}): unknown box {D['box_id'].iat[i]!r}")
    if outline is not None:
        area = gpd.GeoSeries(np.atleast_1d(getattr(outline, "geometry", outline)),
                             crs=getattr(outline, "crs", None) or "EPSG:4326").to_crs(crs).union_all()
        outside = ~shapely.intersects(D.geometry.to_numpy(), area)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise InputError(f"demand row {i + 1} (id {rep_ids[i]}): lies outside the city")

    lines = expected_lines(hh, fa, take_up, lines_per_m2)
    spare = cap - used
    bxy = B.geometry.to_numpy()
    net = None
    if streets is not None and len(streets):
        from gis.streets import StreetNetwork
        net = StreetNetwork.from_lines(streets.to_crs(crs).geometry)

    # ---- sites: duplicates merged -------------------------------------------------------
    dgeom = D.geometry.to_numpy()
    if len(D):
        a, b = shapely.STRtree(dgeom).query(dgeom, predicate="dwithin", distance=duplicate_m)
        n_sites, site = connected_components(sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(D),) * 2),
                                             directed=False)
    else:
        n_sites, site = 0, np.zeros(0, int)
    order = np.lexsort((rep_ids, site))  # the first report (by id) keys its site
    first = order[np.r_[True, site[order][1:] != site[order][:-1]]] if len(D) else order
    key_row = np.empty(n_sites, int)
    key_row[site[first]] = first
    site_lines = np.zeros(n_sites)
    np.maximum.at(site_lines, site, lines)
    members = pd.Series(rep_ids[order]).groupby(site[order]).agg(list)
    sgeom = dgeom[key_row]

    # ---- which boxes reach each site ----------------------------------------------------
    tree = shapely.STRtree(bxy)
    si, bj = tree.query(sgeom, predicate="dwithin", distance=reach_m)
    dist = shapely.distance(sgeom[si], bxy[bj])
    if net is not None:
        dist = net.pair_distances(sgeom, bxy, (si, bj), limit=reach_m)
    within = np.isfinite(dist) & (dist <= reach_m)
    si, bj, dist = si[within], bj[within], dist[within]
    servable = np.zeros(n_sites, bool)
    ok = spare[bj] >= site_lines[si]
    servable[si[ok]] = True
    serve_box = np.full(n_sites, -1)
    if ok.any():  # the nearest box that has the room
        o = np.lexsort((dist[ok], si[ok]))
        s_ok, b_ok = si[ok][o], bj[ok][o]
        head = np.r_[True, s_ok[1:] != s_ok[:-1]]
        serve_box[s_ok[head]] = b_ok[head]
    # The candidate for an extension: the nearest box within reach, else the nearest at all.
    near_box = np.full(n_sites, -1)
    near_d = np.full(n_sites, np.inf)
    if len(si):
        o = np.lexsort((dist, si))
        head = np.r_[True, si[o][1:] != si[o][:-1]]
        near_box[si[o][head]] = bj[o][head]
        near_d[si[o][head]] = dist[o][head]
    far = near_box < 0
    if far.any() and len(bxy):
        q, nb = tree.query_nearest(sgeom[far], all_matches=False)
        idx = np.flatnonzero(far)[q]
        near_box[idx] = nb
        near_d[idx] = shapely.distance(sgeom[idx], bxy[nb])
        if net is not None:  # the cable follows the streets: measure it along them where they connect
            along = net.pair_distances(sgeom, bxy, (idx, nb), limit=10 * reach_m)
            near_d[idx] = np.where(np.isfinite(along), along, near_d[idx])
    extend = ~servable

    # ---- box utilisation, trend and forecast --------------------------------------------
    trend = np.zeros(len(B))
    S = None
    if subscribers is not None and len(subscribers):
        S = _metric(subscribers, crs, "subscribers")
        if "box_id" in S.columns and "connected_since" in S.columns:
            since = pd.to_datetime(S["connected_since"], errors="coerce")
            recent = ((since > as_of - pd.DateOffset(months=12)) & (since <= as_of)).to_numpy()
            pos = pd.Index(box_ids).get_indexer(S["box_id"].astype(str))
            hit = recent & (pos >= 0)
            trend = np.bincount(pos[hit], minlength=len(B)) / 12.0  # lines per month
    pending = np.zeros(len(B))
    in_reach = extend & np.isfinite(near_d) & (near_d <= reach_m)
    np.add.at(pending, near_box[in_reach], site_lines[in_reach])
    util_now = used / cap
    util_then = (used + pending + trend * horizon_months) / cap
    expand = (util_now > threshold) | (util_then > threshold)

    econ = economics
    rows = []
    # extend_network, one per site
    for s in np.flatnonzero(extend):
        b = int(near_box[s]) if near_box[s] >= 0 else None
        cable = float(near_d[s]) if b is not None else np.nan
        cost = econ.extension_fixed + econ.cable_cost_per_m * (0.0 if np.isnan(cable) else cable)
        why = (f"no box within {reach_m:g} m has {site_lines[s]:.0f} spare ports"
               + (f"; nearest is {box_ids[b]} at {cable:,.0f} m with {spare[b]:.0f} spare" if b is not None else ""))
        rows.append(dict(alert_key=rep_ids[key_row[s]], kind="extend_network", report_id=rep_ids[key_row[s]],
                         report_ids=members[s], box_id=box_ids[b] if b is not None else None, cable_id=None,
                         distance_m=cable, expected_lines=site_lines[s], spare_ports=spare[b] if b is not None else np.nan,
                         utilisation=util_now[b] if b is not None else np.nan, cable_m=cable, cost=cost,
                         reason=why, geometry=sgeom[s]))
    # expand_box
    for b in np.flatnonzero(expand):
        need = pending[b] + trend[b] * horizon_months
        if util_now[b] > threshold:
            why = f"utilisation {util_now[b]:.0%} is above {threshold:.0%}"
        else:
            why = (f"utilisation {util_now[b]:.0%} forecast at {util_then[b]:.0%} within {horizon_months} months "
                   f"({pending[b]:.0f} lines of new construction in reach, {trend[b]:.1f} connections a month)")
        rows.append(dict(alert_key=box_ids[b], kind="expand_box", report_id=None, report_ids=[], box_id=box_ids[b],
                         cable_id=None, distance_m=np.nan, expected_lines=need, spare_ports=spare[b],
                         utilisation=util_now[b], cable_m=np.nan, cost=econ.expansion_cost, reason=why,
                         geometry=bxy[b]))
    rows += outside_coverage_rows(sgeom, site_lines, members, rep_ids[key_row], near_d, S, box_ids, bxy, tree,
                              reach_m, area_min_lines, as_of, econ)
    rows += _rebuild(cables, hotspots, crs, as_of, rebuild_age, econ)

    alerts = pd.DataFrame(rows, columns=[c for c in ALERT_COLUMNS if c not in _DERIVED])
    if len(alerts):
        rebuild = (alerts["kind"] == "rebuild").to_numpy()
        lines_ = alerts["expected_lines"].astype(float).to_numpy()
        faults = alerts["faults_per_year"].astype(float).to_numpy()
        # One scale for every kind: what a month of the alert is worth, counted over the horizon.
        alerts["monthly_revenue"] = np.where(rebuild, np.nan, lines_ * econ.revenue_per_line)
        monthly_value = np.where(rebuild, faults / 12.0 * (econ.fault_cost + econ.outage_cost),
                                 alerts["monthly_revenue"])
        alerts["value"] = monthly_value * econ.horizon_months
        alerts["payback_months"] = np.where(monthly_value > 0, alerts["cost"] / np.maximum(monthly_value, 1e-9), np.inf)
        alerts["score"] = alerts["value"] - alerts["cost"]
        alerts = alerts.sort_values(["score", "kind", "alert_key"], ascending=[False, True, True], kind="stable")
    else:
        alerts = alerts.assign(**{c: [] for c in _DERIVED})
    alerts = gpd.GeoDataFrame(alerts[ALERT_COLUMNS].reset_index(drop=True), geometry="geometry", crs=crs)

    sites = pd.DataFrame({"site": rep_ids[key_row], "reports": members.reindex(range(n_sites)).to_numpy(),
                          "expected_lines": site_lines, "servable": servable,
                          "serving_box": np.where(serve_box >= 0, box_ids[np.maximum(serve_box, 0)], None),
                          "nearest_box": np.where(near_box >= 0, box_ids[np.maximum(near_box, 0)], None),
                          "nearest_m": near_d})
    box_frame = pd.DataFrame({"box_id": box_ids, "capacity": cap, "used": used, "spare": spare,
                              "utilisation": util_now, "pending_lines": pending, "trend_per_month": trend,
                              "forecast_utilisation": util_then, "expand": expand})
    params = {"reach_m": reach_m, "take_up": take_up, "threshold": threshold, "lines_per_m2": lines_per_m2,
              "horizon_months": horizon_months, "duplicate_m": duplicate_m,
              "distance": "street network" if net is not None else "straight line", "economics": asdict(econ)}
    return Scan(alerts, sites, box_frame, params)


def _rebuild(cables, hotspots, crs, as_of, rebuild_age, econ, min_faults: float = 12.0):
    if cables is None or hotspots is None or len(cables) == 0 or len(hotspots) == 0:
        return []
    C = _metric(cables, crs, "cables")
    H = _metric(hotspots, crs, "hotspots")
    cid = _column(C, ("cable_id", "id"), "cable id", "cables")
    year = pd.to_numeric(C[_column(C, ("year_laid",), "year laid", "cables")], errors="coerce").to_numpy()
    old = (as_of.year - year) >= rebuild_age
    if "kind" in C.columns:  # a rebuild is planned on trunk and distribution cable, not on a drop
        old &= (C["kind"].astype(str) != "drop").to_numpy()
    faults = (pd.to_numeric(H["faults"], errors="coerce").fillna(0).to_numpy() if "faults" in H.columns
              else np.ones(len(H)))
    hc, hh = shapely.STRtree(H.geometry.to_numpy()).query(C.geometry.to_numpy(), predicate="intersects")
    # Faults a year that are the cable's own (tickets on it, or on the boxes it feeds, inside the
    # hotspots) when the caller attributed them; else all the faults of the hotspots it crosses.
    own = (pd.to_numeric(C["hot_faults"], errors="coerce").fillna(0).to_numpy() if "hot_faults" in C.columns
           else None)
    # The faults a year the fault risk expects on the cable (planning.risk), when the caller has
    # them: a rebuild avoids the coming faults, which for a worsening cable are more than last year's.
    coming = (pd.to_numeric(C["expected_faults_year"], errors="coerce").to_numpy() if "expected_faults_year" in C.columns
              else None)
    rows = []
    for c in np.unique(hc[old[hc]]):
        spots = hh[hc == c]
        length = float(shapely.length(C.geometry.iat[c]))
        last = float(faults[spots].sum()) if own is None else float(own[c])
        expected = float(coming[c]) if coming is not None and np.isfinite(coming[c]) else None
        yearly = last if expected is None else expected
        if yearly < min_faults:
            continue
        rows.append(dict(alert_key=str(C[cid].iat[c]), kind="rebuild", report_id=None, report_ids=[], box_id=None,
                         cable_id=str(C[cid].iat[c]), distance_m=np.nan, expected_lines=np.nan, spare_ports=np.nan,
                         utilisation=np.nan, cable_m=length, faults_per_year=yearly,
                         cable_age_years=float(as_of.year - year[c]), cost=econ.cable_cost_per_m * length,
                         reason=(f"cable laid {int(year[c])} ({as_of.year - int(year[c])} years) runs through "
                                 f"{len(spots)} fault hotspot(s); {last:.0f} faults a year "
                                 + ("on it" if own is not None else "in them")
                                 + ("" if expected is None else f", {expected:.0f} expected in the next 12 months")),
                         geometry=C.geometry.iat[c]))
    return rows
