"""Fault heatmaps, hotspots and KPIs over HTTP, through a real server on the small demo: the same
services as `pianqu faults` and `pianqu kpi` (the same answers), PNG with its bounds or GeoJSON,
every role reads, and bad days, months and options are 422s naming the parameter."""
from __future__ import annotations

import json

import httpx
import pytest
from problems import problem as _problem

WINDOW = {"from": "2025-01-01", "to": "2025-07-01"}
ALL = {"from": "2024-11-01", "to": "2026-11-01"}




@pytest.fixture(scope="module")
def demo(loaded_demo):
    return {"city": loaded_demo}


def test_heatmap_png_comes_with_its_lon_lat_bounds(http, demo, cli, tmp_path):
    r = http("analyst").get("/faults/heatmap", params={**demo, **WINDOW})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 1000
    (s, w), (n, e) = json.loads(r.headers["x-bounds"])
    assert 27.5 < s < n < 29 and 112.5 < w < e < 113.5
    summary = json.loads(r.headers["x-summary"])
    assert summary["faults"] > 1000 and summary["bandwidth_m"] > 0 and summary["bounds_latlon"] == [[s, w], [n, e]]
    # The CLI's door onto the same service draws the same picture.
    out = tmp_path / "heat.png"
    c = cli("faults", "heatmap", "--city", demo["city"], "--from", WINDOW["from"], "--to", WINDOW["to"], "--out", out)
    assert c.returncode == 0, c.stderr
    assert out.read_bytes() == r.content and json.loads(c.stdout)["bounds_latlon"] == [[s, w], [n, e]]


def test_heatmap_contours_are_geojson_bands_with_the_summary(http, demo):
    r = http("manager").get("/faults/heatmap", params={**demo, **WINDOW, "format": "geojson", "rate": True,
                                                       "cause": "drop", "levels": 4})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and 2 <= len(fc["features"]) <= 4
    assert fc["summary"]["surface"].startswith("faults per 100") and fc["summary"]["bands"] == len(fc["features"])
    lowers = [f["properties"]["lower"] for f in fc["features"]]
    assert lowers == sorted(lowers) and all(f["geometry"]["type"] in ("Polygon", "MultiPolygon", "GeometryCollection")
                                            for f in fc["features"])
    x, y = fc["features"][0]["geometry"]["coordinates"][0][0][:2] if fc["features"][0]["geometry"]["type"] == \
        "Polygon" else fc["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert 112.5 < x < 113.5 and 27.5 < y < 29   # lon/lat, not metres


@pytest.mark.parametrize("params, says", [
    ({"from": "2026-02-30", "to": "2026-07-01"}, ("query parameter 'from'", "'2026-02-30' is not a day", "YYYY-MM-DD")),
    ({"from": "2026-01-01", "to": "tomorrow"}, ("query parameter 'to'", "'tomorrow' is not a day")),
    ({"from": "2026-01-01T00:00", "to": "2026-07-01"}, ("query parameter 'from'",)),
    ({"to": "2026-07-01"}, ("query parameter 'from'", "Field required")),
    ({"from": "2025-07-01", "to": "2025-01-01"}, ("the window is empty",)),
    ({**WINDOW, "format": "tif"}, ("query parameter 'format'",)),
    ({**WINDOW, "bandwidth": 0}, ("query parameter 'bandwidth'",)),
    ({**WINDOW, "cell": "fine"}, ("query parameter 'cell'",)),
    ({**WINDOW, "levels": 0}, ("query parameter 'levels'",)),
    ({**WINDOW, "cause": "rats"}, ("unknown cause 'rats'", "drop")),
    ({**WINDOW, "cable_kind": "string"}, ("unknown cable kind 'string'",)),
    ({**WINDOW, "weight": "nope"}, ("no weight column 'nope'",)),
    ({**WINDOW, "district": "NOPE"}, ("unknown district 'NOPE'",)),
    ({"from": "2030-01-01", "to": "2030-02-01"}, ("no fault tickets between 2030-01-01 and 2030-02-01",)),
])
def test_heatmap_bad_requests_are_422_naming_the_problem(http, demo, params, says):
    _problem(http().get("/faults/heatmap", params={**demo, **params}), 422, *says)


def test_hotspots_are_geojson_cells_with_the_summary_and_the_emerging_classes(http, demo, small_demo, cli, tmp_path):
    r = http("manager").get("/faults/hotspots", params={**demo, **ALL, "trend": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    s = fc["summary"]
    assert s["hot_cells"] > 0 and s["strongest"][0]["gi_z"] > 2 and s["cells"] == len(fc["features"])
    planted = {h["box_id"] for h in small_demo.truth["hotspots"]}
    assert planted & {b["box_id"] for b in s["boxes"]}
    assert sum(s["patterns"].values()) == len(fc["features"])
    props = fc["features"][0]["properties"]
    assert {"cell", "gi_z", "gi_p", "hot", "cold", "pattern", "trend_z", "n_hot"} <= set(props)
    assert sum(f["properties"]["hot"] for f in fc["features"]) == s["hot_cells"]
    # The same service as `pianqu faults hotspots`: the same summary.
    c = cli("faults", "hotspots", "--city", demo["city"], "--from", ALL["from"], "--to", ALL["to"], "--trend",
            "--out", tmp_path / "hot.geojson")
    assert c.returncode == 0, c.stderr
    assert {k: v for k, v in json.loads(c.stdout).items() if k != "output"} == s


def test_hotspots_on_box_service_areas(http, demo, small_demo):
    fc = http("analyst").get("/faults/hotspots", params={**demo, **ALL, "on": "boxes", "rate": False}).json()
    assert len(fc["features"]) == len(small_demo.layers["boxes"]) and fc["summary"]["hot_boxes"] > 0
    assert fc["summary"]["on"] == "box service areas, fault counts"
    assert {"box_id", "gi_z", "hot"} <= set(fc["features"][0]["properties"])


@pytest.mark.parametrize("params, says", [
    ({"on": "moon"}, ("hotspots are computed on hexagons or boxes, not 'moon'",)),
    ({"resolution": 12}, ("the H3 resolution must be 6 to 11, not 12",)),
    ({"resolution": "fine"}, ("query parameter 'resolution'",)),
    ({"alpha": 0.7}, ("alpha (the false discovery rate) must be in (0, 0.5]",)),
    ({"trend": "maybe"}, ("query parameter 'trend'",)),
    ({"from": "2026-13-01"}, ("query parameter 'from'", "is not a day")),
])
def test_hotspot_bad_requests_are_422_naming_the_problem(http, demo, params, says):
    _problem(http().get("/faults/hotspots", params={**demo, **ALL, **params}), 422, *says)


def test_kpis_by_office_for_a_month_end_with_the_city_row(http, demo):
    res = http("manager").get("/kpi", params={**demo, "by": "office", "month": "2026-10"}).json()
    rows = res["rows"]
    assert res["group"] == "office_id" and res["month"] == "2026-10"
    assert rows and all(r["month"] == "2026-10" for r in rows)
    city = rows[-1]
    offices = rows[:-1]
    assert city["office_id"] == "(city)" and all(r["office_id"] != "(city)" for r in offices)
    assert city["tickets"] == sum(r["tickets"] for r in offices) and city["lines"] == sum(r["lines"] for r in offices)
    assert city["fault_rate"] == pytest.approx(100 * city["tickets"] / city["lines"])
    assert all(0 <= r["repair_24h"] <= 1 and r["fault_rate_yoy"] is not None for r in rows)
    every = http("analyst").get("/kpi", params={**demo, "by": "office"}).json()["rows"]
    months = {r["month"] for r in every}
    assert min(months) == "2024-11" and max(months) == "2026-10"
    first = [r for r in every if r["month"] == "2024-11"]
    assert all(r["fault_rate_yoy"] is None for r in first)   # no year before: null, never NaN


@pytest.mark.parametrize("params, status, says", [
    ({"month": "2026-13"}, 422, ("query parameter 'month'", "'2026-13' is not a month", "YYYY-MM")),
    ({"month": "2026-1"}, 422, ("query parameter 'month'",)),
    ({"month": "2031-01"}, 422, ("no tickets in 2031-01: the data covers 2024-11 to 2026-10",)),
    ({"by": "planet"}, 422, ("KPIs cannot be grouped by 'planet'", "office")),
    ({"city": "nowhere"}, 404, ("city 'nowhere' is not in the store",)),
])
def test_kpi_bad_requests_name_the_problem(http, demo, params, status, says):
    _problem(http().get("/kpi", params={**demo, "by": "office", **params}), status, *says)


def test_every_fault_endpoint_needs_a_key_and_every_role_reads(http, demo):
    for path, params in (("/faults/heatmap", WINDOW), ("/faults/hotspots", WINDOW), ("/kpi", {"month": "2026-10"})):
        _problem(http(None).get(path, params={**demo, **params}), 401, "needs an API key")
        # An unknown key is refused before any parameter is looked at.
        bad = httpx.get(str(http(None).base_url) + path, params={"from": "nonsense"},
                        headers={"Authorization": "Bearer pq_nope_nope"})
        _problem(bad, 401, "unknown or revoked")
    for role in ("planner", "analyst", "manager"):
        assert http(role).get("/kpi", params={**demo, "by": "office", "month": "2026-10"}).status_code == 200


def test_the_lean_reads_give_the_counts_of_the_simple_path(http, demo, engine):
    """The hotspots' cells (tickets and lines read lean, H3 on integers) hold the counts a plain
    read of both layers and H3's own string API give."""
    import h3
    import numpy as np
    import pandas as pd
    import shapely
    from gis import store, tickets as store_tickets
    r = http().get("/faults/hotspots", params={**demo, **WINDOW, "rate": False})
    assert r.status_code == 200, r.text
    got = pd.DataFrame([f["properties"] for f in r.json()["features"]]).set_index("cell")
    with engine.connect() as conn:
        t = store.read_layer(conn, "fault_tickets", demo["city"], ["id", "kind", "reported_at"])
        t = t[t["kind"] == "fault"]           # the hotspots are of faults, not of the other work
        subs = store.read_layer(conn, "subscribers", demo["city"], ["id"])
        lean = store_tickets.tickets(conn, demo["city"], WINDOW["from"], WINDOW["to"], columns=[])
        full = store_tickets.tickets(conn, demo["city"], WINDOW["from"], WINDOW["to"])
    a, b = (pd.Timestamp(WINDOW[k]).tz_localize("Asia/Shanghai") for k in ("from", "to"))
    t = t[(t["reported_at"] >= a) & (t["reported_at"] < b)]
    assert list(lean["id"]) == list(full["id"]) and bool(lean.geometry.geom_equals(full.geometry).all())

    def cells(layer):
        return pd.Series([h3.latlng_to_cell(y, x, 9) for x, y in shapely.get_coordinates(layer.geometry.to_numpy())])
    faults, lines = cells(t).value_counts(), cells(subs).value_counts()
    assert got["faults"].sum() == len(t) == r.json()["summary"]["faults"] and got["lines"].sum() == len(subs)
    assert (got["faults"].reindex(faults.index).to_numpy() == faults.to_numpy()).all()
    assert (got["lines"].reindex(lines.index).to_numpy() == lines.to_numpy()).all()
    assert np.isin(got.index[got["faults"] > 0], faults.index).all()
