"""Districts get their managers: the automatic matching, `district assign`, `district list` and the
`assignments` import layer, with the city's own days and one manager per district at a time."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text




@pytest.fixture(scope="module")
def plan(active_plan):
    return active_plan


def _owners(engine, plan):
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT d.code, a.manager_id FROM districts d JOIN district_assignments a ON a.district_id = d.id "
            "WHERE d.plan_id = :p AND a.valid_from <= now() AND (a.valid_to IS NULL OR a.valid_to > now())"),
            {"p": plan}).all())


def test_the_automatic_matching_gives_every_district_its_own_manager(engine, plan):
    owners = _owners(engine, plan)
    assert sorted(owners) == ["D001", "D002", "D003", "D004"]
    assert len(set(owners.values())) == 4


def test_district_list_shows_code_manager_and_figures(cli, plan):
    r = cli("district", "list", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["plan"] == plan
    assert [d["code"] for d in res["districts"]] == ["D001", "D002", "D003", "D004"]
    assert all(d["manager_id"] and d["subscribers"] > 0 and abs(d["deviation"]) <= 0.02 for d in res["districts"])
    assert sum(d["subscribers"] for d in res["districts"]) == 20_000


def test_assign_ends_the_previous_owner_at_local_midnight(cli, engine, plan):
    before = _owners(engine, plan)
    new = before["D002"] if before["D001"] != before["D002"] else before["D003"]
    r = cli("district", "assign", "D001", new, "--from", "2030-01-01", "--by", "alice", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["valid_from"] == "2030-01-01T00:00:00+08:00"      # midnight in Changsha, not in UTC
    assert res["ended"] and res["ended"][0]["manager"] == before["D001"]
    with engine.connect() as conn:
        hist = conn.execute(text(
            "SELECT manager_id, valid_from, valid_to, assigned_by FROM district_assignments "
            "WHERE district_id = :d ORDER BY valid_from"), {"d": f"{plan}-D001"}).all()
    assert [h.manager_id for h in hist][-2:] == [before["D001"], new]
    assert hist[-2].valid_to == hist[-1].valid_from and hist[-1].assigned_by == "alice"
    assert _owners(engine, plan)["D001"] == before["D001"]     # still the owner today


@pytest.mark.parametrize("args, says", [
    (["D999", "SM-MG-001"], "district 'D999' is not in plan"),
    (["D001", "nobody"], "manager 'nobody' is not a manager of city"),
    (["D001", "SM-MG-001", "--from", "2026-02-30"], "--from '2026-02-30' is not a day"),
    (["D001", "SM-MG-001", "--from", "tomorrow"], "expected YYYY-MM-DD"),
    (["D001", "SM-MG-001", "--from", "2031-01-10", "--until", "2031-01-01"], "ends (2031-01-01) before it starts"),
    (["D001", "SM-MG-001", "--plan", "no-such-plan"], "plan 'no-such-plan' is not a plan of city"),
])
def test_bad_assignments_are_refused_with_one_line_and_change_nothing(cli, engine, plan, args, says):
    before = _owners(engine, plan)
    r = cli("district", "assign", *args)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert _owners(engine, plan) == before


def test_an_assignments_file_is_applied_whole_or_not_at_all(cli, engine, plan, tmp_path):
    owners = _owners(engine, plan)
    a, b = owners["D003"], owners["D004"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"district,manager_id,from,until\nD003,{b},2031-03-01,\nD004,{a},2031-03-01,\n"
                   f"D004,nobody,2031-04-01,\n")
    r = cli("import", "assignments", bad)
    assert r.returncode == 2 and "bad.csv row 3" in r.stderr and "nobody" in r.stderr, r.stderr
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM district_assignments a JOIN districts d ON d.id = a.district_id "
                              "WHERE d.plan_id = :p AND a.valid_from >= '2031-01-01'"), {"p": plan}).scalar()
    assert n == 0   # the two good rows were not written either
    good = tmp_path / "swap.csv"
    good.write_text(f"district,manager_id,from\nD003,{b},2031-03-01\nD004,{a},2031-03-01\n")
    r = cli("import", "assignments", good)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["assigned"] == 2
    missing = tmp_path / "nomanager.csv"
    missing.write_text("district\nD001\n")
    r = cli("import", "assignments", missing)
    assert r.returncode == 2 and "missing required column: manager_id" in r.stderr


def test_exports_of_boxes_and_subscribers_carry_district_and_manager(cli, engine, plan, tmp_path):
    import geopandas as gpd
    owners = _owners(engine, plan)
    for layer in ("boxes", "subscribers"):
        path = tmp_path / f"{layer}.parquet"
        r = cli("export", layer, path)
        assert r.returncode == 0, r.stderr
        got = gpd.read_parquet(path)
        assert got["district"].notna().all() and set(got["district"]) == set(owners)
        assert (got["manager"] == got["district"].map(owners)).all()
    subs = gpd.read_parquet(tmp_path / "subscribers.parquet")
    assert subs.groupby("district").size().sum() == 20_000


def test_plan_create_prints_a_summary_on_a_terminal_and_the_report_when_piped(cli, on_a_terminal, loaded_demo):
    shown = " ".join(on_a_terminal("plan", "create", "--districts", "4", "--city", loaded_demo).split())
    assert "(draft) for city demo-small: 4 districts, largest deviation" in shown
    assert "pianqu plan activate" in shown and "{" not in shown
    r = cli("plan", "create", "--districts", "4", "--city", loaded_demo)
    assert r.returncode == 0 and json.loads(r.stdout)["n_districts"] == 4
