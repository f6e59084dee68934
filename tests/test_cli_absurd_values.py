"""Every command, given absurd values, ends with exit 2 and one line that says what is wrong:
never a traceback, never a half-done piece of work."""
from __future__ import annotations

import pytest

W = ["--from", "2025-01-01", "--to", "2025-07-01"]   # a good window, for the faults commands

CASES = [
    # demo
    ("demo-data", "--size", "huge"),
    ("demo-data", "--seed", "-1"),
    ("demo-load", "--size", "huge"),
    # import / export / summary
    ("import", "boxes", "no-such-file.gpkg"),
    ("import", "planets", "{tmp}/boxes.csv"),
    ("import", "boxes", "{tmp}/boxes.csv", "--crs", "EPSG:999999"),
    ("import", "boxes", "{tmp}/boxes.csv", "--map", "nonsense"),
    ("import", "boxes", "{tmp}/boxes.csv", "--city", "atlantis"),
    ("export", "planets", "{tmp}/x.gpkg"),
    ("export", "boxes", "{tmp}/x.xyz"),
    ("summary", "--city", "atlantis"),
    # partition (file to file)
    ("partition", "no-such-file.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "0"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3", "--tolerance", "-1"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3", "--tolerance", "5"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--target-size", "-5"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3", "--max-radius", "-1"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3", "--limit", "revenue=abc"),
    ("partition", "{tmp}/units.gpkg", "--out", "{tmp}/o.gpkg", "--districts", "3", "--weight", "load=abc"),
    # plans
    ("plan", "create", "--districts", "-3"),
    ("plan", "create", "--districts", "0"),
    ("plan", "create", "--districts", "100000"),
    ("plan", "create", "--districts", "abc"),
    ("plan", "create", "--districts", "3", "--tolerance", "-1"),
    ("plan", "create", "--districts", "3", "--tolerance", "5"),
    ("plan", "create", "--target-size", "0"),
    ("plan", "create", "--target-size", "5e-324"),   # found by schemathesis: a 500
    ("plan", "create", "--districts", "3", "--max-radius", "-10"),
    ("plan", "create", "--districts", "3", "--parent", "planets"),
    ("plan", "create", "--districts", "3", "--previous", "no-such-plan"),
    ("plan", "create", "--districts", "3", "--limit", "revenue=2"),
    ("plan", "create", "--districts", "3", "--limit", "beauty=0.05"),
    ("plan", "create", "--districts", "3", "--weight", "beauty"),
    ("plan", "create", "--districts", "3", "--weight", "subscribers=-1"),
    ("plan", "create", "--parent-count", "X=3"),
    ("plan", "create", "--parent", "communities", "--parent-count", "atlantis=3"),
    ("plan", "create", "--districts", "3", "--slow-barriers", "lava"),
    ("plan", "activate", "no-such-plan"),
    ("plan", "show", "no-such-plan"),
    ("plan", "list", "--city", "atlantis"),
    # districts
    ("district", "list", "--plan", "no-such-plan"),
    ("district", "assign", "D001", "SM-MG-001", "--until", "someday"),
    # alerts
    ("alerts", "list", "--kind", "miracle"),
    ("alerts", "list", "--status", "asleep"),
    ("alerts", "list", "--limit", "0"),
    ("alerts", "list", "--limit", "-5"),
    ("alerts", "ack", "AL-nothing", "--by", "alice"),
    ("alerts", "history", "AL-nothing"),
    ("alerts", "evaluate", "--reach", "-1"),
    ("alerts", "evaluate", "--take-up", "2"),
    ("alerts", "evaluate", "--threshold", "0"),
    ("alerts", "evaluate", "--horizon", "0"),
    ("alerts", "evaluate", "--as-of", "tomorrow"),
    ("opportunities", "--boxes", "no-such-file.gpkg", "--demand", "no-such.gpkg", "--out", "{tmp}/a.gpkg"),
    # faults and KPIs
    ("faults", "heatmap", "--from", "tomorrow", "--to", "2025-07-01", "--out", "{tmp}/h.png"),
    ("faults", "heatmap", "--from", "2026-02-30", "--to", "2026-07-01", "--out", "{tmp}/h.png"),
    ("faults", "heatmap", "--from", "2025-07-01", "--to", "2025-01-01", "--out", "{tmp}/h.png"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--bandwidth", "0"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--bandwidth", "-5"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--cell", "0"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--cell", "5e-324"),   # found by schemathesis: a 500
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--bandwidth", "1e9"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.txt"),
    ("faults", "heatmap", *W, "--out", "{tmp}/h.png", "--district", "D999"),
    ("faults", "hotspots", *W, "--out", "{tmp}/h.gpkg", "--resolution", "99"),
    ("faults", "hotspots", *W, "--out", "{tmp}/h.gpkg", "--alpha", "2"),
    ("faults", "hotspots", *W, "--out", "{tmp}/h.gpkg", "--on", "stars"),
    ("kpi", "--month", "2026-13"),
    ("kpi", "--month", "2026-1x"),
    ("kpi", "--month", "2031-01"),
    ("kpi", "--by", "planet"),
    ("hotspots", "no-such-file.gpkg", "--out", "{tmp}/h.gpkg"),
    ("hotspots", "{tmp}/units.gpkg", "--out", "{tmp}/h.gpkg", "--cell-size", "-1"),
    ("db", "downgrade", "no-such-revision"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_demo):
    """A good boxes CSV and a good polygon layer, so each case has exactly one absurd value."""
    d = tmp_path_factory.mktemp("absurd")
    b = small_demo.layers["boxes"].head(3)
    b.assign(lon=b.geometry.x, lat=b.geometry.y).drop(columns="geometry").to_csv(d / "boxes.csv", index=False)
    units = small_demo.layers["admin_areas"].query("level == 'community'")[["id", "geometry"]].copy()
    units["load"] = 1.0
    units.to_file(d / "units.gpkg")
    return d


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c)[:60] for c in CASES])
def test_an_absurd_value_is_refused_in_one_line(run_cli, loaded_demo, files, args):
    r = run_cli(*[a.replace("{tmp}", str(files)) for a in args])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr


def test_an_unreachable_store_is_one_line_not_a_traceback():
    import os
    import subprocess
    import sys
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"}
    r = subprocess.run([sys.executable, "-m", "api.cli", "summary"], capture_output=True, text=True, env=env)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "cannot reach the store" in lines[0], r.stderr


def test_a_store_behind_the_code_says_to_upgrade(db_url):
    import os
    import subprocess
    import sys
    from gis import db
    with db.scratch_database("pianqu_behind", db_url) as url:
        db.upgrade(url, "0003")
        env = {**os.environ, "DATABASE_URL": url}
        r = subprocess.run([sys.executable, "-m", "api.cli", "user", "list", "--json"], capture_output=True,
                           text=True, env=env)
    assert r.returncode == 2 and "run `pianqu db upgrade`" in r.stderr and "Traceback" not in r.stderr, r.stderr
