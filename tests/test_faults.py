"""Fault heatmaps, hotspots and KPIs on data with known answers."""
from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import kendalltau

from gis.errors import InputError
from planning.faults import density, filter_tickets, rate_surface
from planning.hotspots import _gi_star_z, classify, emerging, gi_star, hex_counts, hex_weights, mann_kendall
from planning.kpi import kpis

CRS = 32649
X0, Y0 = 700_000.0, 3_120_000.0


def points(xy, **cols):
    return gpd.GeoDataFrame(cols, geometry=shapely.points(np.asarray(xy) + [X0, Y0]), crs=CRS)


def test_binned_density_matches_an_exact_gaussian_kde_within_one_percent():
    rng = np.random.default_rng(0)
    xy = np.r_[rng.normal(0, 400, (3000, 2)), rng.normal([1500, 800], 150, (1000, 2))]
    g = density(points(xy), bandwidth=120, cell=10)
    v = g.values
    r, c = np.unravel_index(rng.choice(v.size, 400, p=(v / v.sum()).ravel()), v.shape)
    gx = g.x0 + (c + 0.5) * g.cell - X0
    gy = g.y0 - (r + 0.5) * g.cell - Y0
    d2 = (gx[:, None] - xy[None, :, 0]) ** 2 + (gy[:, None] - xy[None, :, 1]) ** 2
    exact = np.exp(-0.5 * d2 / 120 ** 2).sum(1) / (2 * np.pi * 120 ** 2) * 1e6
    big = exact > 0.01 * exact.max()
    assert np.max(np.abs(v[r, c][big] / exact[big] - 1)) <= 0.01
    assert v.sum() * g.cell ** 2 / 1e6 == pytest.approx(len(xy), rel=0.01)  # faults are conserved


def test_the_rate_surface_removes_a_pure_density_effect():
    rng = np.random.default_rng(1)
    lines = np.r_[rng.normal(0, 300, (20_000, 2)), rng.uniform(-2000, 2000, (5_000, 2))]
    faults = lines[rng.random(len(lines)) < 0.05]          # every line fails alike
    raw = density(points(faults), bandwidth=250, cell=50)
    rate = rate_surface(points(faults), points(lines), bandwidth=250, cell=50, min_lines_per_km2=500)
    v = raw.values[raw.values > 0.05 * raw.values.max()]
    assert v.max() / np.percentile(v, 10) > 5                # the raw map shows where people live
    rv = rate.values[np.isfinite(rate.values)]
    assert np.median(rv) == pytest.approx(5.0, rel=0.1)      # 5 faults per 100 lines everywhere
    assert np.percentile(rv, 95) / np.percentile(rv, 5) < 1.6


def test_contours_and_png_overlay(tmp_path):
    rng = np.random.default_rng(2)
    g = density(points(rng.normal(0, 300, (2000, 2))), bandwidth=150)
    bands = g.contours(5)
    assert len(bands) >= 3 and bands.geometry.is_valid.all() and (bands["upper"] > bands["lower"]).all()
    b = g.to_png(tmp_path / "heat.png")
    assert (tmp_path / "heat.png").stat().st_size > 1000
    (s, w), (n, e) = b
    assert 27 < s < n < 29.5 and 112 < w < e < 114  # lon/lat of UTM 49N near Changsha


def test_bad_heatmap_requests_say_why():
    p = points(np.random.default_rng(3).normal(0, 300, (100, 2)))
    with pytest.raises(InputError, match="bandwidth must be a positive"):
        density(p, bandwidth=0)
    with pytest.raises(InputError, match="absurd"):
        density(p, bandwidth=5e6)
    with pytest.raises(InputError, match="no faults in the window"):
        density(p.iloc[:0], bandwidth=100)
    with pytest.raises(InputError, match="too large"):
        density(p, bandwidth=100, cell=0.05)
    t = pd.DataFrame({"reported_at": pd.to_datetime(["2025-01-05", "2025-02-05"], utc=True),
                      "cause": ["drop", "cable"], "district": ["D001", "D002"]})
    with pytest.raises(InputError, match="the window is empty"):
        filter_tickets(t, start="2025-03-01", end="2025-02-01")
    with pytest.raises(InputError, match="no faults in the window"):
        filter_tickets(t, start="2025-06-01", end="2025-07-01")
    with pytest.raises(InputError, match="unknown district 'D999'"):
        filter_tickets(t, district="D999")
    assert len(filter_tickets(t, cause="drop")) == 1


def test_gi_star_matches_esda_and_finds_a_single_planted_cluster():
    from esda.getisord import G_Local
    from libpysal.weights import WSP
    rng = np.random.default_rng(4)
    bg = rng.uniform(-4000, 4000, (4000, 2))
    cluster = rng.normal([1000, -500], 150, (400, 2))
    cells = hex_counts(points(np.r_[bg, cluster]), resolution=9)
    W = hex_weights(cells["cell"].to_numpy())
    ours = _gi_star_z(W, cells["faults"].to_numpy())[:, 0]
    ref = G_Local(cells["faults"].to_numpy(), WSP(W).to_W(silence_warnings=True), star=True,
                  transform="B", permutations=0)
    np.testing.assert_allclose(ours, ref.Zs, rtol=1e-6, atol=1e-9)
    hot = gi_star(cells, "faults")
    h = hot[hot["hot"]].to_crs(CRS)
    assert len(h) > 0
    assert (h.distance(shapely.Point(X0 + 1000, Y0 - 500)) < 800).all()   # every hot cell is at the cluster


def test_a_uniform_field_has_no_hotspot():
    rng = np.random.default_rng(5)
    cells = hex_counts(points(rng.uniform(-4000, 4000, (20_000, 2))), resolution=9)
    inner = cells[cells["faults"] > 0]  # the ring of empty cells round the edge is cold by design
    assert gi_star(inner, "faults")["hot"].sum() == 0


def test_mann_kendall_agrees_with_kendalls_tau_against_time():
    rng = np.random.default_rng(6)
    y = np.cumsum(rng.normal(0.2, 1, (5, 24)), axis=1)
    z, p = mann_kendall(y)
    for row, pv in zip(y, p):  # the same test, up to Mann-Kendall's continuity correction
        assert pv == pytest.approx(kendalltau(np.arange(24), row, method="asymptotic").pvalue, rel=0.3, abs=2e-3)
    assert (np.sign(z) == np.sign([kendalltau(np.arange(24), r).statistic for r in y])).all()


def test_emerging_classes_follow_esris_definitions():
    T = 24
    hot = np.zeros((5, T), bool)
    cold = np.zeros((5, T), bool)
    hot[0] = True                      # always hot, no trend
    hot[1] = True                      # always hot, rising
    hot[2, :20] = True                 # hot for years, not any more
    hot[3, -1] = True                  # hot only now
    hot[4, -6:] = True                 # hot for the last six months only
    tz = np.array([0.0, 4.0, -1.0, 0.5, 3.0])
    tp = np.array([0.9, 0.0001, 0.3, 0.6, 0.001])
    assert list(classify(hot, cold, tz, tp)) == ["persistent hot spot", "intensifying hot spot",
                                                 "no pattern", "new hot spot", "consecutive hot spot"]
    hot[2, :22] = True                 # 22 of 24 months hot, not the last: historical
    assert classify(hot, cold, tz, tp)[2] == "historical hot spot"
    # Cold spots mirror them: always cold and ever quieter is an intensifying cold spot.
    assert list(classify(cold[:1], hot[:1], np.array([-4.0]), np.array([0.0001]))) == ["intensifying cold spot"]


def test_planted_hotspots_of_the_demo_are_found(small_demo):
    truth = small_demo.truth
    t = small_demo.layers["fault_tickets"]
    subs = small_demo.layers["subscribers"]
    cells = hex_counts(t, resolution=9, lines=subs)
    hot = gi_star(cells, "faults", rate_of="lines")
    h = hot[hot["hot"]].to_crs(truth["metric_crs"])
    planted = gpd.GeoSeries([shapely.Point(*x["centre"]) for x in truth["hotspots"]], crs=4326).to_crs(
        truth["metric_crs"])
    radius = np.array([x["radius_m"] for x in truth["hotspots"]])
    found = [(h.distance(p) <= r + 200).any() for p, r in zip(planted, radius)]
    assert np.mean(found) >= 0.9
    near = np.array([(h.distance(p) <= r + 200).to_numpy() for p, r in zip(planted, radius)]).any(0)
    city_rate = cells["faults"].sum() / cells["lines"].sum()
    high = (h["faults"] / h["lines"].clip(lower=1) > 2 * city_rate).to_numpy()
    assert (near | high).mean() >= 0.9
    e = emerging(t, resolution=9, tz="Asia/Shanghai").to_crs(truth["metric_crs"])

    def classes(pattern):
        x = [h for h in truth["hotspots"] if h["pattern"] == pattern][0]
        c = gpd.GeoSeries([shapely.Point(*x["centre"])], crs=4326).to_crs(truth["metric_crs"]).iat[0]
        return e.loc[e.distance(c) <= x["radius_m"], "pattern"].value_counts()
    assert classes("steady").index[0] == "persistent hot spot"
    assert {"intensifying hot spot", "new hot spot"} & set(classes("worsening").index)
    assert {"diminishing hot spot", "historical hot spot"} & set(classes("fading").index)


def test_kpi_arithmetic_on_hand_made_tickets():
    at = pd.Timestamp("2026-10-05 09:00", tz="Asia/Shanghai")
    h = pd.Timedelta(hours=1)
    t = pd.DataFrame({
        "district": ["A", "A", "A", "B"],
        "subscriber_id": ["s1", "s1", "s2", "s3"],
        "reported_at": [at, at + 240 * h, at, at],
        "first_contact_at": [at + pd.Timedelta(minutes=10), at + 240 * h + pd.Timedelta(minutes=30), pd.NaT,
                             at + pd.Timedelta(minutes=5)],
        "cleared_at": [at + 4 * h, at + 240 * h + 30 * h, pd.NaT, at + 10 * h],
    })
    year_before = t.iloc[[0]].assign(reported_at=at - pd.DateOffset(years=1), first_contact_at=pd.NaT,
                                     cleared_at=at - pd.DateOffset(years=1) + 2 * h)
    k = kpis(pd.concat([t, year_before], ignore_index=True), pd.Series({"A": 200, "B": 100}),
             by="district", month="2026-10").set_index("district")
    a = k.loc["A"]
    assert a["tickets"] == 3 and a["fault_rate"] == pytest.approx(1.5)         # 3 per 100 lines x 200 lines
    assert a["repair_24h"] == pytest.approx(1 / 3)   # 4 h ok; 30 h late; open all month: a miss
    assert a["contact_20min"] == pytest.approx(1 / 3)
    assert a["clear_mean_h"] == pytest.approx(17.0) and a["clear_p90_h"] == pytest.approx(27.4)
    assert a["repeat_share"] == pytest.approx(1 / 3)  # s1 again within 30 days
    assert a["fault_rate_yoy"] == pytest.approx(1.5 / 0.5 - 1)
    assert np.isnan(k.loc["B", "fault_rate_yoy"]) and k.loc["B", "repair_24h"] == 1.0
    with pytest.raises(InputError, match="no tickets in 2027-01"):
        kpis(t, pd.Series({"A": 200, "B": 100}), by="district", month="2027-01")


def test_a_months_lines_are_those_connected_by_its_end():
    at = pd.Timestamp("2026-01-10 09:00", tz="Asia/Shanghai")
    t = pd.DataFrame({"office_id": ["O1", "O1"], "subscriber_id": ["s1", "s2"],
                      "reported_at": [at, at + pd.DateOffset(months=2)], "first_contact_at": pd.NaT,
                      "cleared_at": [at + pd.Timedelta(hours=2), at + pd.DateOffset(months=2) + pd.Timedelta(hours=2)]})
    lines = pd.DataFrame({"office_id": ["O1"] * 4,
                          # an old line, one of unknown age (there all along), one on the last day
                          # of January, one connected in February
                          "connected_since": pd.to_datetime(["2010-05-01", None, "2026-01-31", "2026-02-15"])})
    k = kpis(t, lines, by="office_id", tz="Asia/Shanghai", total=False).set_index("month")
    assert k.loc[pd.Period("2026-01"), "lines"] == 3 and k.loc[pd.Period("2026-03"), "lines"] == 4
    assert k.loc[pd.Period("2026-01"), "fault_rate"] == pytest.approx(100 / 3)


def test_the_city_total_row_counts_every_ticket_over_every_line():
    at = pd.Timestamp("2026-10-05 09:00", tz="Asia/Shanghai")
    t = pd.DataFrame({"district": ["A", "A", "A", "B", None], "subscriber_id": ["s1", "s2", "s3", "s4", "s5"],
                      "reported_at": at, "first_contact_at": at + pd.Timedelta(minutes=5),
                      "cleared_at": [at + pd.Timedelta(hours=h) for h in (2, 30, 2, 2, 2)]})
    lines = pd.DataFrame({"district": ["A"] * 100 + ["B"] * 900 + [None] * 1000})
    k = kpis(t, lines, by="district", month="2026-10", tz="Asia/Shanghai")
    assert k["district"].iat[-1] == "(city)"            # the table ends with the city
    city = k.iloc[-1]
    assert city["tickets"] == 5 and city["lines"] == 2000
    assert city["fault_rate"] == pytest.approx(100 * 5 / 2000)   # not the mean of 3 and 0.11
    assert city["repair_24h"] == pytest.approx(4 / 5)
    rates = kpis(t, pd.Series({"A": 100, "B": 900}), by="district", month="2026-10", tz="Asia/Shanghai")
    assert rates.iloc[-1]["lines"] == 1000 and rates.iloc[-1]["tickets"] == 5


def test_a_month_without_tickets_names_the_months_there_are():
    at = pd.Timestamp("2026-01-10 09:00", tz="Asia/Shanghai")
    t = pd.DataFrame({"district": ["A", "A"], "reported_at": [at, at + pd.DateOffset(months=9)],
                      "first_contact_at": pd.NaT, "cleared_at": pd.NaT})
    with pytest.raises(InputError, match="no tickets in 2031-01: the data covers 2026-01 to 2026-10"):
        kpis(t, pd.Series({"A": 10}), by="district", month="2031-01", tz="Asia/Shanghai")
    with pytest.raises(InputError, match="month '2026-13' is not a month: expected YYYY-MM"):
        kpis(t, pd.Series({"A": 10}), by="district", month="2026-13")


def test_cheap_options_are_refused_before_any_data_is_read():
    from planning.faults import check_options
    from planning.hotspots import check_alpha, check_resolution
    for bad in (0, -5, float("nan")):
        with pytest.raises(InputError, match="bandwidth must be a positive number of metres"):
            check_options(bandwidth=bad)
        with pytest.raises(InputError, match="cell size must be a positive number of metres"):
            check_options(cell=bad)
    for bad in (0, 0.7, -0.1):
        with pytest.raises(InputError, match=r"alpha \(the false discovery rate\) must be in \(0, 0.5\]"):
            check_alpha(bad)
    check_alpha(0.5)
    with pytest.raises(InputError, match="the H3 resolution must be 6 to 11, not 12"):
        check_resolution(12)


def test_fast_h3_cells_are_h3s_own_and_give_the_same_counts_on_the_demo(small_demo):
    import h3
    from planning.hotspots import cell_ids
    t, subs = small_demo.layers["fault_tickets"], small_demo.layers["subscribers"]
    for layer in (t, subs):
        xy = shapely.get_coordinates(layer.geometry.to_crs(4326).to_numpy())
        simple = np.array([h3.latlng_to_cell(lat, lon, 9) for lon, lat in xy], dtype=object)
        assert (cell_ids(layer, 9) == simple).all()
    # Cells handed in (the service computes them once) count as cells computed inside.
    once = hex_counts(t, resolution=9, lines=subs)
    given = hex_counts(t, resolution=9, lines=subs, cells=cell_ids(t, 9), line_cells=cell_ids(subs, 9))
    pd.testing.assert_frame_equal(pd.DataFrame(once.drop(columns="geometry")), pd.DataFrame(given.drop(columns="geometry")))
    assert once["faults"].sum() == len(t) and once["lines"].sum() == len(subs)


def _hand_tickets(n=400, seed=0):
    rng = np.random.default_rng(seed)
    rep = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 400, n), unit="D")
    t = pd.DataFrame({"district": rng.choice(["A", "B", "C"], n),
                      "subscriber_id": rng.choice([f"s{i}" for i in range(60)], n), "reported_at": rep,
                      "first_contact_at": rep + pd.to_timedelta(rng.uniform(0, 60, n), unit="min"),
                      "cleared_at": (rep + pd.to_timedelta(rng.uniform(0, 60, n), unit="h")).where(rng.random(n) > .1)})
    lines = pd.DataFrame({"district": rng.choice(["A", "B", "C", "D"], 900),
                          "connected_since": pd.to_datetime("2025-06-01") + pd.to_timedelta(rng.integers(0, 500, 900), unit="D")})
    return t, lines


def test_lines_counted_per_group_and_month_give_the_kpis_of_one_row_per_line():
    t, lines = _hand_tickets()
    per_line = kpis(t, lines, by="district", month="2027-01", tz="Asia/Shanghai")
    counted = (lines.assign(connected_since=lines["connected_since"].dt.to_period("M").dt.start_time)
               .groupby(["district", "connected_since"]).size().rename("lines").reset_index())
    pd.testing.assert_frame_equal(per_line, kpis(t, counted, by="district", month="2027-01", tz="Asia/Shanghai"),
                                  check_dtype=False)
    assert per_line["lines"].iloc[-1] == len(lines) - (lines["connected_since"] >= "2027-02-01").sum()


def test_every_group_lists_a_district_without_faults_and_a_month_without_tickets():
    t, lines = _hand_tickets()
    some = kpis(t, lines, by="district", month="2027-01", tz="Asia/Shanghai")
    every = kpis(t, lines, by="district", month="2027-01", tz="Asia/Shanghai", every_group=True)
    assert list(every["district"]) == ["A", "B", "C", "D", "(city)"] and "D" not in set(some["district"])
    pd.testing.assert_frame_equal(every[every["district"] != "D"].reset_index(drop=True), some, check_dtype=False)
    d = every.set_index("district").loc["D"]
    assert d["tickets"] == 0 and d["fault_rate"] == 0 and np.isnan(d["repair_24h"]) and d["lines"] > 0
    later = kpis(t, lines, by="district", month="2030-05", tz="Asia/Shanghai", every_group=True)
    assert (later["tickets"] == 0).all() and (later["fault_rate"] == 0).all() and len(later) == 5
    with pytest.raises(InputError, match="no tickets in 2030-05"):
        kpis(t, lines, by="district", month="2030-05", tz="Asia/Shanghai")
