"""The clocks of each kind of ticket and the piece rates, changed by a planner through the API:
a ticket made afterwards keeps the new clocks (a working-hours calendar included)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from problems import problem


def test_a_changed_policy_gives_new_tickets_its_clocks_and_its_calendar(http, engine, ticket_plan):
    pl = http("planner")
    old = {(p["kind"], p["priority"]): p for p in pl.get("/ticket-policies").json()}[("move", "vip")]
    calendar = {"tz": "Asia/Shanghai", "hours": {str(d): [["00:00", "24:00"]] for d in range(7)}}
    try:
        r = pl.put("/ticket-policies/move/vip", json={"contact_minutes": 30, "clear_minutes": 120, "calendar": calendar})
        assert r.status_code == 200, r.text
        assert r.json()["clear_minutes"] == 120 and r.json()["updated_by"].startswith("test-planner-")
        with engine.connect() as conn:
            s = conn.execute(text("SELECT id FROM subscribers ORDER BY id LIMIT 1")).scalar()
        t = http("callcentre").post("/tickets", json={"subscriber_id": s, "kind": "move", "priority": "vip"}).json()
        made = dt.datetime.fromisoformat(t["reported_at"])
        assert dt.datetime.fromisoformat(t["contact_due"]) - made == dt.timedelta(minutes=30)
        assert dt.datetime.fromisoformat(t["clear_due"]) - made == dt.timedelta(minutes=120)
        bad = {"contact_minutes": 30, "clear_minutes": 120, "calendar": {"tz": "Asia/Shanghai", "hours": {"0": [["09:00", "25:00"]]}}}
        problem(pl.put("/ticket-policies/move/vip", json=bad), 422, "25:00")
        problem(http("callcentre").put("/ticket-policies/move/vip", json={"contact_minutes": 1, "clear_minutes": 1}),
                403, "planner")
        problem(pl.put("/ticket-policies/party/vip", json={"contact_minutes": 1, "clear_minutes": 1}), 404, "party")
        problem(pl.put("/ticket-policies/move/vip", json={"contact_minutes": 0, "clear_minutes": 1}), 422)
    finally:
        pl.put("/ticket-policies/move/vip", json={"contact_minutes": old["contact_minutes"],
                                                 "clear_minutes": old["clear_minutes"], "calendar": old["calendar"]})


def test_piece_rates_are_read_by_all_and_set_by_planners(http):
    rates = {r["work"]: r["points"] for r in http("analyst").get("/piece-rates").json()}
    assert {"fault", "install", "inspection", "vip"} <= set(rates)
    try:
        assert http("planner").put("/piece-rates/install", json={"points": 3.5}).json()["points"] == 3.5
        assert {r["work"]: r["points"] for r in http("manager").get("/piece-rates").json()}["install"] == 3.5
        problem(http("manager").put("/piece-rates/install", json={"points": 9}), 403, "planner")
        problem(http("planner").put("/piece-rates/lunch", json={"points": 1}), 404, "lunch")
    finally:
        http("planner").put("/piece-rates/install", json={"points": rates["install"]})
