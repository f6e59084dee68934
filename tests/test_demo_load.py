"""The small demo city, loaded through the fast path into the test database, holds together
in PostGIS: the invariants are checked where the data is, with SQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from gis import store
from gis.summary import network_summary


SEED = 7
ROOT = Path(__file__).resolve().parents[1]


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_every_layer_arrives_whole(engine, small_demo, loaded_demo):
    with engine.connect() as conn:
        counts = store.counts(conn, loaded_demo)
        faults = conn.execute(text("SELECT count(*) FROM fault_tickets WHERE city_id = :c AND kind = 'fault'"),
                              {"c": loaded_demo}).scalar()
    # The tickets table also holds the call centre's other work the load adds (gis/demo/work.py).
    assert {**counts, "fault_tickets": faults} == {k: len(v) for k, v in small_demo.layers.items()}
    assert counts["subscribers"] > 15_000 and counts["fault_tickets"] > faults


def test_every_subscriber_hangs_off_a_dp_of_its_box(engine, loaded_demo):
    orphans = scalar(engine, """
        SELECT count(*) FROM subscribers s
        LEFT JOIN distribution_points d ON d.id = s.dp_id AND d.box_id = s.box_id
        WHERE s.city_id = :c AND d.id IS NULL""", c=loaded_demo)
    assert orphans == 0


def test_used_ports_match_the_subscribers_behind_them(engine, loaded_demo):
    bad_boxes = scalar(engine, """
        SELECT count(*) FROM boxes b
        LEFT JOIN (SELECT box_id, count(*) n FROM subscribers WHERE city_id = :c GROUP BY box_id) s ON s.box_id = b.id
        WHERE b.city_id = :c AND b.used <> coalesce(s.n, 0)""", c=loaded_demo)
    bad_dps = scalar(engine, """
        SELECT count(*) FROM distribution_points d
        LEFT JOIN (SELECT dp_id, count(*) n FROM subscribers WHERE city_id = :c GROUP BY dp_id) s ON s.dp_id = d.id
        WHERE d.city_id = :c AND d.used <> coalesce(s.n, 0)""", c=loaded_demo)
    assert bad_boxes == 0 and bad_dps == 0


def test_communities_nest_in_office_regions(engine, loaded_demo):
    regions = scalar(engine, "SELECT count(*) FROM admin_areas WHERE city_id = :c AND level = 'office_region'",
                     c=loaded_demo)
    outside = scalar(engine, """
        SELECT count(*) FROM admin_areas c JOIN admin_areas r ON r.id = c.parent_id
        WHERE c.city_id = :c AND c.level = 'community'
          AND ST_Area(ST_Difference(c.geometry, r.geometry)::geography) > 1.0""", c=loaded_demo)
    assert regions == 6 and outside == 0


def test_no_subscriber_lives_in_the_river(engine, loaded_demo):
    wet = scalar(engine, """
        SELECT count(*) FROM subscribers s JOIN barriers b ON ST_Intersects(s.geometry, b.geometry)
        WHERE s.city_id = :c AND b.kind = 'river'""", c=loaded_demo)
    assert wet == 0


def test_the_river_has_three_bridges(engine, loaded_demo):
    assert scalar(engine, """
        SELECT count(*) FROM crossings x JOIN barriers b ON b.id = x.barrier_id
        WHERE x.city_id = :c AND b.kind = 'river' AND x.kind = 'bridge'""", c=loaded_demo) == 3


def test_summary_reports_the_network(engine, loaded_demo):
    with engine.connect() as conn:
        s = network_summary(conn, loaded_demo)
    assert s["metric_crs"] == 32649
    assert s["counts"]["boxes"] > 0
    rate = float(s["figures"]["faults per 100 lines per month (last 12 months)"])
    assert 0.3 < rate < 5, rate
    contact = float(s["figures"]["contact on time (20-minute clock)"].rstrip(" %"))
    cleared = float(s["figures"]["cleared on time (24-hour clock, VIP 3 h)"].rstrip(" %"))
    assert 70 < contact < 99 and 80 < cleared < 100
    # The same shares as the KPIs' rule gives over every fault (planning.workorders.clocks.verdicts).
    from gis import tickets as store_tickets
    from planning.kpi import ticket_clocks
    from planning.workorders.clocks import verdicts
    with engine.connect() as conn:
        t = store_tickets.tickets(conn, loaded_demo)
    c = ticket_clocks(t)
    for name, stop, shown in (("contact", "first_contact_at", contact), ("clear", "cleared_at", cleared)):
        known, kept = verdicts(t[stop], c[f"{name}_due"], c[f"{name}_breached_at"], pd.Timestamp.now(tz="UTC"))
        assert round(100 * kept.sum() / known.sum(), 1) == shown, name


def test_cli_demo_load_is_idempotent_and_prints_a_summary(db_url, engine, loaded_demo, tmp_path):
    env = {**os.environ, "DATABASE_URL": db_url, "COLUMNS": "160"}
    r = subprocess.run([sys.executable, "-m", "api.cli", "demo-load", "--size", "small", "--seed", str(SEED),
                        "--if-missing"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "already loaded" in r.stderr
    r = subprocess.run([sys.executable, "-m", "api.cli", "demo-load", "--size", "small", "--seed", str(SEED)],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and "--replace" in r.stderr
    r = subprocess.run([sys.executable, "-m", "api.cli", "summary", "--city", loaded_demo],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0 and "subscribers" in r.stdout and "boxes" in r.stdout, r.stderr


def test_export_of_the_demo_round_trips_through_import(engine, loaded_demo, tmp_path):
    from gis.transfer import export_layer, import_file
    path = tmp_path / "boxes.gpkg"
    with engine.connect() as tx:
        res = export_layer(tx, "boxes", path, city=loaded_demo)
    with engine.begin() as tx:
        again = import_file(tx, "boxes", path, city=loaded_demo)
    assert again["updated"] == res["rows"] and again["inserted"] == 0


def test_ground_truth_is_written_with_the_files(small_demo, tmp_path):
    small_demo.write(tmp_path / "demo")
    truth = json.loads((tmp_path / "demo" / "ground_truth.json").read_text())
    assert {p["pattern"] for p in truth["hotspots"]} >= {"steady", "worsening", "fading"}
    assert truth["opportunities"]["extend_network"] and truth["opportunities"]["expand_box"]
