"""The HTTP API's front door and the managers' API, through a real server on loopback: keys and
roles, problem+json, the districts of the active plan, and reassignment without lost updates."""
from __future__ import annotations

import concurrent.futures as cf

import httpx
import pytest

from problems import problem as _problem




@pytest.fixture(scope="module")
def plan(active_plan):
    return active_plan




def test_landing_and_health_answer_without_a_key(api_url):
    home = httpx.get(f"{api_url}/").json()
    assert {link["rel"] for link in home["links"]} >= {"service-desc", "service-doc"}
    assert httpx.get(f"{api_url}/health").json()["status"] == "ok"


def test_everything_else_needs_a_live_key(http, engine):
    _problem(http(None).get("/districts"), 401, "needs an API key")
    r = httpx.get(str(http(None).base_url) + "/districts", headers={"Authorization": "Bearer pq_nope_nope"})
    assert _problem(r, 401, "unknown or revoked") and r.headers["www-authenticate"].startswith("Bearer")
    from gis import users
    with engine.begin() as conn:
        _, key = users.add(conn, "short-lived", "analyst")
    c = httpx.Client(base_url=str(http(None).base_url), headers={"Authorization": f"Bearer {key}"})
    assert c.get("/managers").status_code == 200
    with engine.begin() as conn:
        users.revoke(conn, "short-lived")
    _problem(c.get("/managers"), 401, "unknown or revoked")


def test_unknown_routes_methods_and_bad_parameters_are_problems(http, plan):
    _problem(http().get("/no/such/thing"), 404, "no such resource: /no/such/thing")
    _problem(http().delete("/districts"), 405, "DELETE is not allowed")
    _problem(http().get("/districts", params={"plan": "no-such-plan"}), 404, "plan 'no-such-plan' is not a plan")
    _problem(http().get("/districts/no-such-district"), 404, "district 'no-such-district' does not exist")
    body = _problem(http().put(f"/districts/{plan}-D001/manager", json={"manager_id": "SM-MG-002",
                                                                        "valid_from": "2026-02-30"},
                               headers={"If-Match": "*"}), 422, "valid_from")
    assert body["errors"][0]["where"] == "field 'valid_from'"


def test_districts_list_the_active_plan_with_managers(http, plan):
    for role in ("planner", "analyst", "manager"):
        res = http(role).get("/districts").json()
        assert res["plan_id"] == plan
        ds = res["districts"]
        assert [d["code"] for d in ds] == ["D001", "D002", "D003", "D004"]
        assert all(d["id"] == f"{plan}-{d['code']}" and d["manager_id"] and d["subscribers"] > 0 for d in ds)
        assert sum(d["subscribers"] for d in ds) == 20_000 and sum(d["boxes"] for d in ds) >= 68


def test_one_district_has_its_boxes_manager_history_and_etag(http, plan):
    r = http("analyst").get(f"/districts/{plan}-D002")
    assert r.status_code == 200
    d = r.json()
    assert r.headers["etag"] == d["etag"]
    assert d["code"] == "D002" and d["manager"]["manager_id"] == d["manager_id"]
    assert sum(b["subscribers"] for b in d["boxes"]) == d["subscribers"]
    assert d["history"][-1]["manager_id"] == d["manager_id"]


def test_reassignment_needs_if_match_and_refuses_a_stale_one(http, plan):
    url = f"/districts/{plan}-D003/manager"
    before = http().get(f"/districts/{plan}-D003")
    other = next(m for m in ("SM-MG-001", "SM-MG-002", "SM-MG-003", "SM-MG-004")
                 if m != before.json()["manager_id"])
    _problem(http().put(url, json={"manager_id": other}), 428, "needs If-Match")
    ok = http().put(url, json={"manager_id": other, "valid_from": "2031-01-01"},
                    headers={"If-Match": before.headers["etag"]})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] != before.headers["etag"] and ok.json()["history"][-1]["manager_id"] == other
    _problem(http().put(url, json={"manager_id": other, "valid_from": "2031-02-01"},
                        headers={"If-Match": before.headers["etag"]}), 412, "changed since it was read")


def test_of_two_concurrent_reassignments_exactly_one_wins(http, plan):
    url = f"/districts/{plan}-D004/manager"
    d = http().get(f"/districts/{plan}-D004")
    tag, owner = d.headers["etag"], d.json()["manager_id"]   # its own manager: no rule in the way

    def put(day):
        return http().put(url, json={"manager_id": owner, "valid_from": day}, headers={"If-Match": tag})
    with cf.ThreadPoolExecutor(4) as pool:
        codes = sorted(r.status_code for r in pool.map(put, ["2032-01-01", "2032-02-01", "2032-03-01",
                                                             "2032-04-01"]))
    assert codes == [200, 412, 412, 412]


def test_only_planners_reassign(http, plan):
    url = f"/districts/{plan}-D001/manager"
    for role in ("analyst", "manager"):
        _problem(http(role).put(url, json={"manager_id": "SM-MG-001"}, headers={"If-Match": "*"}), 403,
                 f"the role {role} may not do this")


def test_a_rule_a_manager_may_not_break_is_a_422_naming_it(http, plan, engine):
    # SM-MG-002 takes two more districts from 2033: the second is one too many (at most 2).
    for code, expect in (("D001", 200), ("D003", 422)):
        tag = http().get(f"/districts/{plan}-{code}").headers["etag"]
        r = http().put(f"/districts/{plan}-{code}/manager", json={"manager_id": "SM-MG-002",
                                                                  "valid_from": "2033-01-01"},
                       headers={"If-Match": tag})
        if expect == 200:
            assert r.status_code == 200, r.text
        else:
            _problem(r, 422, "rule 'at most 2 districts per manager'")
    from sqlalchemy import text
    with engine.begin() as conn:
        conn.execute(text("UPDATE managers SET active = false WHERE id = 'SM-MG-003'"))
    try:
        _problem(http().put(f"/districts/{plan}-D002/manager", json={"manager_id": "SM-MG-003"},
                            headers={"If-Match": "*"}), 422, "rule 'active manager'")
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE managers SET active = true WHERE id = 'SM-MG-003'"))


def test_managers_and_the_districts_each_owns(http, plan):
    ms = http("manager").get("/managers").json()
    assert [m["id"] for m in ms] == ["SM-MG-001", "SM-MG-002", "SM-MG-003", "SM-MG-004"]
    one = http("analyst").get("/managers/SM-MG-001").json()
    assert one["name"] and one["districts"] == http().get("/managers/SM-MG-001/districts").json()
    _problem(http().get("/managers/nobody"), 404, "manager 'nobody' does not exist")


def test_user_add_prints_the_key_alone_on_its_last_line_and_refuses_nonsense(cli, api_url):
    r = cli("user", "add", "cli-planner", "--role", "planner")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("pq_") and httpx.get(f"{api_url}/managers", headers={
        "Authorization": f"Bearer {key}"}).status_code == 200
    for args, says in ((("x", "--role", "king"), "unknown role 'king'"),
                       (("y", "--role", "manager"), "names the manager"),
                       (("z", "--role", "manager", "--manager", "nobody"), "manager 'nobody' is not in the store"),
                       (("cli-planner", "--role", "planner"), "already exists")):
        r = cli("user", "add", *args)
        assert r.returncode == 2 and says in r.stderr, r.stderr
    assert cli("user", "revoke", "cli-planner").returncode == 0
    assert httpx.get(f"{api_url}/managers", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_body_too_large_is_refused_before_it_is_read(http, plan):
    r = http().put(f"/districts/{plan}-D001/manager", content=b"{" + b" " * 2_100_000 + b"}",
                   headers={"If-Match": "*", "Content-Type": "application/json"})
    _problem(r, 413, "larger than 2 MB")


def _last_month_of_tickets(engine, city):
    from gis.tickets import ticket_range
    with engine.connect() as conn:
        return str(ticket_range(conn, city)[1])[:7]


def test_districts_carry_the_months_kpis_by_the_scorecards_rule(http, plan, engine, loaded_demo):
    from api.services.faults import kpi_records
    month = _last_month_of_tickets(engine, loaded_demo)
    res = http("analyst").get("/districts", params={"month": month}).json()
    assert res["kpi_month"] == month
    card = {r["district"]: r for r in kpi_records(engine, loaded_demo, "district", month)["rows"]}
    fields = ("lines", "tickets", "fault_rate", "repair_24h", "contact_20min", "clear_mean_h", "clear_p90_h",
              "repeat_share", "fault_rate_yoy")
    for d in res["districts"]:
        want = card[d["code"]]
        for f in fields:
            assert d["kpis"][f] == pytest.approx(want[f], rel=1e-9, nan_ok=True), (d["code"], f)
    assert sum(d["kpis"]["tickets"] for d in res["districts"]) <= res["city_kpis"]["tickets"] == card["(city)"]["tickets"]
    assert res["city_kpis"]["lines"] == 20_000 and res["city_kpis"]["tickets"] > 0
    one = http().get(f"/districts/{plan}-D002", params={"month": month}).json()
    assert one["kpi_month"] == month and one["kpis"] == next(d["kpis"] for d in res["districts"] if d["code"] == "D002")


def test_districts_kpis_default_to_this_month_in_the_citys_time_zone(http, plan):
    import datetime as dt
    from zoneinfo import ZoneInfo
    res = http().get("/districts").json()
    assert res["kpi_month"] == dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    # A month without tickets still lists every district: no fault is 0 faults, a rate of 0.
    far = http().get("/districts", params={"month": "2040-01"}).json()
    assert [d["kpis"]["tickets"] for d in far["districts"]] == [0, 0, 0, 0]
    assert all(d["kpis"]["fault_rate"] == 0 and d["kpis"]["repair_24h"] is None for d in far["districts"])


def test_a_new_ticket_shows_in_the_months_kpis_at_once(http, plan, engine, loaded_demo):
    from sqlalchemy import text
    month = _last_month_of_tickets(engine, loaded_demo)
    before = {d["code"]: d["kpis"]["tickets"] for d in http().get("/districts", params={"month": month}).json()["districts"]}
    with engine.begin() as conn:
        sub = conn.execute(text("SELECT s.id, s.geometry FROM subscribers s JOIN district_members m ON m.box_id = s.box_id "
                                "AND m.plan_id = :p JOIN districts d ON d.id = m.district_id AND d.code = 'D003' "
                                "WHERE m.dp_id IS NULL LIMIT 1"), {"p": plan}).first()
        conn.execute(text("INSERT INTO fault_tickets (id, city_id, subscriber_id, cause, reported_at, geometry) "
                          "VALUES ('T-KPI-NEW', :c, :s, 'drop', CAST(:at AS timestamptz), :g)"),
                     {"c": loaded_demo, "s": sub.id, "at": f"{month}-15T03:00:00+00:00", "g": sub.geometry})
    try:
        after = {d["code"]: d["kpis"]["tickets"] for d in
                 http().get("/districts", params={"month": month}).json()["districts"]}
        assert after == {**before, "D003": before["D003"] + 1}
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id = 'T-KPI-NEW'"))


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "last month"])
def test_a_bad_kpi_month_is_a_422_naming_the_parameter(http, plan, month):
    _problem(http().get("/districts", params={"month": month}), 422, "month")
    _problem(http().get(f"/districts/{plan}-D001", params={"month": month}), 422, "month")
