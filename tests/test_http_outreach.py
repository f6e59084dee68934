"""The manager's outreach lists through a real server: contracts ending within 30 days and new
subscribers of the districts he holds, and open opportunity sites; his own only."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from problems import problem

DAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


@pytest.fixture(scope="module")
def plan(active_plan):
    return active_plan


def _expected(engine, plan, where, params):
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            f"AND a.valid_to IS NULL AND a.manager_id = 'SM-MG-001' WHERE {where}"), {"p": plan, **params}).scalars())


def test_contracts_ending_and_new_subscribers_are_those_of_his_districts(http, engine, plan):
    r = http("manager").get("/managers/SM-MG-001/outreach", params={"date": str(DAY), "limit": 1000})
    assert r.status_code == 200, r.text
    o = r.json()
    ending = _expected(engine, plan, "s.broadband AND s.contract_ends BETWEEN :a AND :b",
                       {"a": DAY, "b": DAY + dt.timedelta(days=30)})
    got = o["contracts_ending"]
    assert got["total"] == len(ending) > 0 and {s["id"] for s in got["subscribers"]} == ending
    dates = [s["contract_ends"] for s in got["subscribers"]]
    assert dates == sorted(dates)
    new = _expected(engine, plan, "s.connected_since BETWEEN :a AND :b", {"a": DAY - dt.timedelta(days=30), "b": DAY})
    assert o["new_subscribers"]["total"] == len(new)
    assert {s["id"] for s in o["new_subscribers"]["subscribers"]} == new
    week = http("manager").get("/managers/SM-MG-001/outreach", params={"date": str(DAY), "days": 7}).json()
    assert week["contracts_ending"]["total"] <= got["total"]
    assert isinstance(o["opportunities"], list)


def test_outreach_is_his_own_and_bad_values_are_refused(http, engine, plan):
    with engine.connect() as conn:
        other = conn.execute(text("SELECT id FROM managers WHERE id <> 'SM-MG-001' ORDER BY id LIMIT 1")).scalar()
    problem(http("manager").get(f"/managers/{other}/outreach"), 404)
    assert http("planner").get(f"/managers/{other}/outreach").status_code == 200
    problem(http("planner").get("/managers/SM-MG-001/outreach", params={"days": 0}), 422, "days")
