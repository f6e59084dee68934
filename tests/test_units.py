"""Service areas tile the served region; barriers cut neighbourhoods unless a crossing joins them."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings, strategies as st
from scipy.sparse.csgraph import connected_components

from gis.errors import InputError
from gis.units import adjacency, service_areas

UTM = 32649
X0, Y0 = 700_000.0, 3_120_000.0


def clustered(n_units: int, per_unit: int, rng, spread=120.0, span=4000.0, centres=None):
    centres = centres if centres is not None else rng.uniform(0, span, (n_units, 2))
    xy = np.repeat(centres, per_unit, axis=0) + rng.normal(0, spread, (n_units * per_unit, 2))
    label = np.repeat([f"B{i:03d}" for i in range(len(centres))], per_unit)
    return gpd.GeoDataFrame({"box_id": label}, geometry=shapely.points(xy + [X0, Y0]), crs=UTM), centres


def neighbours(adj, areas, a, b):
    ia = int(np.flatnonzero(areas["box_id"] == a)[0])
    ib = int(np.flatnonzero(areas["box_id"] == b)[0])
    return adj[ia, ib] > 0


def test_areas_tile_the_outline_without_gaps_or_overlaps():
    rng = np.random.default_rng(1)
    subs, _ = clustered(12, 80, rng)
    outline = shapely.box(X0 - 1000, Y0 - 1000, X0 + 5000, Y0 + 5000)
    areas = service_areas(subs, outline=outline, crs=UTM)
    assert len(areas) == 12 and areas["box_id"].is_unique
    assert areas.area.sum() == pytest.approx(outline.area, rel=1e-9)
    assert shapely.union_all(areas.geometry.to_numpy()).area == pytest.approx(outline.area, rel=1e-9)
    assert areas["subscribers"].sum() == len(subs) and (areas["subscribers"] == 80).all()


def test_subscribers_lie_in_their_own_boxs_area():
    rng = np.random.default_rng(2)
    subs, _ = clustered(20, 60, rng, spread=200)
    areas = service_areas(subs, crs=UTM).set_index("box_id")
    own = shapely.covers(areas.loc[subs["box_id"]].geometry.to_numpy(), subs.geometry.to_numpy())
    assert own.mean() > 0.97  # the rest share a 10 m grid cell with a neighbour's majority


def test_geographic_input_is_projected_and_the_result_is_metric():
    rng = np.random.default_rng(3)
    subs, _ = clustered(5, 40, rng)
    areas = service_areas(subs.to_crs(4326))
    assert areas.crs.to_epsg() == UTM
    assert areas.area.sum() > 1e6  # square metres, not square degrees


def test_river_separates_banks_and_a_bridge_joins_them():
    rng = np.random.default_rng(4)
    west = np.array([[500.0, 1000], [500, 2000], [500, 3000]])
    east = west + [2000, 0]
    subs, _ = clustered(6, 50, rng, spread=150, centres=np.r_[west, east])
    river = shapely.box(X0 + 1300, Y0 - 2000, X0 + 1700, Y0 + 6000)
    barriers = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[river], crs=UTM)
    outline = shapely.box(X0 - 500, Y0 - 500, X0 + 3500, Y0 + 4500)
    areas = service_areas(subs, outline=outline, barriers=barriers, crs=UTM)
    assert not shapely.intersects(areas.geometry.to_numpy(), river.buffer(-0.01)).any()
    adj, links = adjacency(areas, barriers=barriers)
    assert connected_components(adj, directed=False)[0] == 2
    bridge = gpd.GeoDataFrame({"id": ["bridge-1"]}, geometry=[shapely.Point(X0 + 1500, Y0 + 2000)], crs=UTM)
    adj, links = adjacency(areas, barriers=barriers, crossings=bridge)
    assert connected_components(adj, directed=False)[0] == 1
    assert list(links["crossing"]) == ["bridge-1"]
    assert neighbours(adj, areas, "B001", "B004")  # the two boxes facing each other at the bridge
    assert not neighbours(adj, areas, "B000", "B003")


def test_a_railway_cuts_neighbours_except_at_its_crossing():
    rng = np.random.default_rng(5)
    south = np.array([[500.0, 500], [1500, 500], [2500, 500]])
    north = south + [0, 1000]
    subs, _ = clustered(6, 50, rng, spread=120, centres=np.r_[south, north])
    rail = shapely.LineString([(X0 - 1000, Y0 + 1000), (X0 + 4000, Y0 + 1000)])
    barriers = gpd.GeoDataFrame({"kind": ["rail"]}, geometry=[rail], crs=UTM)
    outline = shapely.box(X0 - 300, Y0 - 300, X0 + 3300, Y0 + 2300)
    areas = service_areas(subs, outline=outline, barriers=barriers, crs=UTM)
    adj, _ = adjacency(areas, barriers=barriers)
    assert not neighbours(adj, areas, "B000", "B003")
    assert neighbours(adj, areas, "B000", "B001")
    crossing = gpd.GeoDataFrame({"id": ["x1"]}, geometry=[shapely.Point(X0 + 1500, Y0 + 1000)], crs=UTM)
    adj, links = adjacency(areas, barriers=barriers, crossings=crossing)
    assert neighbours(adj, areas, "B001", "B004") and not neighbours(adj, areas, "B000", "B003")


def test_an_island_village_is_its_own_component():
    rng = np.random.default_rng(6)
    subs, _ = clustered(4, 50, rng, centres=np.array([[0.0, 0], [600, 0], [0, 600], [600, 600]]))
    village, _ = clustered(1, 30, rng, spread=50, centres=np.array([[5000.0, 5000]]))
    village["box_id"] = "V01"
    both = gpd.GeoDataFrame(gpd.pd.concat([subs, village], ignore_index=True), crs=UTM)
    town = shapely.box(X0 - 400, Y0 - 400, X0 + 1000, Y0 + 1000)
    outline = shapely.union_all([town, shapely.Point(X0 + 5000, Y0 + 5000).buffer(300)])
    areas = service_areas(both, outline=outline, crs=UTM)
    adj, _ = adjacency(areas)
    k, comp = connected_components(adj, directed=False)
    assert k == 2
    assert (comp == comp[areas["box_id"] == "V01"][0]).sum() == 1


def test_bad_input_is_named():
    rng = np.random.default_rng(7)
    subs, _ = clustered(3, 10, rng)
    with pytest.raises(InputError, match="no 'dp_id' column"):
        service_areas(subs, unit="dp_id")
    with pytest.raises(InputError, match="no subscribers"):
        service_areas(subs.iloc[:0])


@settings(max_examples=15, deadline=None)
@given(n_units=st.integers(2, 15), per_unit=st.integers(1, 40), seed=st.integers(0, 10_000),
       spread=st.floats(20, 600))
def test_any_clustered_input_gives_a_tiling(n_units, per_unit, seed, spread):
    rng = np.random.default_rng(seed)
    subs, _ = clustered(n_units, per_unit, rng, spread=spread)
    outline = shapely.box(X0 - 3000, Y0 - 3000, X0 + 7000, Y0 + 7000)
    areas = service_areas(subs, outline=outline, crs=UTM, cell=5.0)
    assert areas.area.sum() == pytest.approx(outline.area, rel=1e-6)
    assert shapely.union_all(areas.geometry.to_numpy()).area == pytest.approx(outline.area, rel=1e-6)
    assert areas["subscribers"].sum() == len(subs)


def test_simplified_areas_still_tile_and_have_shorter_borders():
    rng = np.random.default_rng(8)
    subs, _ = clustered(15, 80, rng, spread=250)
    outline = shapely.box(X0 - 1000, Y0 - 1000, X0 + 5000, Y0 + 5000)
    raw = service_areas(subs, outline=outline, crs=UTM)
    smooth = service_areas(subs, outline=outline, crs=UTM, simplify=40.0)
    assert smooth.area.sum() == pytest.approx(outline.area, rel=1e-9)
    assert shapely.union_all(smooth.geometry.to_numpy()).area == pytest.approx(outline.area, rel=1e-9)
    assert smooth.length.sum() < 0.99 * raw.length.sum()


def test_a_unit_in_the_same_building_as_a_bigger_one_is_absorbed_or_refused():
    # dp "small" has 3 subscribers in the building where dp "big" has 20: no cell of its own.
    rng = np.random.default_rng(0)
    big = rng.normal(0, 2, (20, 2))
    other = rng.normal(0, 30, (40, 2)) + [300, 0]
    xy = np.r_[big, big[:3] + 0.5, other]
    subs = gpd.GeoDataFrame({"unit": ["big"] * 20 + ["small"] * 3 + ["far"] * 40},
                            geometry=shapely.points(xy + [700_000, 3_120_000]), crs=32649)
    with pytest.raises(InputError, match="1 units have no service area.*small"):
        service_areas(subs, unit="unit")
    areas = service_areas(subs, unit="unit", absorb=True).set_index("unit")
    assert sorted(areas.index) == ["big", "far"]
    assert areas.loc["big", "absorbed"] == "small" and areas.loc["far", "absorbed"] == ""
    assert areas.loc["big", "subscribers"] == 23  # its subscribers count where they went
