"""Alerts and construction reports over HTTP, through a real server: a report posted from the field
goes through the import's rules and raises an alert on the next evaluation; the alerts list with
its filters and pages; every life-cycle step with who and when; and who may do what."""
from __future__ import annotations

import secrets

import pytest
from pyproj import Transformer
from sqlalchemy import text

from gis import store
from problems import problem as _problem

X0, Y0 = 700_000.0, 3_120_000.0
TO_LL = Transformer.from_crs(32649, 4326, always_xy=True)


def lonlat(dx: float, dy: float) -> list[float]:
    return list(TO_LL.transform(X0 + dx, Y0 + dy))


def pt(dx, dy):
    return f"ST_Transform(ST_SetSRID(ST_MakePoint({X0 + dx}, {Y0 + dy}), 32649), 4326)"




@pytest.fixture(scope="module")
def city(engine):
    """A tiny city of its own: one office and one box at 90 % (10 spare ports); no report yet."""
    c = f"t-{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cities (id, name, metric_crs) VALUES (:c, :c, 32649)"), {"c": c})
        conn.execute(text(f"INSERT INTO offices (id, city_id, name, geometry) VALUES (:o, :c, 'O', {pt(-500, 0)})"),
                     {"o": f"{c}-O", "c": c})
        conn.execute(text(f"INSERT INTO boxes (id, city_id, office_id, capacity, used, year_installed, geometry) "
                          f"VALUES (:b, :c, :o, 100, 90, 2005, {pt(0, 0)})"), {"b": f"{c}-B1", "c": c, "o": f"{c}-O"})
    yield c
    with engine.begin() as tx:
        store.delete_city(tx, c)


def feature(dx=100.0, dy=0.0, **props) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": lonlat(dx, dy)},
            "properties": {"kind": "residential", "stage": "permitted", "households": 100,
                           "reported_on": "2026-10-01", **props}}


@pytest.fixture(scope="module")
def evaluated(http, city):
    """The planner reports a building 100 m from the box over HTTP, then evaluates: two alerts."""
    r = http("planner").post("/construction-reports", params={"city": city}, json=feature(id=f"{city}-R1"))
    assert r.status_code == 201, r.text
    r = http("planner").post("/alerts/evaluate", json={"city": city, "as_of": "2026-11-01"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_posted_report_is_stored_and_raises_an_alert_on_evaluation(http, city, evaluated):
    assert evaluated["city"] == city and evaluated["new"] == 2
    assert evaluated["by_kind"]["extend_network"] == 1 and evaluated["by_kind"]["expand_box"] == 1
    page = http("analyst").get("/alerts", params={"city": city, "kind": "extend_network"}).json()
    assert page["total"] == 1 and page["alerts"][0]["report_id"] == f"{city}-R1"
    assert page["alerts"][0]["box_id"] == f"{city}-B1"
    got = http("manager").get(f"/construction-reports/{city}-R1")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/geo+json")
    f = got.json()
    assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
    assert f["properties"]["households"] == 100 and f["properties"]["reported_on"] == "2026-10-01"
    assert f["geometry"]["coordinates"] == pytest.approx(lonlat(100, 0), abs=1e-7)


def test_the_alerts_list_filters_pages_and_counts(http, city, evaluated):
    whole = http("analyst").get("/alerts", params={"city": city}).json()
    assert whole["total"] == 2 and whole["shown"] == 2 and whole["offset"] == 0
    assert [a["score"] for a in whole["alerts"]] == sorted((a["score"] for a in whole["alerts"]), reverse=True)
    first = http().get("/alerts", params={"city": city, "limit": 1}).json()
    second = http().get("/alerts", params={"city": city, "limit": 1, "offset": 1}).json()
    assert first["total"] == second["total"] == 2 and first["shown"] == second["shown"] == 1
    assert [first["alerts"][0]["id"], second["alerts"][0]["id"]] == [a["id"] for a in whole["alerts"]]
    beyond = http().get("/alerts", params={"city": city, "offset": 5}).json()
    assert beyond["total"] == 2 and beyond["alerts"] == []
    assert http().get("/alerts", params={"city": city, "status": "done"}).json()["total"] == 0


def test_alerts_list_refuses_bad_filters_naming_them(http, city):
    _problem(http().get("/alerts", params={"city": city, "kind": "bogus"}), 422, "unknown alert kind 'bogus'")
    _problem(http().get("/alerts", params={"city": city, "status": "open"}), 422, "unknown status 'open'")
    _problem(http().get("/alerts", params={"city": city, "limit": 0}), 422, "query parameter 'limit'")
    _problem(http().get("/alerts", params={"city": city, "limit": 10_001}), 422, "query parameter 'limit'")
    _problem(http().get("/alerts", params={"city": city, "offset": -1}), 422, "query parameter 'offset'")
    _problem(http().get("/alerts", params={"city": city, "limit": "many"}), 422, "query parameter 'limit'")
    _problem(http().get("/alerts", params={"city": "nowhere"}), 404, "city 'nowhere' is not in the store")


def test_one_alert_has_its_geometry_and_the_unknown_one_is_404(http, city, evaluated):
    aid = http().get("/alerts", params={"city": city, "kind": "expand_box"}).json()["alerts"][0]["id"]
    a = http("analyst").get(f"/alerts/{aid}").json()
    assert a["id"] == aid and a["city"] == city and a["kind"] == "expand_box" and a["box_id"] == f"{city}-B1"
    assert a["geometry"]["type"] == "Point" and a["utilisation"] == pytest.approx(0.9)
    _problem(http().get("/alerts/AL-nonexistent"), 404, "alert 'AL-nonexistent' does not exist")
    _problem(http().get("/alerts/AL-nonexistent/history"), 404, "alert 'AL-nonexistent' does not exist")


def test_every_step_is_recorded_with_the_callers_name_and_wrong_steps_are_refused(http, city, evaluated):
    aid = http().get("/alerts", params={"city": city, "kind": "extend_network"}).json()["alerts"][0]["id"]
    planner = http("planner")
    r = planner.post(f"/alerts/{aid}/ack")
    assert r.status_code == 200 and r.json() == {"id": aid, "from": "new", "to": "acknowledged"}
    _problem(planner.post(f"/alerts/{aid}/done", json={}), 409, "is acknowledged; it can go to: planned, dismissed")
    assert planner.post(f"/alerts/{aid}/plan", json={"note": "extension in Q1"}).json()["to"] == "planned"
    assert planner.post(f"/alerts/{aid}/done", json={"note": None}).json()["to"] == "done"
    _problem(planner.post(f"/alerts/{aid}/ack"), 409, "is done; it can go to: none (it is finished)")
    _problem(planner.post("/alerts/AL-nonexistent/ack"), 404, "alert 'AL-nonexistent' does not exist")
    _problem(http("manager").get(f"/alerts/{aid}/history"), 404)   # no district of his holds it
    h = http("analyst").get(f"/alerts/{aid}/history").json()
    actors = {e["actor"] for e in h}   # the evaluation too was the planner's
    assert [(e["from_status"], e["to_status"]) for e in h] == [
        (None, "new"), ("new", "acknowledged"), ("acknowledged", "planned"), ("planned", "done")]
    assert len(actors) == 1 and actors.pop().startswith("test-planner-")   # the caller's user name
    assert h[2]["note"] == "extension in Q1" and h[1]["note"] is None
    assert all(e["at"].endswith("+00:00") for e in h)   # the tiny city keeps UTC
    assert http().get(f"/alerts/{aid}").json()["status"] == "done"


def test_a_dismissal_needs_a_reason_and_keeps_it(http, city, evaluated):
    aid = http().get("/alerts", params={"city": city, "kind": "expand_box"}).json()["alerts"][0]["id"]
    _problem(http().post(f"/alerts/{aid}/dismiss"), 422, f"alert {aid}: a dismissal needs a reason")
    _problem(http().post(f"/alerts/{aid}/dismiss", json={"note": "  "}), 422, "needs a reason")
    _problem(http().post(f"/alerts/{aid}/dismiss", json={"note": "x" * 2001}), 422, "field 'note'")
    r = http().post(f"/alerts/{aid}/dismiss", json={"note": "box replaced next month"})
    assert r.status_code == 200 and r.json()["to"] == "dismissed"
    a = http().get(f"/alerts/{aid}").json()
    assert a["status"] == "dismissed" and a["status_note"] == "box replaced next month"


def test_only_a_planner_steps_and_evaluates_and_everything_needs_a_key(http, city, evaluated):
    aid = http().get("/alerts", params={"city": city}).json()["alerts"][0]["id"]
    for role in ("analyst", "manager"):
        for step in ("ack", "plan", "done", "dismiss"):
            _problem(http(role).post(f"/alerts/{aid}/{step}", json={"note": "n"}), 403, f"the role {role} may not do this")
        _problem(http(role).post("/alerts/evaluate", json={"city": city}), 403, "needs the role planner")
    for path in ("/alerts", f"/alerts/{aid}", f"/alerts/{aid}/history", "/construction-reports"):
        _problem(http(None).get(path, params={"city": city}), 401, "needs an API key")
    for path in (f"/alerts/{aid}/ack", "/alerts/evaluate", "/construction-reports"):
        _problem(http(None).post(path, json={}), 401, "needs an API key")


def test_evaluate_refuses_bad_parameters_naming_them(http, city):
    for body, says in [({"city": city, "reach_m": 0}, "field 'reach_m'"),
                       ({"city": city, "take_up": 1.5}, "field 'take_up'"),
                       ({"city": city, "horizon_months": 0}, "field 'horizon_months'"),
                       ({"city": city, "as_of": "2026-02-30"}, "field 'as_of'"),
                       ({"city": city, "threshold": "high"}, "field 'threshold'")]:
        _problem(http().post("/alerts/evaluate", json=body), 422, says)
    _problem(http().post("/alerts/evaluate", json={"city": "nowhere"}), 404, "city 'nowhere' is not in the store")


# ---- construction reports ----------------------------------------------------------------------

@pytest.fixture
def demo_reports(engine, loaded_demo):
    """Reports posted to the demo city in a test are removed after it (other tests count them)."""
    with engine.connect() as conn:
        before = set(conn.execute(text("SELECT id FROM construction_reports WHERE city_id = :c"),
                                  {"c": loaded_demo}).scalars())
    yield loaded_demo
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM construction_reports WHERE city_id = :c AND NOT (id = ANY(:ids))"),
                     {"c": loaded_demo, "ids": list(before)})


def test_a_managers_report_is_his_own(http, demo_reports):
    demo = {"city": demo_reports}
    r = http("manager").post("/construction-reports", params=demo, json={
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [112.970, 28.200], [112.972, 28.200], [112.972, 28.202], [112.970, 28.202], [112.970, 28.200]]]},
        "properties": {"name": "新楼盘", "kind": "commercial", "stage": "planned", "floor_area_m2": 12000}})
    assert r.status_code == 201, r.text
    f = r.json()
    p = f["properties"]
    assert p["reporter_id"] == "SM-MG-001" and p["reporter_name"] and p["id"].startswith("CR-")
    assert p["city_id"] == demo_reports and p["reported_on"] and p["households"] is None
    assert f["geometry"]["type"] == "Polygon" and r.headers["location"] == f"/construction-reports/{p['id']}"
    _problem(http("manager").post("/construction-reports", params=demo, json=feature(reporter_id="SM-MG-002") | {
        "geometry": {"type": "Point", "coordinates": [112.97, 28.20]}}), 403, "a manager reports as himself",
        "'SM-MG-001'")
    listed = http("analyst").get("/construction-reports", params={**demo, "reporter_id": "SM-MG-001"}).json()
    assert p["id"] in {x["properties"]["id"] for x in listed["features"]} and listed["total"] >= 1
    assert all(x["properties"]["reporter_id"] == "SM-MG-001" for x in listed["features"])


def test_a_planner_may_name_the_reporter_and_an_analyst_may_not_report(http, city, demo_reports):
    r = http("planner").post("/construction-reports", params={"city": demo_reports},
                             json=feature(reporter_id="SM-MG-002") | {
        "geometry": {"type": "Point", "coordinates": [112.97, 28.20]}})
    assert r.status_code == 201 and r.json()["properties"]["reporter_id"] == "SM-MG-002", r.text
    _problem(http("analyst").post("/construction-reports", params={"city": demo_reports}, json=feature()), 403,
             "the role analyst may not do this")
    _problem(http("planner").post("/construction-reports", params={"city": city}, json=feature(reporter_id="SM-MG-002")),
             422, "reporter_id 'SM-MG-002' is a manager of city 'demo-small'")
    _problem(http("planner").post("/construction-reports", params={"city": city}, json=feature(reporter_id="NOBODY")),
             422, "reporter_id 'NOBODY' is not a manager")


def test_a_report_is_checked_by_the_imports_rules(http, city, evaluated):
    post = http("planner").post
    cases = [
        (feature(id="bad-1", households=-5), "construction report 'bad-1': households must not be negative"),
        (feature(id="bad-2", kind="villa"), "kind 'villa' is not one of residential, commercial, mixed"),
        (feature(id="bad-3", stage="dreamt"), "stage 'dreamt' is not one of planned"),
        (feature(id="bad-4", households=None), "needs households or floor_area_m2"),
        (feature(id="bad-5") | {"geometry": {"type": "LineString", "coordinates": [lonlat(0, 0), lonlat(50, 0)]}},
         "geometry is a LineString, expected"),
        (feature(id="bad-6") | {"geometry": {"type": "Point", "coordinates": [500000, 3000000]}},
         "outside the area of use of EPSG:4326"),
        (feature(id="bad-7") | {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1],
                                                                                   [0, 0]]]}},
         "geometry is invalid"),
        (feature(id="bad-8") | {"geometry": {"type": "Point", "coordinates": "here"}}, "not a GeoJSON geometry"),
        (feature(id="bad-9") | {"geometry": None}, "geometry is missing"),
        (feature(id="bad-10") | {"crs": {"type": "name", "properties": {"name": "EPSG:999999"}}},
         "is not a coordinate reference system"),
        (feature(id=f"{city}-R1"), f"construction report '{city}-R1' already exists"),
    ]
    for body, says in cases:
        r = post("/construction-reports", params={"city": city}, json=body)
        _problem(r, 409 if "already" in says else 422, says)
    for body, says in [(feature(households="many"), "field 'properties.households'"),
                       (feature(reported_on="2026-02-30"), "field 'properties.reported_on'"),
                       (feature(colour="red"), "field 'properties.colour'"),
                       ({"type": "FeatureCollection", "features": []}, "field 'type'")]:
        _problem(post("/construction-reports", params={"city": city}, json=body), 422, says)
    listed = http().get("/construction-reports", params={"city": city}).json()
    assert [f["properties"]["id"] for f in listed["features"]] == [f"{city}-R1"]   # nothing bad was stored


def test_a_report_in_a_projected_crs_is_stored_in_lon_lat(http, city, engine):
    body = feature(id=f"{city}-R-utm") | {"geometry": {"type": "Point", "coordinates": [X0 + 900, Y0 + 900]},
                                         "crs": {"type": "name", "properties": {"name": "EPSG:32649"}}}
    r = http().post("/construction-reports", params={"city": city}, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["geometry"]["coordinates"] == pytest.approx(lonlat(900, 900), abs=1e-7)
    with engine.begin() as conn:   # leave the module's city as the other tests expect it
        conn.execute(text("DELETE FROM construction_reports WHERE id = :i"), {"i": f"{city}-R-utm"})


def test_report_listing_filters_and_refuses_bad_ones(http, demo_reports):
    demo = {"city": demo_reports}
    res = http("manager").get("/construction-reports", params={**demo, "stage": "permitted", "limit": 5}).json()
    assert res["type"] == "FeatureCollection" and res["shown"] == len(res["features"]) <= 5
    assert all(f["properties"]["stage"] == "permitted" for f in res["features"]) and res["total"] >= res["shown"]
    days = [f["properties"]["reported_on"] for f in res["features"]]
    assert days == sorted(days, reverse=True)
    _problem(http().get("/construction-reports", params={**demo, "stage": "dreamt"}), 422,
             "unknown report stage 'dreamt'")
    _problem(http().get("/construction-reports", params={**demo, "limit": 0}), 422, "query parameter 'limit'")
    _problem(http().get("/construction-reports/CR-nope"), 404, "construction report 'CR-nope' does not exist")


def test_a_manager_sees_the_alerts_of_the_districts_he_holds_only(http, loaded_demo, active_plan):
    r = http("planner").post("/alerts/evaluate", json={"city": loaded_demo, "streets": False})
    assert r.status_code == 200, r.text
    every = http("analyst").get("/alerts", params={"city": loaded_demo, "limit": 1000}).json()["alerts"]
    his = [a["id"] for a in every if a["manager_id"] and "SM-MG-001" in a["manager_id"].split(", ")]
    mine = http("manager").get("/alerts", params={"city": loaded_demo, "limit": 1000}).json()
    assert [a["id"] for a in mine["alerts"]] == his and mine["total"] == len(his)
    assert len(his) < len(every)
    page = http("manager").get("/alerts", params={"city": loaded_demo, "limit": 1, "offset": 1}).json()
    assert page["total"] == len(his) and [a["id"] for a in page["alerts"]] == his[1:2]
    other = next(a["id"] for a in every if a["id"] not in his)
    _problem(http("manager").get(f"/alerts/{other}"), 404)
    if his:
        assert http("manager").get(f"/alerts/{his[0]}").json()["id"] == his[0]
