"""The demo's tickets stepped through the work-order loop: every ticket's log, replayed by the
life cycle and its clocks, gives exactly the row the store keeps, and the fault KPIs' times are
the log's."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from api.services import tickets
from planning.workorders import clocks as clk, lifecycle as life

NOW = pd.Timestamp("2026-12-01 12:00", tz="UTC")


@pytest.fixture(scope="module")
def plan_since_the_first_ticket(engine, loaded_demo):
    """An active plan whose managers have held their districts since the first ticket (as the
    demo's do)."""
    from api.services import districts
    from api.services.plans import PlanParams, activate, create_plan
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(reported_at) FROM fault_tickets WHERE city_id = :c"),
                             {"c": loaded_demo}).scalar()
    res = create_plan(engine, loaded_demo, PlanParams(districts=4))
    activate(engine, res["plan"])
    districts.auto_assign(engine, loaded_demo, res["plan"], start=first)
    return res["plan"]


@pytest.fixture(scope="module")
def adopted(engine, loaded_demo, plan_since_the_first_ticket):
    """The small demo's tickets with their history, in a transaction rolled back afterwards."""
    with engine.connect() as conn:
        tx = conn.begin()
        # Another module may have loaded the demo through `pianqu demo-load` (which adopts): start bare.
        conn.execute(text("DELETE FROM ticket_events e USING fault_tickets t WHERE t.id = e.ticket_id "
                          "AND t.city_id = :c"), {"c": loaded_demo})
        conn.execute(text("UPDATE fault_tickets SET steps = 0 WHERE city_id = :c"), {"c": loaded_demo})
        before = pd.read_sql(text("SELECT id, first_contact_at, cleared_at FROM fault_tickets WHERE city_id = :c "
                                  "ORDER BY id"), conn, params={"c": loaded_demo})
        res = tickets.adopt(conn, loaded_demo, now=NOW, actor="test")
        yield conn, res, before
        tx.rollback()


def test_every_demo_ticket_replays_to_the_row_the_store_keeps(adopted, loaded_demo):
    conn, res, before = adopted
    assert res["tickets"] == len(before) > 10_000
    ev = pd.read_sql(text("SELECT e.ticket_id, e.seq, e.at, e.action, e.status, e.manager_id, e.details "
                          "FROM ticket_events e JOIN fault_tickets t ON t.id = e.ticket_id WHERE t.city_id = :c "
                          "ORDER BY e.ticket_id, e.seq"), conn, params={"c": loaded_demo})
    rows = pd.read_sql(text("SELECT id, status, manager_id, district_id, first_responsible, first_contact_at, "
                            "cleared_at, contact_due, clear_due, contact_breached_at, clear_breached_at, escalation, "
                            "steps, policy FROM fault_tickets WHERE city_id = :c ORDER BY id"), conn,
                       params={"c": loaded_demo}).set_index("id")
    assert len(ev) == res["events"]
    n_checked = 0
    for tid, g in ev.groupby("ticket_id", sort=False):
        log = [{**(d or {}), "action": a, "at": at} for a, at, d in zip(g["action"], g["at"], g["details"])]
        state = life.replay(log, tid)                       # every step allowed where it stands
        assert list(g["status"]) == [life.replay(log[:i + 1]).status for i in range(len(log))]
        r = rows.loc[tid]
        c = clk.clocks(log, r["policy"], NOW)
        assert (state.status, state.holder, state.steps) == (r["status"], r["manager_id"], r["steps"]), tid
        for name in ("contact", "clear"):
            assert c[name].due == r[f"{name}_due"], (tid, name)
            kept = r[f"{name}_breached_at"]
            assert pd.isna(kept) if c[name].breached_at is None else c[name].breached_at == kept, (tid, name)
        assert clk.due_escalations(log, r["policy"], NOW) == []        # every crossing is in the log
        level = r["escalation"] if isinstance(r["escalation"], str) else None
        assert (state.escalations[-1][1] if state.escalations else None) == level, tid
        n_checked += 1
    assert n_checked == len(rows)


def test_the_kpis_times_are_the_logs_and_unchanged_by_it(adopted, loaded_demo):
    conn, _, before = adopted
    after = pd.read_sql(text("SELECT id, first_contact_at, cleared_at FROM fault_tickets WHERE city_id = :c "
                             "ORDER BY id"), conn, params={"c": loaded_demo})
    pd.testing.assert_frame_equal(before, after)
    statuses = conn.execute(text("SELECT status, count(*) FROM fault_tickets WHERE city_id = :c GROUP BY 1"),
                            {"c": loaded_demo}).all()
    by = dict(statuses)
    assert by["verified"] > 0 and by["cleared"] > by["verified"] and set(by) <= set(life.STATUSES)
    # Every kind of the call centre's work is there, and went through the loop as the faults did.
    kinds = dict(conn.execute(text("SELECT kind, count(*) FILTER (WHERE steps > 0) FROM fault_tickets "
                                   "WHERE city_id = :c GROUP BY 1"), {"c": loaded_demo}).all())
    assert set(kinds) == set(life.KINDS) and min(kinds.values()) > 100
    done = conn.execute(text("SELECT e.details FROM ticket_events e JOIN fault_tickets t ON t.id = e.ticket_id "
                             "WHERE t.city_id = :c AND t.kind = 'install' AND e.action = 'clear' LIMIT 1"),
                        {"c": loaded_demo}).scalar()
    assert done["work_done"] == "installed"


def test_the_demo_tickets_belong_to_the_managers_who_held_their_districts(adopted, loaded_demo):
    conn, _, _ = adopted
    wrong = conn.execute(text("""
        SELECT count(*) FROM fault_tickets t
        JOIN district_assignments a ON a.district_id = t.district_id AND a.valid_from <= t.reported_at
             AND (a.valid_to IS NULL OR a.valid_to > t.reported_at)
        WHERE t.city_id = :c AND t.manager_id IS DISTINCT FROM a.manager_id"""), {"c": loaded_demo}).scalar()
    held, total = conn.execute(text("SELECT count(manager_id), count(*) FROM fault_tickets WHERE city_id = :c"),
                               {"c": loaded_demo}).one()
    assert wrong == 0 and held == total
