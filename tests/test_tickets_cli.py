"""`pianqu tickets`: the call centre's export imported all rows or none, a ticket shown, the scan."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text


@pytest.fixture(scope="module")
def plan(ticket_plan):
    return ticket_plan


def _subscribers(engine, n):
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM subscribers ORDER BY id LIMIT :n"), {"n": n}).scalars().all()


def _count(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM fault_tickets WHERE id LIKE 'T%'")).scalar()


def test_an_export_becomes_routed_tickets_and_a_bad_row_leaves_nothing(run_cli, engine, plan, tmp_path):
    subs = _subscribers(engine, 3)
    good = tmp_path / "calls.csv"
    good.write_text("subscriber_id,kind,priority,category,note\n"
                    f"{subs[0]},fault,normal,,no dial tone\n{subs[1]},complaint,vip,billing,charged twice\n"
                    f"{subs[2]},enquiry,,,opening hours\n", encoding="utf-8")
    before = _count(engine)
    r = run_cli("tickets", "import", good)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["tickets"] == 3 and res["to_managers"] >= 1 and _count(engine) == before + 3
    shown = run_cli("tickets", "show", res["first"], "--json")
    t = json.loads(shown.stdout)
    assert t["subscriber_id"] == subs[0] and t["history"][0]["action"] == "create"
    assert t["history"][0]["actor"].startswith("cli:")

    bad = tmp_path / "bad.csv"
    bad.write_text(f"subscriber_id,kind\n{subs[0]},fault\nnobody-here,fault\n", encoding="utf-8")
    r = run_cli("tickets", "import", bad)
    assert r.returncode == 2 and "bad.csv row 2" in r.stderr and "subscriber 'nobody-here'" in r.stderr
    assert _count(engine) == before + 3        # the good first row is not kept either
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(f"subscriber,kind\n{subs[0]},fault\n", encoding="utf-8")
    r = run_cli("tickets", "import", wrong)
    assert r.returncode == 2 and "unknown column 'subscriber'" in r.stderr


def test_the_scan_writes_the_breaches_a_late_ticket_has(run_cli, engine, plan, tmp_path):
    subs = _subscribers(engine, 5)
    f = tmp_path / "late.csv"
    f.write_text(f"subscriber_id,reported_at\n{subs[4]},2026-01-05T08:00:00+08:00\n", encoding="utf-8")
    tid = json.loads(run_cli("tickets", "import", f).stdout)["first"]
    r = run_cli("tickets", "scan")
    assert r.returncode == 0, r.stderr
    with engine.connect() as conn:
        actions = conn.execute(text("SELECT action FROM ticket_events WHERE ticket_id = :t ORDER BY seq"),
                               {"t": tid}).scalars().all()
    # Created long ago: both clocks ran out (the create already wrote what it crossed).
    assert actions.count("breach") == 2 and actions.count("escalate") == 4
    assert json.loads(r.stdout)["escalations"] >= 0


def test_past_faults_imported_from_a_file_are_stepped_through_the_loop(run_cli, engine, plan, tmp_path, loaded_demo):
    sub = _subscribers(engine, 1)[0]
    f = tmp_path / "past.csv"
    f.write_text("id,subscriber_id,cause,reported_at,first_contact_at,cleared_at,lon,lat\n"
                 f"PAST-1,{sub},drop,2026-09-01T08:00:00+08:00,2026-09-01T08:05:00+08:00,2026-09-01T11:00:00+08:00,"
                 "112.97,28.2\n", encoding="utf-8")
    try:
        r = run_cli("import", "faults", f, "--city", loaded_demo, "--lon-column", "lon", "--lat-column", "lat")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["history"]["tickets"] >= 1   # and any other ticket still without one
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT action, actor FROM ticket_events WHERE ticket_id = 'PAST-1' ORDER BY seq")).all()
            t = conn.execute(text("SELECT status, steps, manager_id FROM fault_tickets WHERE id = 'PAST-1'")).one()
        assert [a for a, _ in rows][:4] == ["create", "contact", "arrive", "clear"]
        assert rows[0][1] == "import past.csv" and t.status in ("cleared", "verified") and t.steps == len(rows)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id = 'PAST-1'"))
