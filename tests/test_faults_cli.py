"""`pianqu faults heatmap|hotspots`, `pianqu kpi` on the stored demo, `pianqu hotspots` on a file."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely


def test_heatmap_png_with_bounds_and_contour_bands(cli, loaded_demo, tmp_path):
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2025-01-01", "--to", "2025-07-01",
            "--out", tmp_path / "heat.png")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["faults"] > 1000 and res["bandwidth_m"] > 0 and (tmp_path / "heat.png").stat().st_size > 1000
    (s, w), (n, e) = json.loads((tmp_path / "heat.json").read_text())["bounds"]
    assert 27.5 < s < n < 29 and 112.5 < w < e < 113.5
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2025-01-01", "--to", "2025-07-01", "--rate",
            "--cause", "drop", "--out", tmp_path / "rate.geojson")
    assert r.returncode == 0, r.stderr
    bands = gpd.read_file(tmp_path / "rate.geojson")
    assert len(bands) >= 2 and bands.crs.to_epsg() == 4326 and json.loads(r.stdout)["surface"].startswith("faults per 100")


def test_heatmap_bad_requests_say_why(cli, loaded_demo, tmp_path):
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2025-07-01", "--to", "2025-01-01", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "the window is empty" in r.stderr
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2030-01-01", "--to", "2030-02-01", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "no fault tickets between" in r.stderr
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2025-01-01", "--to", "2025-02-01", "--bandwidth", 0,
            "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "bandwidth must be a positive" in r.stderr
    r = cli("faults", "heatmap", "--city", loaded_demo, "--from", "2025-01-01", "--to", "2025-02-01",
            "--district", "NOPE", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "unknown district 'NOPE'" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_store_hotspots_name_cells_boxes_and_cables_and_find_the_planted_ones(cli, loaded_demo, small_demo, tmp_path):
    r = cli("faults", "hotspots", "--city", loaded_demo, "--from", "2024-11-01", "--to", "2026-11-01",
            "--trend", "--out", tmp_path / "hot.gpkg")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["hot_cells"] > 0 and res["boxes"] and res["strongest"][0]["gi_z"] > 2
    planted = {h["box_id"] for h in small_demo.truth["hotspots"]}
    assert planted & {b["box_id"] for b in res["boxes"]}
    assert all({"district", "manager_id"} <= set(x) for x in res["boxes"] + res["cables"])
    cells = gpd.read_file(tmp_path / "hot.gpkg")
    assert {"gi_z", "gi_p", "hot", "pattern"} <= set(cells.columns)


def test_kpi_by_office_for_a_month(cli, loaded_demo):
    r = cli("kpi", "--city", loaded_demo, "--by", "office", "--month", "2026-10", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(row["month"] == "2026-10" for row in rows)
    assert all(0 <= row["repair_24h"] <= 1 and 0 <= row["contact_20min"] <= 1 for row in rows)
    assert all(row["fault_rate_yoy"] is not None for row in rows)   # 2025-10 is in the data
    offices = [row for row in rows if row["office_id"] != "(city)"]
    city = rows[-1]
    assert city["office_id"] == "(city)" and len(offices) == len(rows) - 1
    assert city["tickets"] == sum(x["tickets"] for x in offices) and city["lines"] == sum(x["lines"] for x in offices)
    assert city["fault_rate"] == pytest.approx(100 * city["tickets"] / city["lines"])
    r = cli("kpi", "--city", loaded_demo, "--by", "office", "--month", "2031-01")
    assert r.returncode == 2 and "no tickets in 2031-01: the data covers 2024-11 to 2026-10" in r.stderr
    assert "NaT" not in r.stderr
    r = cli("kpi", "--city", loaded_demo, "--by", "office", "--month", "2026-10")
    assert r.returncode == 0 and r.stdout.rstrip().splitlines()[-2].lstrip(" │|").startswith("(city)"), r.stdout


def test_kpi_lines_grow_as_subscribers_connect(cli, loaded_demo, small_demo):
    rows = json.loads(cli("kpi", "--city", loaded_demo, "--by", "office", "--json").stdout)
    city = {row["month"]: row["lines"] for row in rows if row["office_id"] == "(city)"}
    since = pd.to_datetime(small_demo.layers["subscribers"]["connected_since"])
    assert city["2024-11"] == (since < "2024-12-01").sum() < city["2026-10"] == len(since)
    first = {row["office_id"]: row["lines"] for row in rows if row["month"] == "2024-11"}
    last = {row["office_id"]: row["lines"] for row in rows if row["month"] == "2026-10"}
    assert all(first[o] <= last[o] for o in first) and sum(first[o] < last[o] for o in first) >= len(first) - 1


def test_hotspots_on_any_point_file_print_the_strongest_centre(cli, tmp_path):
    rng = np.random.default_rng(0)
    xy = np.r_[rng.uniform(-3000, 3000, (3000, 2)), rng.normal([800, 800], 120, (300, 2))] + [700_000, 3_120_000]
    ev = gpd.GeoDataFrame({"severity": rng.integers(1, 4, len(xy))}, geometry=shapely.points(xy), crs=32649)
    ev.to_file(tmp_path / "events.gpkg")
    r = cli("hotspots", tmp_path / "events.gpkg", "--cell-size", 400, "--out", tmp_path / "cells.geojson")
    assert r.returncode == 0, r.stderr
    best = json.loads(r.stdout)["strongest"]
    centre = gpd.GeoSeries([shapely.Point(best["lon"], best["lat"])], crs=4326).to_crs(32649).iat[0]
    assert centre.distance(shapely.Point(700_800, 3_120_800)) < 500 and best["significant"]
    cells = gpd.read_file(tmp_path / "cells.geojson")
    assert {"gi_z", "gi_p", "events"} <= set(cells.columns)
    r = cli("hotspots", tmp_path / "events.gpkg", "--weight", "nope", "--out", tmp_path / "c2.geojson")
    assert r.returncode == 2 and "no weight column 'nope'" in r.stderr


def test_store_hotspots_on_box_service_areas(cli, loaded_demo, small_demo, tmp_path):
    r = cli("faults", "hotspots", "--city", loaded_demo, "--from", "2024-11-01", "--to", "2026-11-01",
            "--on", "boxes", "--out", tmp_path / "boxes.geojson")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    planted = {h["box_id"] for h in small_demo.truth["hotspots"]}
    assert res["hot_boxes"] > 0 and planted & {b["box_id"] for b in res["boxes"]}
    got = gpd.read_file(tmp_path / "boxes.geojson")
    assert len(got) == len(small_demo.layers["boxes"]) and {"box_id", "gi_z", "hot"} <= set(got.columns)
    r = cli("faults", "hotspots", "--city", loaded_demo, "--from", "2024-11-01", "--to", "2026-11-01",
            "--on", "moon", "--out", tmp_path / "x.geojson")
    assert r.returncode == 2 and "hotspots are computed on hexagons or boxes, not 'moon'" in r.stderr


def test_kpi_by_district_and_manager_follow_the_active_plan(cli, engine, loaded_demo, tmp_path):
    from sqlalchemy import text
    plan = json.loads(cli("plan", "create", "--city", loaded_demo, "--districts", 4).stdout)["plan"]
    assert cli("plan", "activate", plan).returncode == 0
    r = cli("kpi", "--city", loaded_demo, "--by", "manager", "--month", "2026-10")
    assert r.returncode == 2 and "no manager is assigned" in r.stderr
    with engine.begin() as conn:
        districts = [d for d, in conn.execute(text("SELECT id FROM districts WHERE plan_id = :p ORDER BY code"), {"p": plan})]
        managers = [m for m, in conn.execute(text("SELECT id FROM managers WHERE city_id = :c ORDER BY id LIMIT 4"),
                                             {"c": loaded_demo})]
        for d, m in zip(districts, managers):
            conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from) "
                              "VALUES (:i, :d, :m, now() - interval '1 day')"), {"i": f"{d}-a", "d": d, "m": m})
    try:
        by_d = json.loads(cli("kpi", "--city", loaded_demo, "--by", "district", "--month", "2026-10", "--json").stdout)
        by_m = json.loads(cli("kpi", "--city", loaded_demo, "--by", "manager", "--month", "2026-10", "--json").stdout)
        assert len(by_d) == 5 and sum(x["lines"] for x in by_d[:4]) == by_d[4]["lines"] == 20_000
        assert {x["manager_id"] for x in by_m} == set(managers) | {"(city)"}
        assert sorted(x["tickets"] for x in by_m) == sorted(x["tickets"] for x in by_d)  # one manager a district
        # Each manager's row carries his month's scorecard; the city's, the city's: the same fault
        # tickets as the KPIs count, through the loop's own tables.
        assert all({"points", "inspections_due", "satisfaction", "tickets_install"} <= set(x) for x in by_m)
        assert by_m[-1]["tickets_fault"] == by_m[-1]["tickets"] > 0
        assert 0 < by_m[-1]["clear_on_time"] <= 1 and by_m[-1]["callbacks"] > 0
        with engine.connect() as conn:
            code = dict(conn.execute(text("SELECT id, code FROM districts WHERE plan_id = :p"), {"p": plan}).all())
        manager_of = {code[d]: m for d, m in zip(districts, managers)}
        for on in ("hexagons", "boxes"):
            r = cli("faults", "hotspots", "--city", loaded_demo, "--from", "2024-11-01", "--to", "2026-11-01",
                    "--on", on, "--out", tmp_path / f"{on}.geojson")
            assert r.returncode == 0, r.stderr
            res = json.loads(r.stdout)
            named = res["boxes"] + res.get("cables", [])
            # every box and cable named with its district in the active plan, and that district's manager
            assert named and all(x["manager_id"] == manager_of[x["district"]] for x in named)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE district_plans SET status = 'archived' WHERE id = :p"), {"p": plan})


def _refused(r, *words):
    """Exit 2 with one line on stderr that says why, and no traceback."""
    lines = r.stderr.strip().splitlines()
    return (r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr
            and all(w in lines[0] for w in words))


def test_bad_dates_and_options_are_refused_before_any_work(run_cli, loaded_demo, tmp_path):
    cli = run_cli   # in-process: the same main(), without an interpreter start-up per case
    out = tmp_path / "x.geojson"
    window = ("--from", "2025-01-01", "--to", "2025-07-01")
    # A city that does not exist: the option is refused first, so no work was begun.
    for month in ("2026-13", "2026-1x", "26-10"):
        r = cli("kpi", "--city", "nowhere", "--month", month)
        assert _refused(r, f"--month '{month}' is not a month", "YYYY-MM"), r.stderr
    for day in ("2026-02-30", "tomorrow"):
        r = cli("faults", "heatmap", "--city", "nowhere", "--from", day, "--to", "2026-07-01", "--out", out)
        assert _refused(r, f"--from '{day}' is not a day", "YYYY-MM-DD"), r.stderr
        r = cli("faults", "hotspots", "--city", "nowhere", "--from", "2026-01-01", "--to", day, "--out", out)
        assert _refused(r, f"--to '{day}' is not a day", "YYYY-MM-DD"), r.stderr
    r = cli("faults", "hotspots", "--city", "nowhere", "--from", "2026-07-01", "--to", "2026-01-01", "--out", out)
    assert _refused(r, "the window is empty"), r.stderr
    for args, words in [
        (("faults", "heatmap", *window, "--bandwidth", 0), ("bandwidth must be a positive number of metres, not 0",)),
        (("faults", "heatmap", *window, "--cell", -5), ("cell size must be a positive number of metres, not -5",)),
        (("faults", "heatmap", *window, "--cause", "rats"), ("unknown cause 'rats'", "drop")),
        (("faults", "hotspots", *window, "--alpha", 0.7), ("alpha (the false discovery rate) must be in (0, 0.5]",)),
        (("faults", "hotspots", *window, "--alpha", 0), ("must be in (0, 0.5], not 0",)),
        (("faults", "hotspots", *window, "--resolution", 12), ("the H3 resolution must be 6 to 11, not 12",)),
        (("faults", "hotspots", *window, "--on", "moon"), ("hotspots are computed on hexagons or boxes",)),
        (("kpi", "--by", "planet"), ("KPIs cannot be grouped by 'planet'", "office")),
        (("hotspots", tmp_path / "missing.gpkg", "--alpha", 0.9), ("must be in (0, 0.5], not 0.9",)),
    ]:
        extra = (() if args[0] == "hotspots" else ("--city", "nowhere")) + (() if args[0] == "kpi" else ("--out", out))
        r = cli(*args, *extra)
        assert _refused(r, *words), (args, r.stderr)
    r = cli("faults", "heatmap", "--city", "nowhere", *window, "--out", tmp_path / "x.tif")
    assert _refused(r, "'x.tif'", ".png"), r.stderr
    assert not out.exists()
