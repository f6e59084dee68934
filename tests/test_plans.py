"""District plans in the store through the `pianqu plan` commands: drafts, atomic activation,
nesting, re-planning with little churn."""
from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from sqlalchemy import text


def q(engine, sql, **p):
    with engine.connect() as conn:
        return conn.execute(text(sql), p).all()


@pytest.fixture(scope="module")
def first_plan(cli, engine, loaded_demo):
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 4, "--tolerance", 0.02)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_created_plan_is_a_draft_with_every_box_in_exactly_one_district(engine, loaded_demo, first_plan):
    plan = first_plan["plan"]
    assert first_plan["status"] == "draft" and first_plan["non_contiguous"] == 0
    assert first_plan["max_deviation"] <= 0.02 and first_plan["n_districts"] == 4
    (status,), = q(engine, "SELECT status FROM district_plans WHERE id = :p", p=plan)
    assert status == "draft"
    boxes = q(engine, "SELECT count(*) FROM boxes WHERE city_id = :c", c=loaded_demo)[0][0]
    members = q(engine, "SELECT box_id, count(*) FROM district_members WHERE plan_id = :p GROUP BY box_id", p=plan)
    assert len(members) == boxes and all(n == 1 for _, n in members)
    (subs,), = q(engine, "SELECT sum(subscribers) FROM districts WHERE plan_id = :p", p=plan)
    assert subs == q(engine, "SELECT count(*) FROM subscribers WHERE city_id = :c", c=loaded_demo)[0][0]
    (ok,), = q(engine, "SELECT bool_and(ST_IsValid(geometry) AND NOT ST_IsEmpty(geometry)) FROM districts WHERE plan_id = :p", p=plan)
    assert ok


def test_activation_replaces_the_active_plan_atomically(cli, engine, loaded_demo, first_plan):
    plan = first_plan["plan"]
    assert cli("plan", "activate", plan).returncode == 0
    second = json.loads(cli("plan", "create", "--city", loaded_demo, "--districts", 5, "--tolerance", 0.03).stdout)
    r = cli("plan", "activate", second["plan"])
    assert r.returncode == 0 and json.loads(r.stdout)["archived"] == [plan]
    active = q(engine, "SELECT id FROM district_plans WHERE city_id = :c AND status = 'active'", c=loaded_demo)
    assert [a for a, in active] == [second["plan"]]
    # A plan that cannot be activated leaves the active one in place.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id, status) VALUES ('empty-plan', :c, 'draft')"),
                     {"c": loaded_demo})
    r = cli("plan", "activate", "empty-plan")
    assert r.returncode == 2 and "has no districts" in r.stderr
    active = q(engine, "SELECT id FROM district_plans WHERE city_id = :c AND status = 'active'", c=loaded_demo)
    assert [a for a, in active] == [second["plan"]]
    r = cli("plan", "activate", "no-such-plan")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = cli("plan", "activate", second["plan"])
    assert r.returncode == 2 and "already active" in r.stderr


def test_districts_nest_in_office_regions(cli, engine, loaded_demo):
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 6, "--parent", "office_regions", "--tolerance", 0.2)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["non_contiguous"] == 0 and len(res["districts_per_parent"]) == 6
    (parents,), = q(engine, "SELECT count(DISTINCT parent_area_id) FROM districts WHERE plan_id = :p", p=res["plan"])
    assert parents == 6


def test_replanning_from_the_previous_plan_moves_few_subscribers(cli, loaded_demo, first_plan):
    r = cli("plan", "create", "--city", loaded_demo, "--previous", first_plan["plan"], "--tolerance", 0.02)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n_districts"] == 4 and res["churn"] < 0.2 and res["non_contiguous"] == 0
    shown = cli("plan", "show", res["plan"])
    assert shown.returncode == 0 and "churn" in shown.stdout
    assert {"D001", "D002", "D003", "D004"} <= set(shown.stdout.split())  # the previous plan's codes


def test_bad_plan_requests_are_refused(cli, loaded_demo):
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 500)
    assert r.returncode == 2 and "500 districts asked of" in r.stderr and "whole box" in r.stderr
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 4, "--parent", "planets")
    assert r.returncode == 2 and "unknown parent layer 'planets'" in r.stderr
    r = cli("plan", "create", "--city", "atlantis", "--districts", 4)
    assert r.returncode == 2 and "not in the store" in r.stderr


def test_a_box_larger_than_a_district_is_split_by_distribution_point_and_no_other(cli, engine, loaded_demo):
    # 20,000 subscribers in 50 districts: 400 each, and a dozen boxes hold more than 440. (With
    # 68 boxes for 50 districts the balance is a packing problem: reported, not hidden.)
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 50, "--tolerance", 0.1)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["n_districts"] == 50 and plan["non_contiguous"] == 0
    assert plan["within_tolerance"] == (plan["max_deviation"] <= 0.1)
    assert plan["within_tolerance"] or "the best reached has a maximum deviation" in plan["relaxation"]
    sizes = dict(q(engine, "SELECT box_id, count(*) FROM subscribers WHERE city_id = :c GROUP BY box_id", c=loaded_demo))
    big = {b for b, n in sizes.items() if n > 440}
    assert big, "the case needs boxes larger than a district"
    members = q(engine, "SELECT box_id, dp_id FROM district_members WHERE plan_id = :p", p=plan["plan"])
    split = {b for b, dp in members if dp is not None}
    assert split == big                                      # exactly the oversized boxes
    whole = [b for b, dp in members if dp is None]
    assert len(whole) == len(set(whole)) == len(sizes) - len(big)   # the others whole, once each
    dps = [dp for _, dp in members if dp is not None]
    assert len(dps) == len(set(dps))                         # each dp in one district
    n_dps = q(engine, "SELECT count(DISTINCT dp_id) FROM subscribers WHERE box_id = ANY(:b)", b=list(big))[0][0]
    assert len(dps) == n_dps


def test_barrier_kinds_can_be_made_to_slow_growth_instead_of_cutting_it(cli, loaded_demo):
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 4, "--slow-barriers", "motorway,rail")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["non_contiguous"] == 0 and plan["within_tolerance"]
    r = cli("plan", "create", "--city", loaded_demo, "--districts", 4, "--slow-barriers", "lava")
    assert r.returncode == 2 and "unknown barrier kind 'lava'" in r.stderr


def test_a_replan_request_is_checked_before_any_work(engine, active_plan, loaded_demo, monkeypatch):
    """A re-plan keeping the previous count still has its other parameters checked at once
    (the service's cheap checks are the estimator's own), before the units are built."""
    from api.services import plans
    from gis.errors import InputError

    def no_units(*a, **k):
        raise AssertionError("the units were built before the parameters were checked")
    monkeypatch.setattr(plans.store_plans, "city_units", no_units)
    progress = []
    with pytest.raises(InputError, match="radius"):
        plans.create_plan(engine, loaded_demo, plans.PlanParams(previous=active_plan, max_radius=-5),
                          progress=progress.append)
    assert progress == []


def test_a_cable_fault_counts_for_the_same_box_in_the_plan_the_kpis_and_the_open_faults(engine, active_plan, loaded_demo):
    """One rule for a ticket's box (gis.tickets.BOX_OF_TICKET): a fault on a feeder cable is the
    box's that cable feeds, in a plan's fault workload, in the KPIs and in a district's open faults."""
    from gis import assignments, plans as store_plans, tickets
    with engine.connect() as conn:
        box, cable, at = conn.execute(text(
            "SELECT b.id, b.feeder_cable_id, (SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c) "
            "FROM boxes b WHERE b.city_id = :c AND b.feeder_cable_id IS NOT NULL ORDER BY b.id LIMIT 1"),
            {"c": loaded_demo}).one()
        district = conn.execute(text("SELECT district_id FROM district_members WHERE plan_id = :p AND box_id = :b "
                                     "LIMIT 1"), {"p": active_plan, "b": box}).scalar()

    def figures():
        with engine.connect() as conn:
            units = store_plans.city_units(conn, loaded_demo)[0]
            faults = units.loc[units["box_id"] == box, "faults"].sum()
            figs = assignments.district_figures(conn, active_plan, district)
            return faults, int(figs["open_faults"].sum())
    before = figures()
    tid = f"T-CABLE-FAULT-{secrets.token_hex(3)}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO fault_tickets (id, city_id, cable_id, cause, severity, reported_at, geometry) "
                          "SELECT :i, :c, :cable, 'cable', 2, :at, geometry FROM boxes WHERE id = :b"),
                     {"i": tid, "c": loaded_demo, "cable": cable, "at": at, "b": box})
    try:
        faults, open_faults = figures()
        assert faults == pytest.approx(before[0] + 1 / 12)
        assert open_faults == before[1] + 1
        with engine.connect() as conn:
            t = tickets.tickets(conn, loaded_demo, at.date(), (at + dt.timedelta(days=1)).date())
        assert t.loc[t["id"] == tid, "box_id"].tolist() == [box]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id = :i"), {"i": tid})
