"""A manager's key sees the subscribers and tickets of the districts he holds today, not the
others', through the features API; every other role sees them all."""
from __future__ import annotations

from sqlalchemy import text

from problems import every_feature, problem


def _his(engine, plan):
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            "AND a.valid_to IS NULL AND a.manager_id = 'SM-MG-001'"), {"p": plan}).scalars())


def test_a_manager_reads_his_districts_subscribers_only(http, engine, active_plan, loaded_demo):
    his = _his(engine, active_plan)
    mine, _ = every_feature(http("manager"), "/collections/subscribers/items", limit=10000, properties="id")
    assert {f["id"] for f in mine} == his and 0 < len(his) < 20_000
    everyone, _ = every_feature(http("analyst"), "/collections/subscribers/items", limit=10000, properties="id")
    assert len(everyone) == 20_000
    other = next(f["id"] for f in everyone if f["id"] not in his)
    problem(http("manager").get(f"/collections/subscribers/items/{other}"), 404)
    one = next(iter(his))
    assert http("manager").get(f"/collections/subscribers/items/{one}").json()["id"] == one
    # a filter cannot widen it
    r = http("manager").get("/collections/subscribers/items", params={"filter": f"id = '{other}'"}).json()
    assert r["numberReturned"] == 0


def test_a_manager_reads_his_districts_tickets_only(http, engine, ticket_plan, loaded_demo):
    cc = http("callcentre")
    with engine.connect() as conn:
        theirs = conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            "AND a.valid_to IS NULL AND a.manager_id <> 'SM-MG-001' LIMIT 1"), {"p": ticket_plan}).scalar()
    mine = next(iter(_his(engine, ticket_plan)))
    t_mine = cc.post("/tickets", json={"subscriber_id": mine}).json()["id"]
    t_theirs = cc.post("/tickets", json={"subscriber_id": theirs}).json()["id"]
    seen = {f["id"] for f in every_feature(http("manager"), "/collections/fault_tickets/items", limit=10000,
                                           properties="id", datetime="2026-11-15T00:00:00Z/..")[0]}
    assert t_mine in seen and t_theirs not in seen
    problem(http("manager").get(f"/collections/fault_tickets/items/{t_theirs}"), 404)
