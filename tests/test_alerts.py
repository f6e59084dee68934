"""Opportunity alerts in the store and through the CLI: one alert per site however often it is
evaluated, the life cycle with its audit trail, automatic closing (and reopening) as the cause
goes (and comes back), the file command, and the demo's ground truth through the store."""
from __future__ import annotations

import json

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
    assert {r["kind"] for r in json.loads(listed.stdout)} == {"extend_network", "expand_box"}


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
            "--reach", 300, "--horizon", 0, "--out", tmp_path / "alerts.gpkg")
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
    r = cli("alerts", "evaluate", "--city", loaded_demo, "--horizon", 0, "--no-streets")
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
