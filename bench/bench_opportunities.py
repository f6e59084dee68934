"""Opportunity alerts at city size: 10,000 construction reports against the city demo's 2,464
boxes, straight line and along the 25,000 street segments, plus the ground-truth scores.

    .venv/bin/python bench/bench_opportunities.py [DEMO_CITY_FOLDER]

Prints one Markdown table; writes bench/results/opportunities.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planning.opportunities import evaluate  # noqa: E402

N_REPORTS = 10_000


def main(folder: Path) -> None:
    if not (folder / "manifest.json").is_file():
        from gis.demo import generate
        generate(size="city", seed=7).write(folder)
    truth = json.loads((folder / "ground_truth.json").read_text())
    crs = truth["metric_crs"]
    boxes = gpd.read_parquet(folder / "boxes.parquet")
    reports = gpd.read_parquet(folder / "construction_reports.parquet")
    streets = gpd.read_parquet(folder / "streets.parquet")
    subs = gpd.read_parquet(folder / "subscribers.parquet", columns=["id", "box_id", "connected_since", "geometry"])
    # 10,000 reports: the demo's own, plus points scattered over the served area like them.
    rng = np.random.default_rng(0)
    bm = boxes.to_crs(crs)
    xy = shapely.get_coordinates(bm.geometry.to_numpy())
    pick = rng.integers(0, len(xy), N_REPORTS - len(reports))
    pts = xy[pick] + rng.normal(0, 250, (len(pick), 2))
    extra = gpd.GeoDataFrame({"id": [f"X{i:05d}" for i in range(len(pick))],
                              "households": rng.integers(20, 600, len(pick)).astype(float)},
                             geometry=shapely.points(pts), crs=crs).to_crs(4326)
    many = pd.concat([reports[["id", "households", "floor_area_m2", "geometry"]], extra], ignore_index=True)
    rows = []
    for label, kw in (("straight line", {}), ("street network", {"streets": streets})):
        evaluate(boxes, many.head(100), crs=crs, **kw)  # warm-up (imports, first STRtree)
        t = time.perf_counter()
        scan = evaluate(boxes, many, crs=crs, horizon_months=0, **kw)
        dt = time.perf_counter() - t
        rows.append({"run": f"{N_REPORTS:,} reports, {label}", "seconds": round(dt, 2),
                     "alerts": int(len(scan.alerts)), **scan.summary()["by_kind"]})
    t = time.perf_counter()
    scan = evaluate(boxes, reports, crs=crs, subscribers=subs, horizon_months=6, as_of="2026-11-01")
    rows.append({"run": "demo reports + 700k subscribers (trend, new areas)", "seconds": round(time.perf_counter() - t, 2),
                 "alerts": int(len(scan.alerts)), **scan.summary()["by_kind"]})
    # Ground truth (its rule: straight line, no connection trend).
    scan = evaluate(boxes, reports, crs=crs, horizon_months=0)
    a = scan.alerts
    o = truth["opportunities"]
    scores = {}
    for kind, got, want in (("extend_network", set(sum(a.loc[a.kind == "extend_network", "report_ids"].tolist(), [])),
                             set(o["extend_network"])),
                            ("expand_box", set(a.loc[a.kind == "expand_box", "box_id"]), set(o["expand_box"]))):
        hit = len(got & want)
        scores[kind] = {"precision": round(hit / max(len(got), 1), 3), "recall": round(hit / max(len(want), 1), 3),
                        "alerts": len(got), "truth": len(want)}
    print("| run | seconds | alerts | extend_network | expand_box | outside_coverage |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['seconds']} | {r['alerts']} | {r['extend_network']} | {r['expand_box']} | "
              f"{r['outside_coverage']} |")
    print()
    print("| ground truth (city demo) | precision | recall | alerts | truth |")
    print("|---|---:|---:|---:|---:|")
    for k, s in scores.items():
        print(f"| {k} | {s['precision']} | {s['recall']} | {s['alerts']} | {s['truth']} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "opportunities.json").write_text(json.dumps({"runs": rows, "ground_truth": scores}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "demo-city-7")
