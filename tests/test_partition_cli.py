"""`pianqu partition`: any polygon layer in, units with districts and dissolved districts out."""
from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from test_partition import UTM, X0, Y0, lattice


def run(*args):
    return subprocess.run([sys.executable, "-m", "api.cli", "partition", *map(str, args)],
                          capture_output=True, text=True)


def test_geopackage_in_lon_lat_gets_both_layers_and_json_metrics(tmp_path):
    units = lattice(10, 10, np.random.default_rng(0)).to_crs(4326)
    units["name"] = [f"格{i}" for i in range(len(units))]
    src = tmp_path / "units.gpkg"
    units.to_file(src)
    out = tmp_path / "plan.gpkg"
    r = run(src, "--weight", "subscribers", "--districts", 4, "--tolerance", 0.05, "--out", out)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n_districts"] == 4 and report["non_contiguous"] == 0 and report["max_deviation"] <= 0.05
    layers = [name for name, _ in pyogrio.list_layers(out)]
    assert layers == ["units", "districts"]
    got = gpd.read_file(out, layer="units")
    assert list(got["box_id"]) == list(units["box_id"]) and list(got["name"]) == list(units["name"])
    assert got.crs.to_epsg() == 4326 and got["district"].nunique() == 4
    d = gpd.read_file(out, layer="districts")
    assert sorted(d["district"]) == sorted(got["district"].unique())
    assert d["subscribers"].sum() == units["subscribers"].sum()
    assert {"workload", "deviation", "polsby_popper", "units"} <= set(d.columns)


def test_single_layer_formats_write_a_sibling_and_barriers_cut(tmp_path):
    units = lattice(8, 8, np.random.default_rng(1))
    src = tmp_path / "units.shp"
    units.to_file(src)
    rail = shapely.LineString([(X0 - 100, Y0 + 400), (X0 + 900, Y0 + 400)])
    barriers = gpd.GeoDataFrame({"id": ["rail", "xing"]},
                                geometry=[rail, shapely.Point(X0 + 450, Y0 + 400)], crs=UTM)
    bfile = tmp_path / "barriers.geojson"
    barriers.to_file(bfile)
    out = tmp_path / "plan.shp"
    # dBase truncated the column name to 10 characters.
    r = run(src, "--weight", "subscriber=1", "--districts", 4, "--tolerance", 0.1, "--barriers", bfile, "--out", out)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plan_districts.shp").exists()
    got = gpd.read_file(out)
    north = shapely.get_coordinates(got.geometry.centroid.to_numpy())[:, 1] > Y0 + 400
    # A district may cross the railway only where the crossing is: at most through the cells beside it.
    for code in got["district"].unique():
        mine = got["district"] == code
        if north[mine].any() and (~north[mine]).any():
            xs = shapely.get_coordinates(got[mine & north].geometry.centroid.to_numpy())[:, 0]
            assert np.any(np.abs(xs - (X0 + 450)) < 150)


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    pts = gpd.GeoDataFrame({"subscribers": [1, 2]}, geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + 1, Y0)], crs=UTM)
    src = tmp_path / "points.gpkg"
    pts.to_file(src)
    r = run(src, "--weight", "subscribers", "--districts", 2, "--out", tmp_path / "x.gpkg")
    assert r.returncode == 2 and "points.gpkg row 1: geometry is not a polygon" in r.stderr
    units = lattice(3, 3, np.random.default_rng(2))
    src = tmp_path / "units.gpkg"
    units.to_file(src)
    r = run(src, "--weight", "households", "--districts", 2, "--out", tmp_path / "x.gpkg")
    assert r.returncode == 2 and "no workload column 'households'" in r.stderr
    r = run(src, "--weight", "subscribers", "--districts", 20, "--out", tmp_path / "x.gpkg")
    assert r.returncode == 2 and "20 districts asked of 9 units" in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_limit_holds_a_second_column_and_slow_barriers_come_from_the_file(tmp_path):
    units = lattice(20, 20, np.random.default_rng(3))
    units["revenue"] = units["subscribers"] * 60 * np.random.default_rng(4).uniform(0.6, 1.4, len(units))
    src = tmp_path / "units.gpkg"
    units.to_file(src)
    road = gpd.GeoDataFrame({"effect": ["slow"]}, geometry=[shapely.LineString([(X0 - 10, Y0 + 1000),
                                                                               (X0 + 2010, Y0 + 1000)])], crs=UTM)
    road.to_file(tmp_path / "road.gpkg")
    out = tmp_path / "plan.gpkg"
    r = run(src, "--districts", 10, "--limit", "revenue=0.03", "--barriers", tmp_path / "road.gpkg",
            "--max-radius", 5000, "--out", out)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["limits"]["revenue"]["within_limits"] and report["max_deviation"] <= 0.02
    assert report["islands_joined"] == []  # slowed, not cut: nothing to join
    assert report["radius"]["max_radius_m"] == 5000 and report["radius"]["units_over"] == 0
    got = gpd.read_file(out, layer="units")
    rev = got.groupby("district")["revenue"].sum()
    assert np.max(np.abs(rev / rev.mean() - 1)) <= 0.03 + 1e-9
    bad = run(src, "--districts", 10, "--limit", "revenue=lots", "--out", tmp_path / "x.gpkg")
    assert bad.returncode == 2 and "--limit 'revenue=lots'" in bad.stderr


def test_parent_counts_are_set_from_the_command_line(tmp_path):
    units = lattice(12, 12, np.random.default_rng(9))
    x = shapely.get_coordinates(units.geometry.centroid.to_numpy())[:, 0]
    units["region"] = np.where(x < X0 + 400, "west", "east")
    src = tmp_path / "units.gpkg"
    units.to_file(src)
    r = run(src, "--parent", "region", "--parent-count", "west=3", "--parent-count", "east=3", "--tolerance", 0.05,
            "--out", tmp_path / "p.gpkg")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["districts_per_parent"] == {"west": 3, "east": 3}
    bad = run(src, "--parent", "region", "--parent-count", "west", "--out", tmp_path / "q.gpkg")
    assert bad.returncode == 2 and "expected PARENT=NUMBER" in bad.stderr
