"""A demo city a telecom planner would find plausible: Changsha-like, on a river with three
bridges, a street network of irregular blocks, a dense centre and villages, boxes at demand
clusters, 24 months of fault tickets with planted hotspots, construction reports, and the
ground truth of what was planted.

    city = generate(size="small", seed=7)     # or size="city": ~700,000 subscribers
    city.layers["subscribers"]                # GeoDataFrames in EPSG:4326, columns as the tables
    city.truth                                # what was planted, JSON-ready
    city.write("data/demo-small-7"); DemoCity.read("data/demo-small-7")
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from . import faults, geography, names, people as ppl, plant as plt, reports as rep
from .spec import CENTRE_LONLAT, METRIC_CRS, TIMEZONE, WINDOW, Size, size_of

GENERATOR_VERSION = 1
LAYER_ORDER = ["cities", "offices", "streets", "barriers", "crossings", "admin_areas", "cables", "boxes",
               "distribution_points", "subscribers", "managers", "construction_reports", "fault_tickets"]

__all__ = ["DemoCity", "generate", "LAYER_ORDER"]


@dataclass
class DemoCity:
    layers: dict[str, gpd.GeoDataFrame]
    truth: dict
    metric_crs: int = METRIC_CRS
    manifest: dict = field(default_factory=dict)

    def write(self, out_dir) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in LAYER_ORDER:
            self.layers[name].to_parquet(out / f"{name}.parquet", index=False)
        (out / "ground_truth.json").write_text(json.dumps(self.truth, ensure_ascii=False, indent=1))
        # The manifest last: its presence means the folder is complete.
        (out / "manifest.json").write_text(json.dumps(self.manifest, ensure_ascii=False, indent=1))
        return out

    @classmethod
    def read(cls, out_dir) -> "DemoCity":
        d = Path(out_dir)
        manifest = json.loads((d / "manifest.json").read_text())
        layers = {name: gpd.read_parquet(d / f"{name}.parquet") for name in LAYER_ORDER}
        if "timezone" not in layers["cities"].columns:  # files written before cities had one
            layers["cities"]["timezone"] = TIMEZONE
        return cls(layers, json.loads((d / "ground_truth.json").read_text()), manifest["metric_crs"], manifest)


class _Frame:
    """Builds layers in local metres and moves them to EPSG:4326 in one vectorised transform."""

    def __init__(self, city_id: str, prefix: str):
        x0, y0 = Transformer.from_crs(4326, METRIC_CRS, always_xy=True).transform(*CENTRE_LONLAT)
        self.origin = np.array([x0, y0])
        self.to_ll = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True)
        self.city_id, self.prefix = city_id, prefix

    def ids(self, kind: str, n: int, width: int) -> np.ndarray:
        return np.array([f"{self.prefix}-{kind}-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    def lonlat(self, xy: np.ndarray) -> np.ndarray:
        lon, lat = self.to_ll.transform(xy[:, 0] + self.origin[0], xy[:, 1] + self.origin[1])
        return np.c_[lon, lat]

    def geoms(self, g) -> np.ndarray:
        return shapely.transform(np.asarray(g, dtype=object), self.lonlat)

    def frame(self, columns: dict, geoms, city: bool = True) -> gpd.GeoDataFrame:
        cols = dict(columns)
        if city:
            cols = {"id": cols.pop("id"), "city_id": self.city_id, **cols}
        return gpd.GeoDataFrame(pd.DataFrame(cols), geometry=self.geoms(geoms), crs=4326)


def _street_names(rng, seg: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Segments of one road share a name: key on a coarse cell, the kind and the heading."""
    pool = names.street_names(rng, np.array(["primary"] * 60 + ["secondary"] * 120 + ["residential"] * 400))
    by_kind = {"primary": pool[:60], "secondary": pool[60:180], "residential": pool[180:]}
    mid = seg.mean(axis=1)
    d = seg[:, 1] - seg[:, 0]
    heading = (np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180 // 45).astype(np.int64)
    cell = np.floor(mid / 900).astype(np.int64)
    key = (cell[:, 0] * 73856093) ^ (cell[:, 1] * 19349663) ^ (heading * 83492791)
    out = np.empty(len(seg), dtype=object)
    for k, pk in by_kind.items():
        sel = kind == k
        out[sel] = pk[np.abs(key[sel]) % len(pk)]
    return out


def generate(size: str = "small", seed: int = 7) -> DemoCity:
    spec: Size = size_of(size)
    root = np.random.SeedSequence([seed, {"small": 1, "city": 2}[spec.name]])
    r_geo, r_ppl, r_plant, r_flt, r_rep, r_misc = (np.random.default_rng(s) for s in root.spawn(6))
    f = _Frame(spec.city_id, spec.prefix)
    P = spec.prefix

    geo = geography.build(r_geo, spec)
    nodes, graph = plt.street_graph(geo.street_xy)
    bxy, per = ppl.buildings(r_ppl, spec, geo)
    pp = ppl.boxes_and_dps(r_ppl, spec, geo, bxy, per, nodes)
    pl = plt.build(r_plant, spec, pp, nodes, graph)
    n_sub, n_box, n_dp = len(pp.sub_xy), len(pp.box_xy), len(pp.dp_xy)

    L: dict[str, gpd.GeoDataFrame] = {}
    L["cities"] = f.frame({"id": [spec.city_id], "name": [spec.city_name], "metric_crs": [METRIC_CRS],
                           "timezone": [TIMEZONE]},
                          [shapely.MultiPolygon([geo.outline])], city=False)
    office_ids = f.ids("OF", len(pl.office_xy), 2)
    L["offices"] = f.frame({"id": office_ids, "name": [f"{n}局" for n in names.community_names(r_misc, len(office_ids))]},
                           shapely.points(pl.office_xy))

    seg = geo.street_xy
    L["streets"] = f.frame({"id": f.ids("ST", len(seg), 6), "name": _street_names(r_misc, seg, geo.street_kind),
                            "kind": geo.street_kind}, shapely.linestrings(seg))

    barrier_ids = {"river": f"{P}-BR-RIVER", "rail": f"{P}-BR-RAIL", "motorway": f"{P}-BR-MWAY"}
    L["barriers"] = f.frame({"id": list(barrier_ids.values()), "kind": ["river", "rail", "motorway"],
                             "name": ["湘江", "京广铁路", "绕城高速"]}, [geo.river, geo.rail, geo.motorway])
    L["crossings"] = f.frame({"id": f.ids("XG", len(geo.crossings), 2),
                              "barrier_id": [barrier_ids[b] for b, _, _ in geo.crossings],
                              "kind": [k for _, k, _ in geo.crossings],
                              "name": [f"{'湘江' if b == 'river' else ''}{k}{i + 1}" for i, (b, k, _) in enumerate(geo.crossings)]},
                             [p for _, _, p in geo.crossings])

    comm, region, regions = geography.admin_areas(r_misc, spec, geo, pp.sub_xy)
    reg_ids = f.ids("RG", len(regions), 1)
    com_ids = f.ids("CM", len(comm), 2)
    reg_names = [f"{n}营维处" for n in names.community_names(r_misc, len(regions))]
    L["admin_areas"] = f.frame(
        {"id": np.r_[reg_ids, com_ids], "level": ["office_region"] * len(regions) + ["community"] * len(comm),
         "parent_id": [None] * len(regions) + list(reg_ids[region]),
         "name": reg_names + names.community_names(r_misc, len(comm))},
        [shapely.MultiPolygon(shapely.get_parts(g)) for g in list(regions) + list(comm)])

    # Cables: one trunk per box, one distribution cable per dp, one drop per subscriber.
    trunk_ids = f.ids("TK", n_box, 5)
    dist_ids = f.ids("DC", n_dp, 6)
    drop_ids = f.ids("DR", n_sub, 7)
    box_ids = f.ids("BX", n_box, 5)
    dp_ids = f.ids("DP", n_dp, 6)
    sub_ids = f.ids("S", n_sub, 7)
    dist_geom = shapely.linestrings(np.stack([pp.box_xy[pp.dp_box], pp.dp_xy], axis=1))
    drop_geom = shapely.linestrings(np.stack([pp.dp_xy[pp.sub_dp], pp.sub_xy], axis=1))
    dist_year = pp.box_year[pp.dp_box]
    L["cables"] = pd.concat([
        f.frame({"id": trunk_ids, "kind": "trunk", "medium": "fibre", "capacity": pl.trunk_capacity,
                 "used": pl.trunk_used, "placement": np.where(pl.trunk_aerial, "aerial", "underground"),
                 "year_laid": pp.box_year, "office_id": office_ids[pl.box_office]}, pl.trunk_geoms),
        f.frame({"id": dist_ids, "kind": "distribution", "medium": np.where(pl.dist_fibre, "fibre", "copper"),
                 "capacity": np.where(pl.dist_fibre, 24, 2 * pp.dp_capacity),
                 "used": np.where(pl.dist_fibre, np.minimum(24, np.ceil(pp.dp_used / 3)), pp.dp_used).astype(int),
                 "placement": np.where(pl.dist_aerial, "aerial", "underground"), "year_laid": dist_year,
                 "office_id": None}, dist_geom),
        f.frame({"id": drop_ids, "kind": "drop", "medium": np.where(pl.drop_fibre, "fibre", "copper"),
                 "capacity": np.where(pl.drop_fibre, 1, 2), "used": 1,
                 "placement": np.where(pl.drop_aerial, "aerial", "underground"), "year_laid": pl.drop_year,
                 "office_id": None}, drop_geom),
    ], ignore_index=True)
    L["cables"] = gpd.GeoDataFrame(L["cables"], geometry="geometry", crs=4326)

    L["boxes"] = f.frame({"id": box_ids, "office_id": office_ids[pl.box_office], "feeder_cable_id": trunk_ids,
                          "capacity": pp.box_capacity, "used": pp.box_used, "year_installed": pp.box_year},
                         shapely.points(pp.box_xy))
    L["distribution_points"] = f.frame({"id": dp_ids, "box_id": box_ids[pp.dp_box], "cable_id": dist_ids,
                                        "capacity": pp.dp_capacity, "used": pp.dp_used},
                                       shapely.points(pp.dp_xy))

    voice, bb, iptv, revenue = ppl.services(r_ppl, n_sub)
    end = pd.Timestamp(WINDOW[1])
    box_start = pd.to_datetime(pd.Series(pp.box_year[pp.sub_box]).astype(str) + "-03-01")
    span = (end - box_start).dt.days.to_numpy()
    since = box_start + pd.to_timedelta((r_ppl.random(n_sub) ** 1.4 * span).astype(int), unit="D")
    # Broadband contracts run 12 or 24 months from the connection and renew: each one's end is
    # the first after the tickets' window (its own generator, so the other draws stay as they were).
    r_contract = np.random.default_rng([seed, 99])
    term = r_contract.choice([12, 24], size=n_sub, p=[0.6, 0.4])
    months = ((end.year - since.dt.year) * 12 + (end.month - since.dt.month)).to_numpy()
    renewals = months // term + 1
    ends = (since.dt.to_period("M") + renewals * term).dt.to_timestamp() + pd.to_timedelta(since.dt.day - 1, unit="D")
    contract = np.where(bb, ends.dt.normalize().to_numpy(), np.datetime64("NaT"))
    L["subscribers"] = f.frame({"id": sub_ids, "dp_id": dp_ids[pp.sub_dp], "box_id": box_ids[pp.sub_box],
                                "drop_cable_id": drop_ids, "address": _addresses(r_misc, spec, pp, L["streets"], seg),
                                "voice": voice, "broadband": bb, "iptv": iptv, "monthly_revenue": revenue,
                                "connected_since": since.dt.normalize().to_numpy(), "contract_ends": contract},
                               shapely.points(pp.sub_xy))

    # Managers: one per ~5,000 subscribers, spread over communities by their subscribers.
    in_comm = _community_of(pp.sub_xy, comm)
    n_mgr = max(1, int(round(n_sub / 5000)))
    per_comm = np.bincount(in_comm, minlength=len(comm)).astype(float)
    quota = per_comm / per_comm.sum() * n_mgr
    seats = np.floor(quota).astype(int)
    seats[np.argsort(-(quota - seats))[: n_mgr - seats.sum()]] += 1
    mgr_comm = np.repeat(np.arange(len(comm)), seats)
    mgr_base = np.array([pp.sub_xy[r_misc.choice(np.flatnonzero(in_comm == c))] for c in mgr_comm])
    mgr_ids = f.ids("MG", n_mgr, 3)
    mgr_names = names.person_names(r_misc, n_mgr)
    L["managers"] = f.frame({"id": mgr_ids, "name": mgr_names, "phone": names.phones(r_misc, n_mgr),
                             "community_id": com_ids[mgr_comm], "active": True}, shapely.points(mgr_base))

    geoms, hh, area, commercial, groups = rep.plant_reports(r_rep, spec, pp, geo.land, geo.outline)
    n_rep = len(geoms)
    rep_ids = f.ids("CR", n_rep, 4)
    cent = shapely.get_coordinates(shapely.centroid(geoms))
    _, reporter = _nearest(mgr_base, cent)
    kind = np.where(commercial, "commercial", np.where(r_rep.random(n_rep) < 0.15, "mixed", "residential"))
    L["construction_reports"] = f.frame({
        "id": rep_ids,
        "name": [n.replace("社区", s) for n, s in zip(names.community_names(r_rep, n_rep),
                                                    r_rep.choice(["花园", "小区", "广场", "新城", "商业中心"], n_rep))],
        "kind": kind, "stage": r_rep.choice(["planned", "permitted", "under_construction", "completed"], n_rep,
                                             p=[0.25, 0.35, 0.3, 0.1]),
        "households": pd.array(np.where(np.isnan(hh), pd.NA, hh), dtype="Int64"),
        "floor_area_m2": area, "reporter_id": mgr_ids[reporter], "reporter_name": np.array(mgr_names, dtype=object)[reporter],
        "reported_on": (end - pd.to_timedelta(r_rep.integers(0, 365, n_rep), unit="D")).normalize()}, geoms)

    hot = faults.hotspot_boxes(r_flt, spec, pp)
    t, storms = faults.tickets(r_flt, spec, pp, pl, hot)
    L["fault_tickets"] = _tickets_frame(r_flt, f, t, pp, sub_ids, box_ids, dp_ids, dist_ids, revenue)

    truth = {
        "size": spec.name, "seed": seed, "city_id": spec.city_id, "generator_version": GENERATOR_VERSION,
        "window": {"start": WINDOW[0], "end": WINDOW[1], "timezone": "Asia/Shanghai"},
        "metric_crs": METRIC_CRS,
        "hotspots": [{"id": f"H{i + 1}", "pattern": h["pattern"], "box_id": box_ids[h["box"]],
                      "centre": [round(float(v), 6) for v in f.lonlat(pp.box_xy[[h["box"]]])[0]],
                      "radius_m": spec.hotspot_radius, "subscribers": int(h["subscribers"]),
                      "monthly_multiplier": [round(float(v), 2) for v in
                                             faults.multiplier(h["pattern"], np.arange(24.0), 24)]}
                     for i, h in enumerate(hot)],
        "storm_days": storms,
        "opportunities": {**rep.truth(geoms, hh, area, pp, list(rep_ids), list(box_ids)),
                          "planted_groups": {g: [rep_ids[i] for i in np.flatnonzero(groups == g)]
                                             for g in ("covered", "outside", "short")}},
    }
    manifest = {"size": spec.name, "seed": seed, "city_id": spec.city_id, "metric_crs": METRIC_CRS,
                "generator_version": GENERATOR_VERSION, "counts": {k: len(v) for k, v in L.items()}}
    return DemoCity({k: L[k] for k in LAYER_ORDER}, truth, METRIC_CRS, manifest)


def _nearest(points: np.ndarray, query: np.ndarray):
    return cKDTree(points).query(query)


def _community_of(xy: np.ndarray, comm: np.ndarray) -> np.ndarray:
    tree = shapely.STRtree(comm)
    p_idx, c_idx = tree.query(shapely.points(xy), predicate="within")
    out = np.full(len(xy), -1)
    out[p_idx] = c_idx
    miss = out < 0  # on a boundary: take the nearest community
    if miss.any():
        out[miss] = tree.query_nearest(shapely.points(xy[miss]), all_matches=False)[1]
    return out


def _addresses(rng, spec: Size, pp, streets: gpd.GeoDataFrame, seg: np.ndarray) -> np.ndarray:
    """'芙蓉路 128 号 3 栋 502 室' in town (nearest street), '<village>村 12 号' in the villages."""
    bxy = pp.building_xy
    tree = shapely.STRtree(shapely.linestrings(seg))
    _, near = tree.query_nearest(shapely.points(bxy), all_matches=False)
    street = streets["name"].to_numpy()[near]
    number = rng.integers(1, 400, len(bxy))
    rural = np.hypot(bxy[:, 0], bxy[:, 1]) > 1.05 * spec.town_radius
    b = pp.sub_building
    floor = rng.integers(1, 33, len(b))
    room = rng.integers(1, 9, len(b))
    unit = rng.integers(1, 6, len(b))
    town = pd.Series(street[b]) + number[b].astype(str) + "号" + unit.astype(str) + "栋" + \
        (floor * 100 + room).astype(str) + "室"
    village = pd.Series(street[b]).str[:2] + "村" + number[b].astype(str) + "号"
    return np.where(rural[b], village, town).astype(object)


def _tickets_frame(rng, f: _Frame, t: dict, pp, sub_ids, box_ids, dp_ids, dist_ids, revenue) -> gpd.GeoDataFrame:
    sub = t["sub"]
    n = len(sub)
    order = np.argsort(t["reported"].to_numpy(), kind="stable")
    # About one ticket in twelve is on equipment rather than on a subscriber's line.
    target = rng.choice(["subscriber", "dp", "box", "cable"], size=n, p=[0.92, 0.04, 0.02, 0.02])
    target = np.where(t["storm"], "subscriber", target)
    dp = pp.sub_dp[sub]
    box = pp.sub_box[sub]
    is_sub, is_dp, is_box, is_cab = (target == k for k in ("subscriber", "dp", "box", "cable"))
    xy = np.where(is_sub[:, None], pp.sub_xy[sub], np.where(is_box[:, None], pp.box_xy[box], pp.dp_xy[dp]))
    cause = np.where(is_dp, "distribution_point", np.where(is_box, "box", np.where(is_cab, "cable", t["cause"])))
    cols = {
        "id": None,
        "subscriber_id": np.where(is_sub, sub_ids[sub], None),
        "box_id": np.where(is_box, box_ids[box], None),
        "dp_id": np.where(is_dp, dp_ids[dp], None),
        "cable_id": np.where(is_cab, dist_ids[dp], None),
        "kind": "fault", "cause": cause, "severity": np.where(is_box, 3, t["severity"]),
        "vip": is_sub & (revenue[sub] > 300),
        "reported_at": t["reported"], "first_contact_at": t["contact"], "cleared_at": t["cleared"],
    }
    df = pd.DataFrame({k: v for k, v in cols.items() if k != "id"}).iloc[order].reset_index(drop=True)
    df.insert(0, "id", f.ids("F", n, 7))
    df.insert(1, "city_id", f.city_id)
    return gpd.GeoDataFrame(df, geometry=f.geoms(shapely.points(xy[order])), crs=4326)
