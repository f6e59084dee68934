"""Pianqu's partitioner at city and province scale, and re-planning after growth.

    .venv/bin/python bench/bench_partition_scale.py [DEMO_CITY_FOLDER]

1. the city demo (2,464 boxes, 700,000 subscribers): tessellation, then 148 districts at 2 % and 1 %;
2. growth: 10 % more subscribers, spread unevenly (same 148 districts) or concentrated around a
   dozen new-build areas (same district size, so more districts), re-planned from the 2 % plan
   (`previous=`): churn = share of subscribers whose district changed;
3. a province-size synthetic instance: 35,000 Voronoi units in 14 city clusters plus countryside,
   10,000,000 subscribers, 2,000 districts.
Prints one Markdown table and writes bench/results/partition-scale.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gis.units import adjacency, service_areas  # noqa: E402
from planning.partition import DistrictPartitioner  # noqa: E402


def dissolved_pp(units, labels) -> tuple[float, float]:
    d = gpd.GeoDataFrame({"d": labels}, geometry=units.geometry.to_numpy(), crs=units.crs).dissolve("d", method="coverage")
    pp = 4 * np.pi * d.area / d.length ** 2
    return float(pp.mean()), float(pp.min())


def row(name, seconds, part, units, extra=""):
    r = part.report_
    mean_pp, min_pp = dissolved_pp(units, part.labels_)
    return {"case": name, "seconds": round(seconds, 2), "districts": int(len(np.unique(part.labels_))),
            "max_deviation": r["max_deviation"], "non_contiguous": r["non_contiguous"],
            "pp_mean": mean_pp, "pp_min": min_pp, "extra": extra}


def city(folder: Path) -> list[dict]:
    if not (folder / "manifest.json").is_file():
        from gis.demo import generate
        generate(size="city", seed=7).write(folder)
    subs = gpd.read_parquet(folder / "subscribers.parquet", columns=["id", "box_id", "geometry"])
    outline = gpd.read_parquet(folder / "cities.parquet").geometry
    barriers = gpd.read_parquet(folder / "barriers.parquet")
    crossings = gpd.read_parquet(folder / "crossings.parquet")
    t = time.perf_counter()
    units = service_areas(subs, outline=outline, barriers=barriers, crs=32649, simplify=60.0)
    adj, _ = adjacency(units, barriers=barriers, crossings=crossings)
    t_units = time.perf_counter() - t
    out = [{"case": "city: service areas + adjacency (2,464 boxes, 700,000 subscribers)", "seconds": round(t_units, 2),
            "districts": "", "max_deviation": None, "non_contiguous": None, "pp_mean": None, "pp_min": None, "extra": ""}]
    plans = {}
    for tol in (0.02, 0.01):
        t = time.perf_counter()
        part = DistrictPartitioner(n_districts=148, tolerance=tol, random_state=0).fit(units, adjacency=adj)
        s = time.perf_counter() - t
        plans[tol] = part
        out.append(row(f"city: 148 districts at {tol:.0%}", s, part, units,
                       f"end to end {t_units + s:.1f} s"))
    # Growth, two ways. Spread: +10 % everywhere, unevenly (each box by 10 % x a lognormal factor),
    # same 148 districts. Concentrated: +10 % around 12 new-build areas; the operator keeps the
    # district size (target 4,730), so the plan gains districts where the growth is.
    rng = np.random.default_rng(1)
    base = plans[0.02].labels_
    spread = units.copy()
    f = rng.lognormal(0, 0.5, len(units))
    spread["subscribers"] += np.round(0.10 * units["subscribers"].sum() * f * units["subscribers"]
                                      / (f * units["subscribers"]).sum())
    spread["previous"] = base
    t = time.perf_counter()
    again = DistrictPartitioner(tolerance=0.02, previous="previous", random_state=0).fit(spread, adjacency=adj)
    out.append(row("city: +10 % subscribers spread unevenly, re-planned from the 2 % plan (148 districts)",
                   time.perf_counter() - t, again, spread, f"churn {again.report_['churn']:.1%} of subscribers"))
    grown = units.copy()
    xy = shapely.get_coordinates(units.geometry.centroid.to_numpy())
    centres = xy[rng.choice(len(xy), 12, replace=False, p=units["subscribers"] / units["subscribers"].sum())]
    near = np.min(np.hypot(xy[:, None, 0] - centres[None, :, 0], xy[:, None, 1] - centres[None, :, 1]), axis=1) < 1500
    extra = 0.10 * units["subscribers"].sum()
    grown.loc[near, "subscribers"] += np.round(extra * units.loc[near, "subscribers"] / units.loc[near, "subscribers"].sum())
    grown["previous"] = base
    target = units["subscribers"].sum() / 148
    t = time.perf_counter()
    again = DistrictPartitioner(target_size=target, tolerance=0.02, previous="previous", random_state=0).fit(
        grown, adjacency=adj)
    out.append(row(f"city: +10 % in 12 growth areas, re-planned at the same district size ({again.n_districts_} districts)",
                   time.perf_counter() - t, again, grown, f"churn {again.report_['churn']:.1%} of subscribers"))
    # The operator's usual case (issue 12): growth with a fixed headcount. +10 % in all, all of it
    # in the eastern half (about +20 % there), re-planned at the same 148 districts; its churn
    # against the least transfer any re-plan needs (bench/replan_bound.py, an LP on the
    # district graph).
    from replan_bound import least_transfer
    half = units.copy()
    east = xy[:, 0] > np.median(xy[:, 0])
    half.loc[east, "subscribers"] += np.round(extra * units.loc[east, "subscribers"] / units.loc[east, "subscribers"].sum())
    half["previous"] = base
    t0 = time.perf_counter()
    bound = least_transfer(base, half["subscribers"].to_numpy(float), adj, 148, 0.02)
    t_bound = time.perf_counter() - t0
    t = time.perf_counter()
    again = DistrictPartitioner(tolerance=0.02, previous="previous", random_state=0).fit(half, adjacency=adj)
    first_pp = dissolved_pp(units, base)[0]
    churn = again.report_["churn"]
    out.append(row("city: +10 % all in the eastern half, re-planned at the same 148 districts",
                   time.perf_counter() - t, again, half,
                   f"churn {churn:.1%} of subscribers; least transfer {bound:.1%} ({churn / bound:.2f}x, LP "
                   f"{t_bound:.2f} s); first plan's mean PP {first_pp:.2f}"))
    return out


def province() -> dict:
    rng = np.random.default_rng(0)
    n, k = 35_000, 2_000
    centres = rng.uniform(0, 400_000, (14, 2))
    sizes = rng.integers(800, 2000, 14)
    pts = np.concatenate([c + rng.normal(0, 6000, (s_, 2)) for c, s_ in zip(centres, sizes)]
                         + [rng.uniform(0, 400_000, (n - sizes.sum(), 2))])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), ordered=True,
                                                       extend_to=shapely.box(-50_000, -50_000, 450_000, 450_000)))
    cells = shapely.intersection(cells, shapely.box(-20_000, -20_000, 420_000, 420_000))
    w = rng.integers(100, 1000, n).astype(float)
    units = gpd.GeoDataFrame({"box_id": [f"B{i}" for i in range(n)],
                              "subscribers": np.round(w * 10_000_000 / w.sum())}, geometry=cells, crs=32649)
    t = time.perf_counter()
    adj, _ = adjacency(units)
    t_adj = time.perf_counter() - t
    t = time.perf_counter()
    part = DistrictPartitioner(n_districts=k, tolerance=0.02, random_state=0).fit(units, adjacency=adj)
    s = time.perf_counter() - t
    return row("province (synthetic): 35,000 units, 10 M subscribers, 2,000 districts at 2 %", s, part, units,
               f"adjacency {t_adj:.1f} s")


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "demo-city-7"
    rows = city(folder) + [province()]
    print("\n| case | time | districts | max deviation | non-contiguous | mean / min Polsby-Popper | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        dev = "" if r["max_deviation"] is None else f"{r['max_deviation']:.2%}"
        pp = "" if r["pp_mean"] is None else f"{r['pp_mean']:.2f} / {r['pp_min']:.2f}"
        nc = "" if r["non_contiguous"] is None else str(r["non_contiguous"])
        print(f"| {r['case']} | {r['seconds']:.1f} s | {r['districts']} | {dev} | {nc} | {pp} | {r['extra']} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "partition-scale.json").write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
