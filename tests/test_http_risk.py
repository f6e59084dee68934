"""Fault risk through a real server and the CLI on the small demo: GET /risk ranks every box and
cable with its drivers, `pianqu faults risk` writes the GeoPackage a planner opens, --evaluate
scores the model beside the baselines, a fault after the cut-off changes nothing, and bad input
is refused before any work."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
from sqlalchemy import text

from problems import problem

AS_OF = "2026-07-01"


def test_every_box_is_ranked_with_what_drives_it(http, loaded_demo, engine):
    r = http("planner").get("/risk", params={"city": loaded_demo, "layer": "boxes", "limit": 1000})
    assert r.status_code == 200, r.text
    fc = r.json()
    with engine.connect() as conn:
        boxes = set(conn.execute(text("SELECT id FROM boxes WHERE city_id = :c"), {"c": loaded_demo}).scalars())
    props = [f["properties"] for f in fc["features"]]
    assert fc["numberMatched"] == len(boxes) == len(props) and {p["box_id"] for p in props} == boxes
    expected = [p["expected_faults"] for p in props]
    assert expected == sorted(expected, reverse=True) and props[0]["rank"] == 1 and expected[0] > expected[-1] >= 0
    assert all(1 <= len(p["drivers"].split("; ")) <= 3 for p in props)
    assert fc["features"][0]["geometry"]["type"] == "Point" and fc["horizon_months"] == 3
    # the riskiest box had faults lately, and its drivers say so in numbers
    assert any(w in props[0]["drivers"] for w in ("faults in 90 days", "faults in 12 months", "rising"))
    cables = http("analyst").get("/risk", params={"city": loaded_demo, "layer": "cables", "limit": 5}).json()
    assert cables["numberReturned"] == 5 and cables["features"][0]["geometry"]["type"] == "LineString"
    assert "cable_id" in cables["features"][0]["properties"]


def test_a_fault_after_the_cut_off_changes_no_prediction(http, loaded_demo, engine):
    params = {"city": loaded_demo, "layer": "boxes", "as_of": AS_OF, "limit": 1000}
    before = {f["properties"]["box_id"]: f["properties"]["expected_faults"]
              for f in http("planner").get("/risk", params=params).json()["features"]}
    with engine.begin() as conn:
        box = conn.execute(text("SELECT box_id FROM subscribers WHERE city_id = :c ORDER BY id LIMIT 1"),
                           {"c": loaded_demo}).scalar()
        conn.execute(text(
            "INSERT INTO fault_tickets (id, city_id, box_id, kind, cause, severity, vip, reported_at, geometry) "
            "SELECT 'RISK-' || g, :c, :b, 'fault', 'box', 3, false, timestamptz '2026-08-01 10:00+08' + g * interval '1 hour', "
            "b.geometry FROM boxes b, generate_series(1, 40) g WHERE b.id = :b"), {"c": loaded_demo, "b": box})
    try:
        after = {f["properties"]["box_id"]: f["properties"]["expected_faults"]
                 for f in http("planner").get("/risk", params=params).json()["features"]}
        assert after == before
        # ...while a cut-off after them sees them
        later = http("planner").get("/risk", params={**params, "as_of": "2026-09-01"}).json()["features"]
        moved = {f["properties"]["box_id"]: f["properties"]["expected_faults"] for f in later}
        assert moved[box] > before[box]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id LIKE 'RISK-%'"))


def test_bad_requests_are_refused_before_any_work(http, loaded_demo):
    p = {"city": loaded_demo}
    problem(http("planner").get("/risk", params={**p, "layer": "pipes"}), 422)
    problem(http("planner").get("/risk", params={**p, "horizon": 0}), 422)
    problem(http("planner").get("/risk", params={**p, "as_of": "2026-13-01"}), 422, "not a day")
    problem(http("planner").get("/risk", params={**p, "as_of": "2025-01-01"}), 422, "six months")
    problem(http("planner").get("/risk", params={"city": "atlantis"}), 404)
    problem(http("manager").get("/risk", params=p), 403)
    problem(http(None).get("/risk", params=p), 401)


def test_pianqu_faults_risk_writes_the_layers_and_scores_itself(cli, loaded_demo, tmp_path):
    out = tmp_path / "risk.gpkg"
    r = cli("faults", "risk", "--city", loaded_demo, "--as-of", AS_OF, "--out", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert {name for name, _ in pyogrio.list_layers(out)} == {"boxes", "cables"}
    boxes = gpd.read_file(out, layer="boxes")
    assert {"box_id", "expected_faults", "rank", "drivers"} <= set(boxes.columns) and len(boxes) == res["boxes"]
    assert boxes["rank"].min() == 1 and boxes.crs.to_epsg() == 4326
    assert {"cable_id", "expected_faults", "rank", "drivers"} <= set(gpd.read_file(out, layer="cables").columns)
    ev = cli("faults", "risk", "--city", loaded_demo, "--evaluate", "--json")
    assert ev.returncode == 0, ev.stderr
    scores = {s["method"]: s for s in json.loads(ev.stdout)["boxes"]["scores"]}
    assert {"last 3 months", "last 12 months, scaled", "age alone", "Gi* class"} < set(scores)
    assert all(np.isfinite(s["poisson_deviance"]) and s["poisson_deviance"] >= 0 for s in scores.values())
    for args, msg in ((("--out", tmp_path / "x.png"), "expected a .gpkg"), ((), "--out is needed"),
                      (("--horizon", "0", "--out", out), "horizon"), (("--as-of", "2026-02-30", "--out", out), "not a day"),
                      (("--evaluate", "--as-of", "2026-10-15"), "runs past the last fault")):
        bad = cli("faults", "risk", "--city", loaded_demo, *args)
        assert bad.returncode == 2 and msg in bad.stderr and "Traceback" not in bad.stderr, (args, bad.stderr)
