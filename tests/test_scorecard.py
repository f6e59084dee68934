"""Scorecard arithmetic on hand-made tickets (planning.scorecard), and the scorecard through a
real server after tickets went through the loop."""
from __future__ import annotations

import pandas as pd
import pytest

from planning.scorecard import scorecard
from problems import problem

T = pd.Timestamp("2026-10-05 09:00", tz="UTC")
UNTIL = pd.Timestamp("2026-11-01", tz="UTC")
RATES = {"fault": 1.0, "install": 2.0, "complaint": 1.0, "inspection": 0.25, "vip": 0.5}


def _t(i, manager, kind="fault", vip=False, status="cleared", sub=None, late_contact=False, late_clear=False,
       satisfaction=None, checks=None, at=T):
    return {"id": f"T{i}", "kind": kind, "vip": vip, "status": status, "manager_id": manager, "community_id": "C1",
            "office_id": "R1", "subscriber_id": sub, "reported_at": at, "steps": 3,
            "first_contact_at": at if status != "new" else pd.NaT, "cleared_at": at if status != "new" else pd.NaT,
            "contact_due": at + pd.Timedelta(minutes=20), "clear_due": at + pd.Timedelta(hours=3 if vip else 24),
            "contact_breached_at": at if late_contact else pd.NaT, "clear_breached_at": at if late_clear else pd.NaT,
            "satisfaction": satisfaction, "checks": checks}


def test_a_month_of_hand_made_tickets_adds_up():
    tickets = pd.DataFrame([
        _t(1, "A", sub="S1"), _t(2, "A", sub="S1", at=T + pd.Timedelta(days=3), late_contact=True),   # a repeat
        _t(3, "A", kind="install", vip=True, late_clear=True, satisfaction=4.0,
           checks={"badge": True, "shoe_covers": False}),
        _t(4, "A", status="new", sub="S9"),          # still open when both clocks ran out (not yet stamped): misses
        _t(5, "B", sub="S2", satisfaction=2.0, checks={"badge": False}),
        _t(6, "A", kind="complaint", status="new", at=UNTIL - pd.Timedelta(minutes=5)),   # open, within its time: not judged yet
    ])
    earlier = pd.DataFrame([{"id": "E1", "kind": "fault", "subscriber_id": "S2", "reported_at": T - pd.Timedelta(days=10)}])
    insp = pd.DataFrame({"manager_id": ["A", "A", "B"], "community_id": "C1", "office_id": "R1", "result": "ok"})
    due = pd.Series({"A": 10, "B": 4})
    subs = pd.DataFrame({"manager_id": ["A", "B", "B"], "community_id": "C1", "office_id": "R1",
                         "monthly_revenue": [100.0, 50.0, 25.5]})
    c = scorecard(tickets, earlier, insp, due, subs, RATES, until=UNTIL).set_index("manager_id")
    a, b = c.loc["A"], c.loc["B"]
    assert (a["tickets"], a["tickets_fault"], a["tickets_install"]) == (5, 3, 1)
    assert a["contact_on_time"] == pytest.approx(2 / 4)          # one contacted late, one never
    assert a["clear_on_time"] == pytest.approx(2 / 4)            # the install late, one never cleared
    assert a["repeat_share"] == pytest.approx(1 / 3)             # S1's second fault within 30 days
    assert b["repeat_share"] == 1.0                              # S2 had a fault 10 days before the month
    assert (a["callbacks"], a["satisfaction"], a["check_badge"], a["check_shoe_covers"]) == (1, 4.0, 1.0, 0.0)
    assert a["installs_done"] == 1 and (a["inspections_done"], a["inspections_due"]) == (2, 10)
    assert a["new_revenue"] == 100.0 and b["new_revenue"] == 75.5 and b["new_subscribers"] == 2
    # 2 faults + 1 install (2.0) with the VIP bonus (0.5), + 2 inspections at 0.25
    assert a["points"] == pytest.approx(1 + 1 + 2 + 0.5 + 0.5)
    assert b["points"] == pytest.approx(1 + 0.25)
    office = scorecard(tickets, earlier, insp, pd.Series({"R1": 14}), subs, RATES, by="office_id", until=UNTIL)
    assert office["tickets"].iat[0] == 6 and office["points"].iat[0] == pytest.approx(a["points"] + b["points"])


def test_the_managers_scorecard_counts_his_loop(http, engine, active_plan):
    from sqlalchemy import text
    with engine.connect() as conn:
        subs = conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            "AND a.valid_to IS NULL AND a.manager_id = 'SM-MG-001' ORDER BY s.id LIMIT 3"), {"p": active_plan}
        ).scalars().all()
    before = http("manager").get("/managers/SM-MG-001/scorecard").json()
    cc, mgr = http("callcentre"), http("manager")
    try:
        for s in subs:
            tid = cc.post("/tickets", json={"subscriber_id": s}).json()["id"]
            mgr.post(f"/tickets/{tid}/contact", json={})
            mgr.post(f"/tickets/{tid}/clear", json={"cause_found": "drop", "work_done": "fixed"})
        after = http("manager").get("/managers/SM-MG-001/scorecard").json()
        assert after["tickets"] == before.get("tickets", 0) + 3
        assert after["points"] >= before.get("points", 0) + 3
        assert after["month"] == before["month"] and after["contact_on_time"] > 0
        table = http("planner").get("/scorecards", params={"by": "community"}).json()
        assert table["by"] == "community" and sum(r["tickets"] for r in table["rows"]) >= 3
        problem(http("manager").get("/scorecards"), 404, "his own")
        problem(http("planner").get("/managers/SM-MG-001/scorecard", params={"month": "2026-13"}), 422, "month")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id LIKE 'T%' AND city_id = 'demo-small'"))


def test_pianqu_scorecard_prints_the_same_table(run_cli, loaded_demo):
    import json
    r = run_cli("scorecard", "--by", "office", "--month", "2026-10", "--city", loaded_demo, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["by"] == "office" and res["month"] == "2026-10" and all("points" in row for row in res["rows"])
    bad = run_cli("scorecard", "--by", "street")
    assert bad.returncode == 2 and "scorecards are by manager, community, office" in bad.stderr
