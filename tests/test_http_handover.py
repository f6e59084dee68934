"""Open tickets follow their district's owner, their clocks carried over unchanged: on a
reassignment, on a dated stand-in beginning (seen by the clock scan), and when a new plan is
activated; a ticket someone took stays with him."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from api.services import tickets as svc
from problems import problem


@pytest.fixture(scope="module")
def plan(ticket_plan):
    return ticket_plan


def _district_of(engine, manager):
    with engine.connect() as conn:
        return conn.execute(text("SELECT a.district_id FROM district_assignments a JOIN districts d ON d.id = a.district_id "
                                 "JOIN district_plans p ON p.id = d.plan_id AND p.status = 'active' "
                                 "WHERE a.manager_id = :m AND a.valid_from <= now() AND (a.valid_to IS NULL OR a.valid_to > now())"),
                            {"m": manager}).scalar()


def _subscriber_in(engine, district, offset=0):
    with engine.connect() as conn:
        return conn.execute(text("SELECT s.id FROM subscribers s JOIN district_members m ON m.box_id = s.box_id "
                                 "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) WHERE m.district_id = :d ORDER BY s.id "
                                 "OFFSET :o LIMIT 1"), {"d": district, "o": offset}).scalar()


def _reassign(http, district, manager, **dates):
    c = http("planner")
    tag = c.get(f"/districts/{district}").headers["etag"]
    r = c.put(f"/districts/{district}/manager", json={"manager_id": manager, **dates}, headers={"If-Match": tag})
    assert r.status_code == 200, r.text
    return r.json()


def _clocks(t):
    return t["contact_due"], t["clear_due"], t["reported_at"]


def _other_manager(engine, plan, besides):
    with engine.connect() as conn:
        return conn.execute(text("SELECT a.manager_id FROM district_assignments a JOIN districts d ON d.id = a.district_id "
                                 "WHERE d.plan_id = :p AND a.valid_from <= now() AND (a.valid_to IS NULL OR "
                                 "a.valid_to > now()) AND a.manager_id <> :m ORDER BY 1 LIMIT 1"),
                            {"p": plan, "m": besides}).scalar()


def test_a_reassigned_district_hands_its_open_tickets_over_with_their_clocks(http, engine, plan):
    district = _district_of(engine, "SM-MG-001")
    other = _other_manager(engine, plan, "SM-MG-001")
    cc = http("callcentre")
    t = cc.post("/tickets", json={"subscriber_id": _subscriber_in(engine, district)}).json()
    contacted = cc.post("/tickets", json={"subscriber_id": _subscriber_in(engine, district, 1)}).json()
    assert http("manager").post(f"/tickets/{contacted['id']}/contact", json={}).json()["status"] == "contacted"
    before = {x["id"]: cc.get(f"/tickets/{x['id']}").json() for x in (t, contacted)}
    try:
        _reassign(http, district, other)
        for tid, old in before.items():
            now = cc.get(f"/tickets/{tid}").json()
            assert now["manager_id"] == other and now["first_responsible"] == "SM-MG-001"
            assert _clocks(now) == _clocks(old) and now["status"] == old["status"]
            last = now["history"][-1]
            assert last["action"] == "handover" and last["fields"]["from_manager"] == "SM-MG-001"
            assert f"district" in last["fields"]["reason"] and "reassigned" in last["fields"]["reason"]
        problem(http("manager").post(f"/tickets/{t['id']}/contact", json={}), 404)
    finally:
        _reassign(http, district, "SM-MG-001")
    assert cc.get(f"/tickets/{t['id']}").json()["manager_id"] == "SM-MG-001"


def test_a_ticket_someone_took_stays_with_him_when_the_district_changes_hands(http, engine, plan):
    district = _district_of(engine, "SM-MG-001")
    other = _other_manager(engine, plan, "SM-MG-001")
    cc = http("callcentre")
    t = cc.post("/tickets", json={"subscriber_id": _subscriber_in(engine, district, 2)}).json()
    third = _other_manager(engine, plan, other)
    cc.post(f"/tickets/{t['id']}/take", json={"manager_id": third})
    try:
        _reassign(http, district, other)
        assert cc.get(f"/tickets/{t['id']}").json()["manager_id"] == third
    finally:
        _reassign(http, district, "SM-MG-001")


def test_a_dated_stand_in_gets_the_tickets_when_the_scan_sees_him_begin(http, engine, plan, loaded_demo):
    district = _district_of(engine, "SM-MG-001")
    other = _other_manager(engine, plan, "SM-MG-001")
    cc = http("callcentre")
    t = cc.post("/tickets", json={"subscriber_id": _subscriber_in(engine, district, 3)}).json()
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).date()
    _reassign(http, district, other, valid_from=str(tomorrow), valid_until=str(tomorrow + dt.timedelta(days=3)))
    assert cc.get(f"/tickets/{t['id']}").json()["manager_id"] == "SM-MG-001"     # not yet
    with engine.connect() as conn:
        tx = conn.begin()
        res = svc.scan(conn, now=dt.datetime.combine(tomorrow, dt.time(12), dt.timezone.utc), city=loaded_demo)
        holder = conn.execute(text("SELECT manager_id FROM fault_tickets WHERE id = :t"), {"t": t["id"]}).scalar()
        tx.rollback()
    assert res["handed_over"] >= 1 and holder == other


def test_activating_a_new_plan_moves_open_tickets_to_their_new_districts_owner(http, engine, plan, loaded_demo):
    from api.services import districts
    from api.services.plans import PlanParams, activate, create_plan
    cc = http("callcentre")
    made = [cc.post("/tickets", json={"subscriber_id": _subscriber_in(engine, _district_of(engine, "SM-MG-001"), 10 + i)}
                    ).json() for i in range(3)]
    new = create_plan(engine, loaded_demo, PlanParams(districts=4))
    res = activate(engine, new["plan"], actor="test")
    assert res["tickets"]["moved"] >= len(made)
    waiting = [cc.get(f"/tickets/{t['id']}").json() for t in made]
    # The new districts have no manager yet: the tickets wait in their community's queue.
    assert all(w["district_id"].startswith(new["plan"]) and w["manager_id"] is None and w["queue_id"] for w in waiting)
    districts.auto_assign(engine, loaded_demo, new["plan"])
    for t in made:
        now = cc.get(f"/tickets/{t['id']}").json()
        with engine.connect() as conn:
            owner = conn.execute(text("SELECT manager_id FROM district_assignments WHERE district_id = :d "
                                      "AND valid_from <= now() AND (valid_to IS NULL OR valid_to > now())"),
                                 {"d": now["district_id"]}).scalar()
        assert now["manager_id"] == owner and now["queue_id"] is None
        assert _clocks(now) == _clocks(t) and now["first_responsible"] == "SM-MG-001"
        assert [h["action"] for h in now["history"]][-2:] == ["handover", "handover"]
