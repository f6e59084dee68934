"""The demo generator, without a database: same seed same city, every invariant a planner
relies on, and the planted patterns really present in the tickets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import kendalltau

from gis.demo import LAYER_ORDER, DemoCity, generate
from gis.demo.spec import SIZES
from gis.errors import InputError
from gis.layers import LAYERS, VOCABULARIES

UTM = 32649


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate(size="small", seed=7)


def _m(gdf):
    return gdf.to_crs(UTM)


def test_same_seed_same_city_other_seed_other_city(city):
    again = generate(size="small", seed=7)
    for name in LAYER_ORDER:
        pd.testing.assert_frame_equal(pd.DataFrame(city.layers[name]).drop(columns="geometry"),
                                      pd.DataFrame(again.layers[name]).drop(columns="geometry"), obj=name)
        assert shapely.equals_exact(city.layers[name].geometry.to_numpy(),
                                    again.layers[name].geometry.to_numpy(), tolerance=0).all(), name
    assert city.truth == again.truth
    other = generate(size="small", seed=8)
    assert not np.allclose(shapely.get_coordinates(other.layers["boxes"].geometry.to_numpy())[:10],
                           shapely.get_coordinates(city.layers["boxes"].geometry.to_numpy())[:10])


def test_unknown_size_is_refused():
    with pytest.raises(InputError, match="unknown demo size 'huge'"):
        generate(size="huge")


def test_layers_have_the_tables_columns_and_vocabularies(city):
    for name in LAYER_ORDER:
        gdf = city.layers[name]
        assert gdf.crs.to_epsg() == 4326
        lay = LAYERS[name]
        expected = {c for c in lay.kinds} | {"geometry"}
        assert set(gdf.columns) <= expected, (name, set(gdf.columns) - expected)
        assert set(lay.required) <= set(gdf.columns), name
        assert gdf["id"].is_unique and gdf["id"].notna().all(), name
        geoms = gdf.geometry.to_numpy()
        assert shapely.is_valid(geoms).all() and not shapely.is_empty(geoms).any(), name
        assert set(shapely.get_type_id(geoms)) <= {
            {"Point": 0, "LineString": 1, "Polygon": 3, "MultiLineString": 5, "MultiPolygon": 6}[t]
            for t in lay.geometry_types}, name
    for (table, col), allowed in VOCABULARIES.items():
        if table in city.layers:
            assert set(city.layers[table][col].dropna()) <= set(allowed), (table, col)


def test_references_resolve(city):
    L = city.layers
    ids = {name: set(L[name]["id"]) for name in LAYER_ORDER}
    for name in LAYER_ORDER:
        for col, parent in LAYERS[name].parents.items():
            if col in L[name].columns:
                refs = set(L[name][col].dropna())
                assert refs <= ids[parent], (name, col, list(refs - ids[parent])[:3])


def test_every_subscriber_hangs_off_a_dp_of_its_own_box(city):
    subs, dps = city.layers["subscribers"], city.layers["distribution_points"].set_index("id")
    assert (dps.loc[subs["dp_id"], "box_id"].to_numpy() == subs["box_id"].to_numpy()).all()


def test_used_equals_subscribers_and_fits_capacity(city):
    subs = city.layers["subscribers"]
    boxes = city.layers["boxes"].set_index("id")
    dps = city.layers["distribution_points"].set_index("id")
    assert (subs.groupby("box_id").size().reindex(boxes.index, fill_value=0) == boxes["used"]).all()
    assert (subs.groupby("dp_id").size().reindex(dps.index, fill_value=0) == dps["used"]).all()
    assert (dps["used"] <= dps["capacity"]).all()
    assert boxes["capacity"].between(200, 1200).all()
    util = boxes["used"] / boxes["capacity"]
    assert util.between(0.40, 0.98).all(), util.describe()
    assert 200 < boxes["used"].mean() < 400  # "a box serves a few hundred"


def test_size_and_shape_of_the_small_city(city):
    L = city.layers
    assert len(L["subscribers"]) == SIZES["small"].subscribers
    regions = L["admin_areas"][L["admin_areas"]["level"] == "office_region"]
    communities = L["admin_areas"][L["admin_areas"]["level"] == "community"]
    assert len(regions) == 6 and 25 <= len(communities) <= 35
    assert 3 <= len(L["managers"]) <= 5


def test_centre_is_denser_than_outskirts(city):
    xy = shapely.get_coordinates(_m(city.layers["subscribers"]).geometry.to_numpy())
    centre = shapely.get_coordinates(_m(city.layers["cities"]).geometry.centroid.to_numpy())[0]
    r = np.hypot(*(xy - centre).T)
    inner = (r < 1000).sum() / (np.pi * 1000 ** 2)
    outer = ((r > 2500) & (r < 3500)).sum() / (np.pi * (3500 ** 2 - 2500 ** 2))
    assert inner > 5 * outer


def test_communities_tile_the_city_and_nest_in_regions(city):
    areas = _m(city.layers["admin_areas"]).set_index("id")
    outline = _m(city.layers["cities"]).geometry.iat[0]
    comm = areas[areas["level"] == "community"]
    union = shapely.union_all(comm.geometry.to_numpy())
    assert abs(union.area - outline.area) / outline.area < 1e-6
    assert comm.geometry.area.sum() == pytest.approx(outline.area, rel=1e-6)  # no overlaps
    for cid, row in comm.iterrows():
        region = areas.loc[row["parent_id"]]
        assert region["level"] == "office_region"
        assert row.geometry.difference(region.geometry).area < 1.0, cid


def test_river_crosses_the_city_with_three_bridges_and_nobody_in_it(city):
    L = city.layers
    river = _m(L["barriers"][L["barriers"]["kind"] == "river"]).geometry.iat[0]
    outline = _m(L["cities"]).geometry.iat[0]
    banks = shapely.get_parts(outline.difference(river))
    assert sorted(b.area for b in banks)[-2] > 0.3 * outline.area  # it cuts the city in two
    bridges = L["crossings"][L["crossings"]["barrier_id"] == L["barriers"].loc[L["barriers"]["kind"] == "river", "id"].iat[0]]
    assert len(bridges) == 3 and (bridges["kind"] == "bridge").all()
    for layer in ("subscribers", "boxes", "distribution_points"):
        g = _m(L[layer]).geometry.to_numpy()
        assert not shapely.contains_xy(river, *shapely.get_coordinates(g).T).any(), layer
    # Streets cross the river only on the bridges.
    streets = _m(L["streets"]).geometry.to_numpy()
    wet = river.buffer(-1.0)  # street ends meet the bank exactly; a reprojection may nudge them
    crossing = shapely.intersects(streets, wet)
    assert crossing.sum() == 3


def test_no_box_serves_across_the_river(city):
    L = city.layers
    river_axis = _m(L["barriers"][L["barriers"]["kind"] == "river"]).geometry.iat[0]
    subs = _m(L["subscribers"])
    boxes = _m(L["boxes"]).set_index("id")
    seg = shapely.linestrings(np.stack([shapely.get_coordinates(subs.geometry.to_numpy()),
                                        shapely.get_coordinates(boxes.loc[subs["box_id"]].geometry.to_numpy())], 1))
    assert not shapely.intersects(seg, river_axis).any()


def test_trunk_cables_run_from_office_to_box(city):
    L = city.layers
    cables = _m(L["cables"]).set_index("id")
    boxes = _m(L["boxes"])
    offices = _m(L["offices"]).set_index("id")
    trunks = cables.loc[boxes["feeder_cable_id"]]
    assert (trunks["kind"] == "trunk").all()
    ends = shapely.get_point(trunks.geometry.to_numpy(), -1)
    starts = shapely.get_point(trunks.geometry.to_numpy(), 0)
    assert (shapely.distance(ends, boxes.geometry.to_numpy()) < 1).all()
    assert (shapely.distance(starts, offices.loc[boxes["office_id"]].geometry.to_numpy()) < 1).all()
    # Routed along streets: longer than the straight line, as a street route is.
    straight = shapely.distance(starts, ends)
    assert (trunks.geometry.length.to_numpy() >= straight - 1e-6).all()
    assert np.median(trunks.geometry.length.to_numpy() / np.maximum(straight, 1)) > 1.1
    assert (L["cables"]["kind"] == "drop").sum() == len(L["subscribers"])


def _monthly_counts(city, hotspot):
    t = city.layers["fault_tickets"]
    centre = shapely.Point(hotspot["centre"])
    g = _m(t.set_geometry(t.geometry))
    c = _m(type(t)(geometry=[centre], crs=4326)).geometry.iat[0]
    near = g.geometry.distance(c) <= hotspot["radius_m"]
    month = t["reported_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.to_period("M")
    return t[near.to_numpy()].groupby(month[near.to_numpy()]).size().reindex(
        pd.period_range("2024-11", "2026-10", freq="M"), fill_value=0)


def test_planted_hotspots_have_their_patterns(city):
    t = city.layers["fault_tickets"]
    n_subs = len(city.layers["subscribers"])
    city_rate = len(t) / 24 / n_subs
    patterns = {h["pattern"] for h in city.truth["hotspots"]}
    assert patterns == {"steady", "worsening", "fading"}
    for h in city.truth["hotspots"]:
        counts = _monthly_counts(city, h).to_numpy()
        tau, p = kendalltau(np.arange(24), counts)
        rate = counts.sum() / 24 / max(h["subscribers"], 1)
        if h["pattern"] == "steady":
            assert rate > 2.5 * city_rate and abs(tau) < 0.4, (h, tau, rate, city_rate)
        elif h["pattern"] == "worsening":
            assert tau > 0.5 and p < 0.01 and counts[-6:].sum() > 3 * counts[:6].sum(), (h, counts)
        else:
            assert tau < -0.5 and p < 0.01 and counts[:6].sum() > 3 * counts[-6:].sum(), (h, counts)


def test_fault_rate_weekly_rhythm_and_storms(city):
    t = city.layers["fault_tickets"]
    local = t["reported_at"].dt.tz_convert("Asia/Shanghai")
    per_100_month = 100 * len(t) / 24 / len(city.layers["subscribers"])
    assert 1.0 < per_100_month < 3.0
    by_day = local.dt.date.value_counts()
    for storm in city.truth["storm_days"]:
        assert by_day[pd.Timestamp(storm["date"]).date()] > 3 * by_day.median(), storm
    weekday = local.dt.day_of_week.value_counts()
    assert weekday[0] > 1.3 * weekday[6]  # Mondays busier than Sundays


def test_old_aerial_plant_fails_more(city):
    L = city.layers
    subs = L["subscribers"].set_index("id")
    drops = L["cables"].set_index("id").loc[subs["drop_cable_id"]]
    old_aerial = ((drops["placement"] == "aerial") & (drops["year_laid"] < 2008)).to_numpy()
    new_under = ((drops["placement"] == "underground") & (drops["year_laid"] >= 2015)).to_numpy()
    n = L["fault_tickets"]["subscriber_id"].value_counts().reindex(subs.index, fill_value=0).to_numpy()
    assert n[old_aerial].mean() > 1.5 * n[new_under].mean()


def test_response_and_clearing_times_are_realistic(city):
    t = city.layers["fault_tickets"]
    contact = (t["first_contact_at"] - t["reported_at"]).dt.total_seconds() / 60
    cleared = (t["cleared_at"] - t["reported_at"]).dt.total_seconds() / 3600
    assert (contact.dropna() > 0).all() and (cleared.dropna() > 0).all()
    assert 0.8 < (contact.dropna() <= 20).mean() < 0.97
    assert 0.8 < (cleared.dropna() <= 24).mean() < 0.98
    assert t["cleared_at"].isna().sum() > 0  # some are still open at the end of the window
    has_target = t[["subscriber_id", "box_id", "dp_id", "cable_id"]].notna().sum(axis=1)
    assert (has_target >= 1).all() and (t["subscriber_id"].isna().mean() > 0.03)


def test_ground_truth_follows_the_rule(city):
    L, truth = city.layers, city.truth["opportunities"]
    p = truth["parameters"]
    boxes = _m(L["boxes"]).reset_index(drop=True)
    reports = _m(L["construction_reports"]).set_index("id")
    spare = (boxes["capacity"] - boxes["used"]).to_numpy()
    lines = np.where(reports["households"].isna(), reports["floor_area_m2"].fillna(0) * p["lines_per_m2"],
                     reports["households"].fillna(0).astype(float)) * p["take_up"]
    d = shapely.distance(reports.geometry.to_numpy()[:, None], boxes.geometry.to_numpy()[None, :])
    servable = ((d <= p["reach_m"]) & (spare[None, :] >= lines[:, None])).any(axis=1)
    assert set(reports.index[~servable]) == set(truth["extend_network"])
    assert set(reports.index[servable]) == set(truth["covered"])
    over = boxes.loc[boxes["used"] / boxes["capacity"] > p["threshold"], "id"]
    assert set(over) <= set(truth["expand_box"])
    # The planted groups land where intended, with margins: outside is >= 600 m from any box.
    groups = truth["planted_groups"]
    assert set(groups["outside"]) <= set(truth["extend_network"])
    assert set(groups["covered"]) <= set(truth["covered"])
    assert set(groups["short"]) <= set(truth["extend_network"])
    assert (d[reports.index.get_indexer(groups["outside"])].min(axis=1) >= 600).all()


def test_write_and_read_round_trip(city, tmp_path):
    city.write(tmp_path / "demo")
    back = DemoCity.read(tmp_path / "demo")
    assert back.truth == city.truth and back.metric_crs == 32649
    for name in LAYER_ORDER:
        assert len(back.layers[name]) == len(city.layers[name])
        assert list(back.layers[name]["id"]) == list(city.layers[name]["id"])
        assert shapely.equals_exact(back.layers[name].geometry.to_numpy(),
                                    city.layers[name].geometry.to_numpy(), tolerance=1e-9).all()
