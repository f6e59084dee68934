"""Opportunity alerts in the store and through the CLI: one alert per site however often it is
evaluated, the life cycle with its audit trail, automatic closing (and reopening) as the cause
goes (and comes back), the file command, and the demo's ground truth through the store."""
from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pytest
from sqlalchemy import text

X0, Y0 = 700_000.0, 3_120_000.0


def pt(dx, dy):
    return f"ST_Transform(ST_SetSRID(ST_MakePoint({X0 + dx}, {Y0 + dy}), 32649), 4326)"


@pytest.fixture
def network(engine, tmp_city):
    """One box at 90 % (10 spare ports) and a report 100 m away wanting 60 lines."""
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO offices (id, city_id, name, geometry) VALUES ('{tmp_city}-O', :c, 'O', {pt(-500, 0)})"),
                     {"c": tmp_city})
        conn.execute(text(f"INSERT INTO boxes (id, city_id, office_id, capacity, used, year_installed, geometry) "
                          f"VALUES ('{tmp_city}-B1', :c, '{tmp_city}-O', 100, 90, 2005, {pt(0, 0)})"), {"c": tmp_city})
        conn.execute(text(f"INSERT INTO construction_reports (id, city_id, kind, stage, households, reported_on, geometry) "
                          f"VALUES ('{tmp_city}-R1', :c, 'residential', 'permitted', 100, '2026-10-01', {pt(100, 0)})"),
                     {"c": tmp_city})
    return tmp_city


def alerts(engine, city):
    with engine.connect() as conn:
        return {r.kind: r for r in conn.execute(text("SELECT * FROM alerts WHERE city_id = :c"), {"c": city})}


def events(engine, aid):
    with engine.connect() as conn:
        return [(r.actor, r.from_status, r.to_status, r.note) for r in conn.execute(
            text("SELECT * FROM alert_events WHERE alert_id = :a ORDER BY id"), {"a": aid})]


def evaluate(cli, city):
    r = cli("alerts", "evaluate", "--city", city, "--as-of", "2026-11-01")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_re_evaluating_updates_alerts_instead_of_duplicating_them(cli, engine, network):
    first = evaluate(cli, network)
    assert first["new"] == 2 and first["by_kind"]["extend_network"] == 1 and first["by_kind"]["expand_box"] == 1
    a = alerts(engine, network)
    assert a["extend_network"].report_id == f"{network}-R1" and a["extend_network"].box_id == f"{network}-B1"
    again = evaluate(cli, network)
    assert again["new"] == 0 and again["updated"] == 2 and again["closed"] == 0
    assert len(alerts(engine, network)) == 2
    assert len(events(engine, a["extend_network"].id)) == 1  # raised once


def test_the_life_cycle_is_recorded_with_who_and_when_and_refuses_wrong_steps(cli, engine, network):
    evaluate(cli, network)
    aid = alerts(engine, network)["extend_network"].id
    assert cli("alerts", "ack", aid, "--by", "alice").returncode == 0
    wrong = cli("alerts", "done", aid, "--by", "alice")
    assert wrong.returncode == 2 and "is acknowledged; it can go to: planned, dismissed" in wrong.stderr
    assert cli("alerts", "plan", aid, "--by", "bob", "--note", "extension in Q1").returncode == 0
    assert cli("alerts", "done", aid, "--by", "carol").returncode == 0
    assert [(e[0], e[1], e[2]) for e in events(engine, aid)] == [
        ("pianqu evaluate", None, "new"), ("alice", "new", "acknowledged"), ("bob", "acknowledged", "planned"),
        ("carol", "planned", "done")]
    row = alerts(engine, network)["extend_network"]
    assert row.status == "done" and row.status_by == "carol" and row.status_at is not None
    # A finished alert stays finished when the evaluation still sees the site.
    evaluate(cli, network)
    assert alerts(engine, network)["extend_network"].status == "done"
    missing = cli("alerts", "ack", "AL-nonexistent", "--by", "alice")
    assert missing.returncode == 2 and "alert 'AL-nonexistent' does not exist" in missing.stderr


def test_a_dismissal_needs_a_reason(cli, engine, network):
    evaluate(cli, network)
    aid = alerts(engine, network)["expand_box"].id
    r = cli("alerts", "dismiss", aid, "--by", "dave")
    assert r.returncode == 2 and "needs a reason" in r.stderr
    assert cli("alerts", "dismiss", aid, "--by", "dave", "--note", "box replaced next month").returncode == 0
    row = alerts(engine, network)["expand_box"]
    assert row.status == "dismissed" and row.status_note == "box replaced next month"


def test_an_alert_whose_cause_is_gone_is_closed_with_the_reason_and_reopened_when_it_returns(cli, engine, network):
    evaluate(cli, network)
    aid = alerts(engine, network)["extend_network"].id
    cli("alerts", "ack", aid, "--by", "alice")
    with engine.begin() as conn:  # the box is expanded: 410 spare ports
        conn.execute(text("UPDATE boxes SET capacity = 500 WHERE city_id = :c"), {"c": network})
    res = evaluate(cli, network)
    assert res["closed"] == 2
    a = alerts(engine, network)
    assert a["extend_network"].status == "closed"
    assert a["extend_network"].status_note == f"box {network}-B1 within 300 m now has room for 60 lines"
    assert a["expand_box"].status_note.startswith("utilisation 18%")
    with engine.begin() as conn:
        conn.execute(text("UPDATE boxes SET capacity = 100 WHERE city_id = :c"), {"c": network})
    assert evaluate(cli, network)["reopened"] == 2
    assert [e[2] for e in events(engine, aid)] == ["new", "acknowledged", "closed", "new"]
    listed = cli("alerts", "list", "--city", network, "--status", "new", "--json")
    assert {r["kind"] for r in json.loads(listed.stdout)["alerts"]} == {"extend_network", "expand_box"}


def test_a_withdrawn_report_closes_its_alert(cli, engine, network):
    evaluate(cli, network)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM construction_reports WHERE city_id = :c"), {"c": network})
    evaluate(cli, network)
    assert alerts(engine, network)["extend_network"].status_note == f"report {network}-R1 is no longer in the store"


def test_list_refuses_unknown_kinds_and_statuses(cli, network):
    r = cli("alerts", "list", "--city", network, "--kind", "bogus")
    assert r.returncode == 2 and "unknown alert kind 'bogus'" in r.stderr
    r = cli("alerts", "list", "--city", network, "--status", "open")
    assert r.returncode == 2 and "unknown status 'open'" in r.stderr


def test_the_file_command_writes_one_row_per_alert_and_prints_counts(cli, small_demo, tmp_path):
    L = small_demo.layers
    b = L["boxes"].rename(columns={"id": "box_id"})[["box_id", "capacity", "used", "geometry"]].to_crs(3857)
    d = L["construction_reports"].rename(columns={"id": "report_id"})[["report_id", "households", "floor_area_m2",
                                                                        "geometry"]]
    b.to_file(tmp_path / "boxes.gpkg")
    d.to_file(tmp_path / "demand.geojson")
    r = cli("opportunities", "--boxes", tmp_path / "boxes.gpkg", "--demand", tmp_path / "demand.geojson",
            "--reach", 300, "--horizon", 1, "--out", tmp_path / "alerts.gpkg")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    got = gpd.read_file(tmp_path / "alerts.gpkg", layer="alerts")
    assert len(got) == summary["alerts"] and summary["by_kind"]["extend_network"] > 0
    assert {"kind", "report_id", "box_id", "distance_m", "expected_lines", "spare_ports", "score"} <= set(got.columns)
    assert got.crs.to_epsg() == 3857
    truth = set(small_demo.truth["opportunities"]["extend_network"])
    ext = set(",".join(got.loc[got["kind"] == "extend_network", "report_ids"]).split(","))
    assert len(ext & truth) / len(truth) >= 0.9 and len(ext & truth) / len(ext) >= 0.9
    bad = d.copy()
    bad.loc[3, "households"] = -1
    bad.to_file(tmp_path / "bad.geojson")
    r = cli("opportunities", "--boxes", tmp_path / "boxes.gpkg", "--demand", tmp_path / "bad.geojson",
            "--out", tmp_path / "bad_out.gpkg")
    assert r.returncode == 2 and "row 4" in r.stderr and "households" in r.stderr
    assert not (tmp_path / "bad_out.gpkg").exists()


def test_the_demo_ground_truth_through_the_store(cli, engine, loaded_demo, small_demo):
    r = cli("alerts", "evaluate", "--city", loaded_demo, "--horizon", 1, "--no-streets", "--as-of", "2026-11-01")
    assert r.returncode == 0, r.stderr
    t = small_demo.truth["opportunities"]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, box_id, details FROM alerts WHERE city_id = :c AND status = 'new'"),
                            {"c": loaded_demo}).all()
    ext = {rid for k, _, det in rows if k == "extend_network" for rid in det["report_ids"]}
    exp = {b for k, b, _ in rows if k == "expand_box"}
    for got, truth in ((ext, set(t["extend_network"])), (exp, set(t["expand_box"]))):
        hit = len(got & truth)
        assert hit / len(got) >= 0.9 and hit / len(truth) >= 0.9, sorted(got ^ truth)
    # Rebuild alerts come from last year's fault hotspots on cable at least 20 years old.
    assert json.loads(r.stdout)["by_kind"]["rebuild"] > 0
    with engine.connect() as conn:
        young = conn.execute(text("SELECT count(*) FROM alerts a JOIN cables c ON c.id = a.cable_id WHERE "
                                  "a.city_id = :c AND a.kind = 'rebuild' AND c.year_laid > extract(year FROM now()) - 20"),
                             {"c": loaded_demo}).scalar()
    assert young == 0


# ---- what a planner reads: history, lists, summaries, option checks ---------------------------

@pytest.fixture
def pianqu(monkeypatch, capsys, engine):
    """`pianqu ...` run in this process against the test database, as `cli` does but without an
    interpreter's start-up (milliseconds, not seconds): pianqu("alerts", "list") -> CompletedProcess.
    Its stdout is not a terminal, as in a pipe."""
    import signal
    from api.cli import alerts as cli_alerts
    from api.cli import main
    monkeypatch.setattr(cli_alerts, "engine", lambda: engine)  # never the default database

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["pianqu", *map(str, args)])
        term = signal.getsignal(signal.SIGTERM)
        try:
            with pytest.raises(SystemExit) as e:
                main()
        finally:
            signal.signal(signal.SIGTERM, term)
        c = capsys.readouterr()
        return subprocess.CompletedProcess(args, e.value.code or 0, c.out, c.err)
    return run


@pytest.fixture
def planned_network(engine, network):
    """The network's box in district D7 of an active plan, owned by manager M-LI."""
    c = network
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO managers (id, city_id, name) VALUES (:m, :c, 'Li')"), {"m": f"{c}-M-LI", "c": c})
        conn.execute(text("INSERT INTO district_plans (id, city_id, status) VALUES (:p, :c, 'active')"),
                     {"p": f"{c}-P", "c": c})
        conn.execute(text("INSERT INTO districts (id, plan_id, code) VALUES (:d, :p, 'D7')"),
                     {"d": f"{c}-D7", "p": f"{c}-P"})
        conn.execute(text("INSERT INTO district_members (id, plan_id, district_id, box_id) VALUES (:i, :p, :d, :b)"),
                     {"i": f"{c}-P/{c}-B1", "p": f"{c}-P", "d": f"{c}-D7", "b": f"{c}-B1"})
        conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from) "
                          "VALUES (:i, :d, :m, now() - interval '1 day')"),
                     {"i": f"{c}-A1", "d": f"{c}-D7", "m": f"{c}-M-LI"})
    return c


def listing(run, city, *args):
    r = run("alerts", "list", "--city", city, "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_history_shows_a_step_without_a_note_as_a_blank(cli, engine, network):
    evaluate(cli, network)
    aid = alerts(engine, network)["extend_network"].id
    assert cli("alerts", "ack", aid, "--by", "alice").returncode == 0  # no --note, as in the README
    assert cli("alerts", "plan", aid, "--by", "bob", "--note", "Q1 [/build] 50% done").returncode == 0
    r = cli("alerts", "history", aid)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "nan" not in r.stdout.lower() and "None" not in r.stdout
    ack = next(line for line in r.stdout.splitlines() if "alice" in line)
    assert "new" in ack and "acknowledged" in ack
    assert "Q1 [/build] 50% done" in r.stdout  # a note is shown as written, not read as markup
    steps = json.loads(cli("alerts", "history", aid, "--json").stdout)
    assert [(s["actor"], s["from_status"], s["to_status"], s["note"]) for s in steps][1] == \
        ("alice", "new", "acknowledged", None)
    assert steps[0]["from_status"] is None and steps[0]["at"].endswith("+00:00")  # the city's zone: UTC


def test_missing_values_are_null_in_json_and_blank_in_the_table(pianqu, engine, network):
    assert pianqu("alerts", "evaluate", "--city", network, "--as-of", "2026-11-01").returncode == 0
    with engine.connect() as conn:  # the box alert has no report: NULL in the store, not the text 'NaN'
        assert conn.execute(text("SELECT count(*) FROM alerts WHERE city_id = :c AND "
                                 "(report_id = 'NaN' OR box_id = 'NaN' OR cable_id = 'NaN')"), {"c": network}).scalar() == 0
    r = pianqu("alerts", "list", "--city", network, "--json")
    assert "NaN" not in r.stdout and "Infinity" not in r.stdout
    box = next(a for a in json.loads(r.stdout)["alerts"] if a["kind"] == "expand_box")
    assert box["report_id"] is None and box["cable_id"] is None and box["faults_per_year"] is None
    table = pianqu("alerts", "list", "--city", network)
    assert table.returncode == 0, table.stderr
    assert not {"nan", "none"} & set(table.stdout.lower().replace("│", " ").split())


def test_list_names_the_district_and_manager_of_the_active_plan(pianqu, planned_network):
    assert listing(pianqu, planned_network)["total"] == 0  # nothing evaluated yet: an empty list, not an error
    assert pianqu("alerts", "evaluate", "--city", planned_network, "--as-of", "2026-11-01").returncode == 0
    got = listing(pianqu, planned_network)["alerts"]
    assert {(a["kind"], a["district"], a["manager_id"]) for a in got} == {
        ("extend_network", "D7", f"{planned_network}-M-LI"), ("expand_box", "D7", f"{planned_network}-M-LI")}
    table = pianqu("alerts", "list", "--city", planned_network).stdout.splitlines()
    header = next(line for line in table if "district" in line)
    assert "manager" in header
    assert sum("D7" in line and f"{planned_network}-M-LI" in line for line in table) == 2


def test_list_says_how_many_it_shows_of_how_many_and_takes_limit_or_all(pianqu, network):
    assert pianqu("alerts", "evaluate", "--city", network, "--as-of", "2026-11-01").returncode == 0
    page = listing(pianqu, network, "--limit", 1)
    assert (page["total"], page["shown"], len(page["alerts"])) == (2, 1, 1)
    assert page["alerts"][0]["score"] >= listing(pianqu, network)["alerts"][1]["score"]  # the best one
    assert listing(pianqu, network, "--all")["shown"] == 2
    table = pianqu("alerts", "list", "--city", network, "--limit", 1).stdout.strip().splitlines()
    assert table[-1] == "1 of 2 alerts (--all or --limit N for more)"
    assert pianqu("alerts", "list", "--city", network, "--all").stdout.strip().splitlines()[-1] == "2 alerts"
    assert pianqu("alerts", "list", "--city", network, "--kind", "rebuild").stdout.strip() == "0 alerts"
    for bad in (0, -3, 10_001):
        r = pianqu("alerts", "list", "--city", network, "--limit", bad)
        assert r.returncode == 2 and f"--limit must be 1 to 10,000 alerts, not {bad}" in r.stderr
    r = pianqu("alerts", "list", "--city", network, "--all", "--limit", 5)
    assert r.returncode == 2 and "--all and --limit" in r.stderr


def test_a_piped_table_keeps_every_row_whole(cli, engine, network):
    evaluate(cli, network)
    lines = cli("alerts", "list", "--city", network).stdout.splitlines()  # a pipe, COLUMNS=200
    assert max(map(len, lines)) > 200  # wider than the pipe's nominal width...
    for reason in (r.reason for r in alerts(engine, network).values()):
        assert any(reason in line for line in lines), reason  # ...and every reason on one line, whole


def test_evaluate_prints_a_summary_on_a_terminal_and_json_when_piped_or_asked(cli, on_a_terminal, network):
    shown = " ".join(on_a_terminal("alerts", "evaluate", "--city", network, "--as-of", "2026-11-01").split())
    assert f"city {network}: 2 alerts (1 extend network, 1 expand box, 0 outside coverage, 0 rebuild)" in shown
    assert "2 new, 0 updated, 0 reopened, 0 closed" in shown and "{" not in shown
    asked = on_a_terminal("alerts", "evaluate", "--city", network, "--as-of", "2026-11-01", "--json")
    assert json.loads(asked)["updated"] == 2
    assert evaluate(cli, network)["updated"] == 2  # piped: JSON


@pytest.mark.parametrize("args, message", [
    (("--reach", 0), "--reach must be more than 0 and at most 20,000 m, not 0.0"),
    (("--reach", "nan"), "--reach must be more than 0 and at most 20,000 m, not nan"),
    (("--reach", 25_000), "--reach must be more than 0 and at most 20,000 m"),
    (("--take-up", 0), "--take-up must be a share in (0, 1], not 0.0"),
    (("--take-up", 1.2), "--take-up must be a share in (0, 1], not 1.2"),
    (("--threshold", 0), "--threshold must be a utilisation in (0, 1]"),
    (("--horizon", 121), "--horizon must be 1 to 120 months, not 121"),
    (("--horizon", 0), "--horizon must be 1 to 120 months, not 0"),
    (("--horizon", -1), "--horizon must be 1 to 120 months"),
    (("--as-of", "2026-02-30"), "--as-of '2026-02-30' is not a day: expected YYYY-MM-DD"),
    (("--as-of", "yesterday"), "--as-of 'yesterday' is not a day"),
])
def test_bad_options_are_refused_before_any_work(pianqu, engine, network, args, message):
    r = pianqu("alerts", "evaluate", "--city", network, *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert alerts(engine, network) == {}  # nothing evaluated, nothing written
    # The file command checks the same options the same way, before it reads a file.
    r = pianqu("opportunities", "--boxes", "missing.gpkg", "--demand", "missing.geojson", "--out", "never.gpkg", *args)
    assert r.returncode == 2 and message in r.stderr


@pytest.fixture
def bad_old_cable(engine, loaded_demo):
    """An old trunk cable of the demo (laid before 2001, the one nearest 600 m long), given a fault
    a day over the last year of tickets, at its middle; the planted tickets are removed afterwards."""
    with engine.begin() as conn:
        cable = conn.execute(text(
            "SELECT id FROM cables WHERE city_id = :c AND kind = 'trunk' AND year_laid <= 2000 "
            "ORDER BY abs(ST_Length(geometry::geography) - 600), id LIMIT 1"), {"c": loaded_demo}).scalar_one()
        conn.execute(text(
            "INSERT INTO fault_tickets (id, city_id, cable_id, cause, reported_at, geometry) "
            "SELECT 'PLANTED-' || g, :c, c.id, 'cable', "
            "       (SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c) - g * interval '1 day', "
            "       ST_LineInterpolatePoint(c.geometry, 0.5) "
            "FROM cables c, generate_series(0, 364) g WHERE c.id = :cable"), {"c": loaded_demo, "cable": cable})
    yield cable
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM fault_tickets WHERE id LIKE 'PLANTED-%'"))


def test_a_planted_bad_old_cable_ranks_among_the_top_alerts(pianqu, loaded_demo, bad_old_cable):
    r = pianqu("alerts", "evaluate", "--city", loaded_demo, "--as-of", "2026-11-01")
    assert r.returncode == 0, r.stderr
    page = listing(pianqu, loaded_demo, "--limit", 5)
    top = [a["cable_id"] for a in page["alerts"]]
    assert bad_old_cable in top, [(a["kind"], a["alert_key"], a["score"]) for a in page["alerts"]]
    a = page["alerts"][top.index(bad_old_cable)]
    assert a["kind"] == "rebuild" and a["faults_per_year"] >= 300 and a["cable_age_years"] >= 26
    assert a["expected_lines"] is None and a["box_id"] is None and a["cable_m"] > 0
    assert a["score"] == pytest.approx(a["value"] - a["cost"]) and a["score"] > 0
    # Every rebuild alert: its own fields, null where they do not apply, never the text "NaN".
    rebuilds = listing(pianqu, loaded_demo, "--kind", "rebuild", "--all")["alerts"]
    assert all(x["report_id"] is None and x["expected_lines"] is None and x["faults_per_year"] >= 12
               for x in rebuilds)
    table = pianqu("alerts", "list", "--city", loaded_demo, "--kind", "rebuild").stdout
    assert not {"nan", "none"} & set(table.lower().replace("│", " ").split())


def test_a_city_is_checked_against_its_own_outline_not_another_citys(pianqu, engine, loaded_demo, network):
    # The demo city has an outline far from the test network; the network's city has none.
    r = pianqu("alerts", "evaluate", "--city", network, "--as-of", "2026-11-01")
    assert r.returncode == 0, r.stderr
    assert set(alerts(engine, network)) == {"extend_network", "expand_box"}


def test_an_evaluation_records_the_actor_it_was_given(engine, network):
    """An evaluation made over the API is the caller's: the alert's status_by and its first
    step name him, not the CLI's default."""
    from api.services.alerts import evaluate_city
    evaluate_city(engine, network, actor="planner-wang", as_of="2026-11-01")
    a = alerts(engine, network)["extend_network"]
    assert a.status_by == "planner-wang"
    assert events(engine, a.id)[0][0] == "planner-wang"
