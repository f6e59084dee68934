"""Plans over HTTP, through a real server on loopback: a partition as a background job (its whole
life: queued, running, succeeded, failed, cancelled mid-partition), the plans and their districts
as GeoJSON, atomic activation, the diff of two plans, and who may do what."""
from __future__ import annotations

import concurrent.futures as cf
import os
import time

import httpx
import pytest
from sqlalchemy import text

from api.services import districts as districts_svc
from api.services import jobs
from api.services.plans import PlanParams, activate, create_plan
from problems import problem as _problem

# 60 districts of the small demo's 68 boxes: about 5 s of partitioning, long enough to cancel.
SLOW = {"districts": 60}


@pytest.fixture(scope="module")
def plans(engine, loaded_demo):
    """An active plan `a` (4 districts, with managers) and a draft re-plan `b` of it (5 districts)."""
    a = create_plan(engine, loaded_demo, PlanParams(districts=4, name="http a"))["plan"]
    activate(engine, a)
    districts_svc.auto_assign(engine, loaded_demo, a)
    b = create_plan(engine, loaded_demo, PlanParams(districts=5, previous=a, name="http b"))["plan"]
    return {"a": a, "b": b}




def _wait(client: httpx.Client, url: str, until, timeout: float = 90.0) -> dict:
    t0 = time.monotonic()
    while True:
        job = client.get(url).json()
        if until(job):
            return job
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() - t0 < timeout, f"job never got there: {job}"
        time.sleep(0.05)


def _finished(job: dict) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")


def _plan_ids(engine, city) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM district_plans WHERE city_id = :c"), {"c": city}).scalars())


def _active(engine, city) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM district_plans WHERE city_id = :c AND status = 'active'"),
                                 {"c": city}).scalars())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- the job's life --------------------------------------------------------------------------

def test_post_plans_runs_the_partition_as_a_job_that_ends_in_a_draft_plan(http, engine, loaded_demo):
    r = http("planner").post("/plans", json={"city": loaded_demo, "districts": 4, "name": "by http"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == job["url"] == f"/jobs/{job['id']}" and job["status"] in ("queued", "running")
    done = _wait(http("analyst"), job["url"], _finished)          # every role reads jobs
    assert done["status"] == "succeeded", done
    res = done["result"]
    assert res["n_districts"] == 4 and res["max_deviation"] <= 0.02 and res["report_url"] == f"/plans/{res['plan']}"
    plan = http("manager").get(res["report_url"]).json()
    assert plan["id"] == res["plan"] and plan["status"] == "draft" and plan["name"] == "by http"
    assert len(plan["districts"]) == 4 and plan["report"]["max_deviation"] == pytest.approx(res["max_deviation"])
    assert job["id"] in [j["id"] for j in http("analyst").get("/jobs").json()]


def test_cancelling_a_running_job_ends_its_process_and_writes_no_plan(http, engine, loaded_demo):
    before = _plan_ids(engine, loaded_demo)
    job = http("planner").post("/plans", json={"city": loaded_demo, **SLOW}).json()
    running = _wait(http("analyst"), job["url"], lambda j: (j.get("progress") or {}).get("step") == "partitioning")
    assert running["status"] == "running" and 0 < running["progress"]["fraction"] < 1
    pid = running["pid"]
    assert _alive(pid)
    r = http("planner").delete(job["url"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert not _alive(pid)
    assert http("analyst").get(job["url"]).json()["status"] == "cancelled"
    assert http("planner").delete(job["url"]).json()["status"] == "cancelled"     # again: still cancelled
    assert _plan_ids(engine, loaded_demo) == before          # and its process is gone, so none will come


def test_a_valid_but_infeasible_request_is_a_failed_job_with_the_problem(http, loaded_demo):
    # Passes every cheap check (2 districts of 68 boxes), fails in the partition: 30 communities.
    r = http("planner").post("/plans", json={"city": loaded_demo, "districts": 2, "parent": "communities"})
    assert r.status_code == 202, r.text
    done = _wait(http("planner"), r.json()["url"], _finished)
    assert done["status"] == "failed" and "result" not in done
    err = done["error"]
    assert err["status"] == 422 and err["title"] and err["type"].endswith("/422")
    assert "2 districts cannot nest in" in err["detail"] and "community areas" in err["detail"]


def test_a_finished_job_cannot_be_cancelled_and_an_unknown_job_is_404(http, loaded_demo):
    job = http("planner").post("/plans", json={"city": loaded_demo, "districts": 3}).json()
    _wait(http("planner"), job["url"], _finished)
    _problem(http("planner").delete(job["url"]), 409, "has already succeeded")
    _problem(http("planner").get("/jobs/nope"), 404, "job 'nope' does not exist")
    _problem(http("planner").delete("/jobs/nope"), 404, "job 'nope' does not exist")


@pytest.mark.parametrize("body, status, says", [
    ({"districts": 0}, 422, "field 'districts'"),
    ({"districts": 4, "tolerance": 1.5}, 422, "field 'tolerance'"),
    ({"districts": 4, "colour": "red"}, 422, "field 'colour'"),
    ({"districts": 4, "weight": {"bogus": 1}}, 422, "field 'weight.bogus"),
    ({"districts": 4, "slow_barriers": ["canal"]}, 422, "field 'slow_barriers.0'"),
    ({"districts": 4, "parent": "streets"}, 422, "field 'parent'"),
    ({"districts": 500}, 422, "500 districts asked of 68 boxes"),
    ({}, 422, "say how many districts"),
    ({"districts": 4, "target_size": 5000}, 422, "not both"),
    ({"districts": 4, "parent_counts": {"x": 2}}, 422, "need a parent"),
    ({"districts": 4, "parent": "communities", "parent_counts": {"nowhere": 4}}, 404, "community 'nowhere' is not an area"),
    ({"districts": 4, "previous": "no-such-plan"}, 404, "plan 'no-such-plan' is not a plan of city"),
    ({"districts": 4, "limits": {"revenue": [5, 1]}}, 422, "min <= max"),
    ({"city": "nowhere", "districts": 4}, 404, "nowhere"),
])
def test_bad_plan_requests_are_refused_at_once_without_a_job(http, loaded_demo, body, status, says):
    before = len(http("planner").get("/jobs").json())
    t0 = time.monotonic()
    _problem(http("planner").post("/plans", json={"city": loaded_demo, **body}), status, says)
    assert time.monotonic() - t0 < 5
    assert len(http("planner").get("/jobs").json()) == before


def test_a_not_a_number_tolerance_is_refused(http, loaded_demo):
    r = http("planner").post("/plans", content=f'{{"city": "{loaded_demo}", "districts": 4, "tolerance": NaN}}',
                             headers={"content-type": "application/json"})
    _problem(r, 422, "field 'tolerance'")


def test_jobs_beyond_the_running_slots_wait_and_beyond_the_queue_are_refused(db_url, engine, loaded_demo):
    reg = jobs.JobRegistry(db_url, max_running=1, max_queued=1)
    before = _plan_ids(engine, loaded_demo)
    first = reg.submit(loaded_demo, PlanParams(**SLOW), "test")
    second = reg.submit(loaded_demo, PlanParams(districts=4), "test")
    assert (first["status"], second["status"]) == ("running", "queued")
    with pytest.raises(jobs.TooManyJobs, match="1 plan jobs are running and 1 are waiting"):
        reg.submit(loaded_demo, PlanParams(districts=4), "test")
    assert reg.cancel(second["id"])["status"] == "cancelled"       # a queued job never starts
    assert reg.cancel(first["id"])["status"] == "cancelled"
    assert [j["status"] for j in reg.list()] == ["cancelled", "cancelled"]
    third = reg.submit(loaded_demo, PlanParams(districts=4), "test")   # the slot is free again
    assert third["status"] == "running"
    t0 = time.monotonic()
    while reg.get(third["id"])["status"] == "running" and time.monotonic() - t0 < 90:
        time.sleep(0.05)
    done = reg.get(third["id"])
    assert done["status"] == "succeeded"
    assert _plan_ids(engine, loaded_demo) - before == {done["result"]["plan"]}


# ---- reading plans ---------------------------------------------------------------------------

def test_plans_list_and_one_plan_with_its_metrics(http, plans, loaded_demo):
    listed = http("analyst").get("/plans", params={"city": loaded_demo}).json()
    by_id = {p["id"]: p for p in listed}
    assert by_id[plans["a"]]["n_districts"] == 4 and by_id[plans["b"]]["n_districts"] == 5
    one = http("manager").get(f"/plans/{plans['b']}").json()
    assert one["previous_plan_id"] == plans["a"] and one["parameters"]["districts"] == 5
    assert one["report"]["max_deviation"] <= 0.02 and [d["code"] for d in one["districts"]][:2] == ["D001", "D002"]
    _problem(http("analyst").get("/plans/no-such-plan"), 404, "plan 'no-such-plan' does not exist")
    _problem(http("analyst").get("/plans", params={"city": "nowhere"}), 404, "nowhere")


def test_plan_districts_are_geojson_with_the_ids_of_get_districts(http, plans, engine, loaded_demo):
    r = http("manager").get(f"/plans/{plans['a']}/districts")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    listed = {d["id"]: d for d in http("manager").get("/districts", params={"plan": plans["a"],
                                                                           "city": loaded_demo}).json()["districts"]}
    assert {f["id"] for f in fc["features"]} == set(listed)
    for f in fc["features"]:
        p = f["properties"]
        assert set(p) == {"code", "subscribers", "workload", "deviation", "manager_id"}
        d = listed[f["id"]]
        assert (p["code"], p["subscribers"], p["manager_id"]) == (d["code"], d["subscribers"], d["manager_id"])
        assert p["manager_id"] and abs(p["deviation"]) <= 0.02
        assert f["geometry"]["type"] == "MultiPolygon"
        lon, lat = f["geometry"]["coordinates"][0][0][0]
        assert -180 <= lon <= 180 and -90 <= lat <= 90 and abs(lon) > 90    # degrees (the demo is near 113 E)
    assert sum(f["properties"]["subscribers"] for f in fc["features"]) == 20_000
    _problem(http("manager").get("/plans/no-such-plan/districts"), 404, "plan 'no-such-plan' does not exist")


# ---- the diff --------------------------------------------------------------------------------

def _box_codes(engine, plan) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT m.box_id, d.code FROM district_members m JOIN districts d "
                                      "ON d.id = m.district_id WHERE m.plan_id = :p"), {"p": plan}).all())


def test_diff_lists_the_boxes_that_change_district_with_totals_and_both_metrics(http, plans, engine, loaded_demo):
    r = http("analyst").get(f"/plans/{plans['a']}/diff/{plans['b']}")
    assert r.status_code == 200, r.text
    d = r.json()
    a, b = _box_codes(engine, plans["a"]), _box_codes(engine, plans["b"])
    moved = {box for box in a if a[box] != b.get(box)}
    assert moved and {u["unit"] for u in d["units"]} == moved       # no box is split in the small demo
    assert all(u["from"] == a[u["box_id"]] and u["to"] == b[u["box_id"]] for u in d["units"])
    with engine.connect() as conn:
        subs = conn.execute(text("SELECT count(*) FROM subscribers WHERE box_id = ANY(:b)"),
                            {"b": sorted(moved)}).scalar()
    t = d["totals"]
    assert (t["boxes_moved"], t["units_moved"], t["subscribers_moved"], t["subscribers"]) == \
        (len(moved), len(moved), subs, 20_000)
    assert t["share"] == pytest.approx(subs / 20_000)
    assert (d["a"]["id"], d["a"]["n_districts"], d["b"]["id"], d["b"]["n_districts"]) == (plans["a"], 4, plans["b"], 5)
    assert d["a"]["max_deviation"] <= 0.02 and d["city"] == loaded_demo
    same = http("analyst").get(f"/plans/{plans['a']}/diff/{plans['a']}").json()
    assert same["units"] == [] and same["totals"]["share"] == 0


def test_diff_of_an_unknown_plan_or_of_two_cities_is_refused(http, plans, engine, tmp_city):
    _problem(http("analyst").get(f"/plans/{plans['a']}/diff/no-such-plan"), 404, "plan 'no-such-plan' does not exist")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id, name, status) VALUES (:p, :c, 'other', 'draft')"),
                     {"p": f"{tmp_city}-plan-001", "c": tmp_city})
    _problem(http("analyst").get(f"/plans/{plans['a']}/diff/{tmp_city}-plan-001"), 422,
             "only plans of one city can be compared")


# ---- activation ------------------------------------------------------------------------------

def test_activation_failure_keeps_old_plan_active(http, plans, engine, loaded_demo):
    old = create_plan(engine, loaded_demo, PlanParams(districts=4, name="old"))["plan"]
    activate(engine, old)
    empty = f"{loaded_demo}-empty-{os.getpid()}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id, name, status) VALUES (:p, :c, 'empty', 'draft')"),
                     {"p": empty, "c": loaded_demo})
    p = http("planner")
    _problem(p.post("/plans/no-such-plan/activate"), 404, "plan 'no-such-plan' does not exist")
    assert _active(engine, loaded_demo) == [old]
    _problem(p.post(f"/plans/{old}/activate"), 409, f"plan {old!r} is already active")
    assert _active(engine, loaded_demo) == [old]
    _problem(p.post(f"/plans/{empty}/activate"), 409, f"plan {empty!r} has no districts")
    assert _active(engine, loaded_demo) == [old]
    r = p.post(f"/plans/{plans['b']}/activate")
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got.pop("tickets")) == {"moved", "kept_by_choice"}
    assert got == {"plan": plans["b"], "city": loaded_demo, "archived": [old]}
    assert _active(engine, loaded_demo) == [plans["b"]]
    assert http("analyst").get(f"/plans/{old}").json()["status"] == "archived"


def test_concurrent_activations_take_turns_and_leave_one_active_plan(http, engine, loaded_demo):
    drafts = [create_plan(engine, loaded_demo, PlanParams(districts=3, seed=i))["plan"] for i in range(4)]
    p = http("planner")
    with cf.ThreadPoolExecutor(len(drafts)) as pool:
        answers = list(pool.map(lambda d: p.post(f"/plans/{d}/activate"), drafts))
    assert [r.status_code for r in answers] == [200] * len(drafts), [r.text for r in answers]
    active = _active(engine, loaded_demo)
    assert len(active) == 1 and active[0] in drafts
    # Each archived exactly the one active before it: a chain, no plan archived twice.
    archived = [x for r in answers for x in r.json()["archived"]]
    assert len(archived) == len(set(archived)) == len(drafts)


# ---- who may ---------------------------------------------------------------------------------

def test_only_planners_create_activate_and_cancel_and_every_call_needs_a_key(http, plans, loaded_demo):
    for role in ("analyst", "manager"):
        _problem(http(role).post("/plans", json={"city": loaded_demo, "districts": 4}), 403,
                 f"the role {role} may not do this")
        _problem(http(role).post(f"/plans/{plans['b']}/activate"), 403, f"the role {role} may not do this")
        _problem(http(role).delete("/jobs/anything"), 403, f"the role {role} may not do this")
        assert http(role).get(f"/plans/{plans['a']}/diff/{plans['b']}").status_code == 200
        assert http(role).get("/jobs").status_code == 200
    anon = http(None)
    for method, url in (("POST", "/plans"), ("GET", "/plans"), ("GET", f"/plans/{plans['a']}"),
                        ("GET", f"/plans/{plans['a']}/districts"), ("POST", f"/plans/{plans['a']}/activate"),
                        ("GET", f"/plans/{plans['a']}/diff/{plans['b']}"), ("GET", "/jobs"),
                        ("GET", "/jobs/x"), ("DELETE", "/jobs/x")):
        r = anon.request(method, url, json={"districts": 4} if method == "POST" else None)
        _problem(r, 401, "needs an API key")
