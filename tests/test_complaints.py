"""Complaint analysis: repeats by the same subscriber in the same category within 30 days, their
share by category, box and district, and recurring problems (hand-made complaints); and the
endpoint through a real server."""
from __future__ import annotations

import pandas as pd

from planning.complaints import analysis
from problems import problem

T = pd.Timestamp("2026-10-10 02:00", tz="UTC")


def _c(i, sub, cat, box, days=0, district="D1"):
    return {"id": f"C{i}", "subscriber_id": sub, "category": cat, "box_id": box, "district_id": district,
            "reported_at": T + pd.Timedelta(days=days)}


def test_repeats_and_recurring_problems_on_hand_made_complaints():
    c = pd.DataFrame([
        _c(0, "S1", "billing", "B1", days=-20),          # in the 30 days before the month: makes C1 a repeat
        _c(1, "S1", "billing", "B1"), _c(2, "S1", "network", "B1", days=1),   # another category: not a repeat
        _c(3, "S2", "network", "B1", days=2), _c(4, "S3", "network", "B1", days=3),
        _c(5, "S4", "billing", "B2", days=4, district="D2"),
        _c(6, "S4", "billing", "B2", days=40, district="D2"),   # next month: not counted
    ])
    r = analysis(c, pd.Period("2026-10", "M"), "Asia/Shanghai")
    assert (r["complaints"], r["repeats"]) == (5, 1) and r["repeat_share"] == 0.2
    cats = {x["category"]: x for x in r["by_category"]}
    assert cats["network"]["complaints"] == 3 and cats["network"]["share_of_all"] == 0.6
    assert cats["billing"]["repeats"] == 1 and cats["billing"]["repeat_share"] == 0.5
    assert {x["district_id"]: x["complaints"] for x in r["by_district"]} == {"D1": 4, "D2": 1}
    top = r["recurring_problems"][0]
    assert (top["box_id"], top["category"], top["complaints"], top["subscribers"]) == ("B1", "network", 3, 3)
    assert all(p["complaints"] >= 2 for p in r["recurring_problems"])


def test_the_analysis_endpoint_counts_the_months_complaints(http, engine, ticket_plan, loaded_demo):
    from sqlalchemy import text
    with engine.connect() as conn:
        subs = conn.execute(text("SELECT id FROM subscribers ORDER BY id LIMIT 2")).scalars().all()
    cc = http("callcentre")
    before = cc.get("/complaints/analysis").json()
    for s in (subs[0], subs[0], subs[1]):
        assert cc.post("/tickets", json={"subscriber_id": s, "kind": "complaint", "category": "network"}).status_code == 201
    after = cc.get("/complaints/analysis").json()
    assert after["complaints"] == before["complaints"] + 3 and after["repeats"] == before["repeats"] + 1
    problem(http("manager").get("/complaints/analysis"), 404)
    problem(cc.get("/complaints/analysis", params={"month": "26-10"}), 422, "month")
