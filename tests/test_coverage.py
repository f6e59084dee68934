"""Polygon layers that are valid but not exact coverages: misnoding is snapped away and the layer
partitions as if it were exact; real overlaps and gaps are reported (how many, how large, where)
or repaired on request; no GEOS error reaches anyone."""
from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components

from gis.coverage import CoverageError, check_coverage, repair_coverage, snap_coverage
from gis.units import adjacency
from planning.partition import DistrictPartitioner, partition_units

UTM = 32649
X0, Y0 = 700_000.0, 3_120_000.0


def voronoi_cells(n: int = 300, seed: int = 0, densify: bool = True) -> gpd.GeoDataFrame:
    """Voronoi cells of random sites in a wobbly outline, each cell clipped on its own; with
    `densify`, every other cell gets extra vertices along its borders that its neighbours lack
    (as layers from other tools have), so the borders no longer match vertex for vertex."""
    rng = np.random.default_rng(seed)
    r = 50.0 * np.sqrt(n)
    t = np.linspace(0, 2 * np.pi, 97)[:-1]
    wob = r * (1.0 + 0.08 * np.sin(5 * t))
    outline = shapely.Polygon(np.c_[X0 + wob * np.cos(t), Y0 + wob * np.sin(t)])
    ang, rad = rng.uniform(0, 2 * np.pi, n), r * np.sqrt(rng.uniform(0, 1, n))
    pts = np.c_[X0 + rad * np.cos(ang), Y0 + rad * np.sin(ang)]
    pts = pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=outline, ordered=True))
    cells = shapely.intersection(cells, outline)
    if densify:
        odd = np.arange(len(cells)) % 2 == 1
        cells[odd] = shapely.segmentize(cells[odd], 7.0)
    return gpd.GeoDataFrame({"box_id": [f"B{i:03d}" for i in range(len(cells))],
                             "subscribers": rng.integers(50, 300, len(cells))}, geometry=cells, crs=UTM)


def with_geoms(units: gpd.GeoDataFrame, geoms) -> gpd.GeoDataFrame:
    return units.set_geometry(gpd.GeoSeries(geoms, index=units.index, crs=units.crs))


def central(units: gpd.GeoDataFrame, k: int = 0) -> int:
    """The k-th unit nearest the middle (away from the outline)."""
    c = shapely.centroid(units.geometry.to_numpy())
    return int(np.argsort(np.hypot(shapely.get_x(c) - X0, shapely.get_y(c) - Y0))[k])


def flawed(units: gpd.GeoDataFrame):
    """One unit grown 3 m over its neighbours (overlaps), another shrunk 1 m (a 1 m gap around it)."""
    geoms = units.geometry.to_numpy().copy()
    grow, shrink = central(units, 0), central(units, 20)
    geoms[grow] = geoms[grow].buffer(3.0, join_style="mitre")
    geoms[shrink] = geoms[shrink].buffer(-1.0, join_style="mitre")
    return with_geoms(units, geoms), grow, shrink


def districts_contiguous_in(adj, labels) -> bool:
    for d in np.unique(labels):
        idx = np.flatnonzero(labels == d)
        if connected_components(adj[idx][:, idx], directed=False)[0] != 1:
            return False
    return True


@pytest.fixture(scope="module")
def misnoded():
    units = voronoi_cells()
    geoms = units.geometry.to_numpy()
    assert shapely.is_valid(geoms).all() and not shapely.coverage_is_valid(geoms)  # the case itself
    return units


def test_misnoded_cells_have_the_same_neighbours_as_the_exact_ones(misnoded):
    exact, _ = adjacency(voronoi_cells(densify=False))
    got, _ = adjacency(misnoded)
    assert (got != 0).sum() == (exact != 0).sum()
    assert abs(got - exact).max() < 1e-6


def test_misnoded_but_valid_layer_partitions_into_contiguous_districts(misnoded):
    units, districts, report = partition_units(misnoded, n_districts=6, weight="subscribers", tolerance=0.05)
    assert report["non_contiguous"] == 0 and report["n_districts"] == 6
    cov = report["coverage"]
    assert cov["exact"] is False and cov["misnoded_units"] > 0 and cov["overlaps"] == 0 and cov["gaps"] == 0
    assert cov["repaired"] is False and cov["noded"] is True
    # Contiguous in the true graph (the exact cells'), and each dissolved district is one polygon.
    exact, _ = adjacency(voronoi_cells(densify=False))
    assert districts_contiguous_in(exact, units["district"].map({c: i for i, c in enumerate(sorted(
        units["district"].unique()))}).to_numpy())
    assert (shapely.get_num_geometries(districts.geometry.to_numpy()) == 1).all()
    assert np.isclose(districts.area.sum(), misnoded.area.sum(), rtol=1e-6)
    # The units come back with their own outlines: snapping is only for the work.
    assert shapely.equals_exact(units.geometry.to_numpy(), misnoded.geometry.to_numpy()).all()


def test_the_estimator_alone_dissolves_a_misnoded_layer_without_a_geos_error(misnoded):
    part = DistrictPartitioner(n_districts=4, tolerance=0.1, weight="subscribers", random_state=0).fit(misnoded)
    assert part.report_["non_contiguous"] == 0 and len(part.districts_) == 4
    assert (shapely.get_num_geometries(part.districts_.geometry.to_numpy()) == 1).all()


def test_snap_makes_a_misnoded_layer_an_exact_coverage_moving_nothing_visibly(misnoded):
    snapped = snap_coverage(misnoded)
    geoms = snapped.geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms)
    assert shapely.hausdorff_distance(geoms, misnoded.geometry.to_numpy()).max() <= 0.02
    assert list(snapped["box_id"]) == list(misnoded["box_id"])


def test_check_reports_each_overlap_and_gap_with_its_size_and_place(misnoded):
    units, grow, shrink = flawed(misnoded)
    r = check_coverage(units)
    assert not r.ok and r.overlaps >= 3 and r.gaps == 1
    grown = shapely.area(units.geometry.iat[grow]) - shapely.area(misnoded.geometry.iat[grow])
    assert r.overlap_area_m2 == pytest.approx(grown, rel=1e-3)
    lost = shapely.area(misnoded.geometry.iat[shrink]) - shapely.area(units.geometry.iat[shrink])
    assert r.gap_area_m2 == pytest.approx(lost, rel=1e-3)
    ids = units["box_id"].to_numpy()
    to_utm = Transformer.from_crs(4326, UTM, always_xy=True)
    for f in r.flaws:
        x, y = to_utm.transform(f.lon, f.lat)
        if f.kind == "overlap":
            assert ids[grow] in f.units and len(f.units) == 2
            a, b = (units.geometry[units["box_id"] == u].iat[0] for u in f.units)
            assert shapely.intersection(a, b).buffer(0.01).contains(shapely.Point(x, y))
        else:
            assert ids[shrink] in f.units and len(f.units) >= 3
            assert misnoded.geometry.iat[shrink].contains(shapely.Point(x, y))
            assert not units.geometry.iat[shrink].contains(shapely.Point(x, y))
    assert r.flaws == sorted(r.flaws, key=lambda f: -f.area_m2)
    assert len(r.as_dict()["largest"]) == min(10, len(r.flaws))


def test_partition_refuses_real_flaws_naming_them_and_repairs_them_on_request(misnoded):
    units, grow, shrink = flawed(misnoded)
    with pytest.raises(CoverageError) as ei:
        partition_units(units, n_districts=5, weight="subscribers", source="cells.gpkg")
    msg = str(ei.value)
    assert msg.startswith("cells.gpkg: the units do not tile the area:") and "overlaps" in msg and "1 gap" in msg
    assert "m²" in msg and (units["box_id"].iat[grow] in msg or units["box_id"].iat[shrink] in msg)
    assert len(ei.value.problems) == 1 + len(ei.value.report.flaws)
    out, districts, report = partition_units(units, n_districts=5, weight="subscribers", tolerance=0.05,
                                             repair_coverage=True)
    assert report["coverage"]["repaired"] is True and report["non_contiguous"] == 0
    geoms = out.geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms, gap_width=5.0)  # the units come back repaired
    # Gap filled, overlaps counted once: the districts tile what the cells tiled before the damage.
    assert np.isclose(districts.area.sum(), misnoded.area.sum(), rtol=1e-6)


def test_repair_gives_the_gap_to_a_neighbour_and_the_overlaps_to_one_unit(misnoded):
    units, grow, shrink = flawed(misnoded)
    fixed = repair_coverage(units)
    geoms = fixed.geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms, gap_width=5.0)
    union = shapely.union_all(geoms)
    assert shapely.get_num_interior_rings(union) == 0  # the gap is filled
    assert np.isclose(shapely.area(geoms).sum(), union.area, rtol=1e-9)  # nothing counted twice


def test_a_wide_hole_is_land_nobody_serves_not_a_flaw():
    cells = [shapely.box(X0 + i * 100, Y0 + j * 100, X0 + (i + 1) * 100, Y0 + (j + 1) * 100)
             for i in range(5) for j in range(5) if (i, j) != (2, 2)]
    units = gpd.GeoDataFrame({"box_id": [f"U{i}" for i in range(len(cells))], "subscribers": 100},
                             geometry=cells, crs=UTM)
    r = check_coverage(units)
    assert r.ok and r.exact and r.holes == 1 and r.hole_area_m2 == pytest.approx(10_000)
    _, _, report = partition_units(units, n_districts=2, weight="subscribers", tolerance=0.1)
    assert report["coverage"]["holes"] == 1 and report["non_contiguous"] == 0


def test_cli_lists_the_flaws_and_exits_2_then_repairs_with_the_flag(misnoded, tmp_path):
    units, _, _ = flawed(misnoded)
    src = tmp_path / "cells.gpkg"
    units.to_crs(4326).to_file(src)
    cmd = [sys.executable, "-m", "api.cli", "partition", str(src), "--districts", "5", "--weight", "subscribers",
           "--tolerance", "0.05", "--out", str(tmp_path / "plan.gpkg")]
    r = subprocess.run(cmd, capture_output=True, text=True, env={"COLUMNS": "250", **dict(__import__("os").environ)})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("error: cells.gpkg: the units do not tile the area:")
    assert "--repair-coverage" in lines[0] and "Traceback" not in r.stderr and "GEOS" not in r.stderr
    assert all(ln.startswith("  cells.gpkg: overlap of ") or ln.startswith("  cells.gpkg: gap of ")
               for ln in lines[1:])
    assert len(lines) > 3
    ok = subprocess.run(cmd + ["--repair-coverage"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["coverage"]["repaired"] is True and report["coverage"]["gaps"] == 1
