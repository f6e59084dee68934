"""Opportunity alerts on hand-made networks where the right answer is known, and against the
demo generator's ground truth."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.errors import InputError
from planning.opportunities import Economics, evaluate

CRS = 32649
X0, Y0 = 700_000.0, 3_120_000.0


def boxes(*rows):
    """rows: (box_id, dx, dy, capacity, used)"""
    return gpd.GeoDataFrame({"box_id": [r[0] for r in rows], "capacity": [r[3] for r in rows],
                             "used": [r[4] for r in rows]},
                            geometry=[shapely.Point(X0 + r[1], Y0 + r[2]) for r in rows], crs=CRS)


def reports(*rows):
    """rows: (report_id, dx, dy, households)"""
    return gpd.GeoDataFrame({"report_id": [r[0] for r in rows], "households": [r[3] for r in rows]},
                            geometry=[shapely.Point(X0 + r[1], Y0 + r[2]) for r in rows], crs=CRS)


def kinds(scan, kind, col="report_id"):
    """The alerts of one kind, by the column that names their site."""
    a = scan.alerts
    return sorted(a.loc[a["kind"] == kind, col])


def test_a_report_250_m_from_a_roomy_box_is_covered_and_one_350_m_away_needs_the_network_extended():
    b = boxes(("B1", 0, 0, 500, 100))
    scan = evaluate(b, reports(("near", 250, 0, 100), ("far", 0, 350, 100)))
    assert kinds(scan, "extend_network") == ["far"]
    alert = scan.alerts.set_index("report_id").loc["far"]
    assert alert["box_id"] == "B1" and alert["spare_ports"] == 400
    assert alert["distance_m"] == pytest.approx(350, abs=0.01)
    assert alert["expected_lines"] == pytest.approx(60)  # 100 households x 0.6
    e = Economics()
    cost = e.extension_fixed + e.cable_cost_per_m * 350
    assert alert["cost"] == pytest.approx(cost)
    assert alert["score"] == pytest.approx(60 * e.revenue_per_line * e.horizon_months - cost)
    assert alert["payback_months"] == pytest.approx(cost / (60 * e.revenue_per_line))


def test_a_box_in_reach_without_enough_spare_ports_does_not_cover_a_report():
    b = boxes(("B1", 0, 0, 100, 90))
    scan = evaluate(b, reports(("r", 100, 0, 50)))  # 30 lines wanted, 10 spare
    assert kinds(scan, "extend_network") == ["r"]
    # ...and the box it would be extended from is forecast over the threshold by that demand.
    assert kinds(scan, "expand_box", "box_id") == ["B1"]


def test_a_box_at_86_percent_needs_expanding_and_one_at_84_does_not():
    b = boxes(("B84", 0, 0, 100, 84), ("B86", 5_000, 0, 100, 86))
    scan = evaluate(b, reports(("r", 20_000, 0, 1)), horizon_months=0)
    assert kinds(scan, "expand_box", "box_id") == ["B86"]
    expand = scan.alerts[scan.alerts["kind"] == "expand_box"].set_index("box_id")
    assert "86%" in expand.loc["B86", "reason"]


def test_the_connection_trend_forecasts_a_box_over_the_threshold():
    b = boxes(("B", 0, 0, 100, 80))
    subs = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(12)], "box_id": "B",
                             "connected_since": gpd.pd.date_range("2026-01-15", periods=12, freq="20D")},
                            geometry=[shapely.Point(X0 + 10, Y0)] * 12, crs=CRS)
    far = reports(("r", 20_000, 0, 1))
    assert kinds(evaluate(b, far, subscribers=subs, horizon_months=0, as_of="2026-11-01"), "expand_box", "box_id") == []
    # 12 connections in a year = 1 a month: 80 + 6 = 86 % in six months.
    scan = evaluate(b, far, subscribers=subs, horizon_months=6, as_of="2026-11-01")
    assert kinds(scan, "expand_box", "box_id") == ["B"]
    assert scan.boxes.set_index("box_id").loc["B", "forecast_utilisation"] == pytest.approx(0.86)


def test_the_same_site_reported_twice_is_one_alert():
    b = boxes(("B1", 0, 0, 100, 100))
    scan = evaluate(b, reports(("R2", 100, 10, 80), ("R1", 100, 0, 100), ("R3", 2_000, 0, 50)))
    ext = scan.alerts[scan.alerts["kind"] == "extend_network"].set_index("alert_key")
    assert sorted(ext.index) == ["R1", "R3"]
    assert ext.loc["R1", "report_ids"] == ["R1", "R2"]
    assert ext.loc["R1", "expected_lines"] == pytest.approx(60)  # the larger report, not the sum


def test_reach_is_measured_along_the_streets_when_they_are_given():
    # The box and the report are 250 m apart across a block; the street goes round: 450 m.
    b = boxes(("B1", 0, 0, 500, 0))
    r = reports(("r", 250, 0, 50))
    streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0), (X0, Y0 + 100), (X0 + 250, Y0 + 100),
                                                             (X0 + 250, Y0)])], crs=CRS)
    assert kinds(evaluate(b, r), "extend_network") == []
    scan = evaluate(b, r, streets=streets)
    assert kinds(scan, "extend_network") == ["r"]
    assert scan.alerts["distance_m"].iat[0] == pytest.approx(450)  # the cable follows the street
    assert scan.parameters["distance"] == "street network"
    # A shorter street through the block brings it back within reach.
    streets2 = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0), (X0 + 250, Y0)])], crs=CRS)
    assert kinds(evaluate(b, r, streets=streets2), "extend_network") == []


def test_demand_beyond_every_box_is_grouped_into_one_outside_coverage_area():
    b = boxes(("B1", 0, 0, 500, 0))
    r = reports(("A1", 3_000, 0, 100), ("A2", 3_200, 0, 100), ("A3", 3_100, 200, 100), ("Z", 9_000, 0, 100))
    scan = evaluate(b, r)
    areas = scan.alerts[scan.alerts["kind"] == "outside_coverage"]
    assert sorted(map(tuple, areas["report_ids"])) == [("A1", "A2", "A3")]  # Z alone: its own extension
    big = areas[areas["report_ids"].map(len) == 3].iloc[0]
    assert big["expected_lines"] == pytest.approx(180)
    assert big["box_id"] == "B1"


def test_alerts_are_ranked_by_value_best_first():
    b = boxes(("B1", 0, 0, 10, 10))
    scan = evaluate(b, reports(("small", 500, 0, 40), ("big", 0, 500, 400)))
    assert list(scan.alerts["report_id"].dropna())[:2] == ["big", "small"]
    assert scan.alerts["score"].is_monotonic_decreasing


def test_old_cable_through_a_fault_hotspot_is_to_be_rebuilt():
    b = boxes(("B1", 0, 0, 10, 0))
    cables = gpd.GeoDataFrame({"id": ["old", "new"], "year_laid": [1995, 2020]},
                              geometry=[shapely.LineString([(X0, Y0), (X0 + 1_000, Y0)]),
                                        shapely.LineString([(X0, Y0 + 50), (X0 + 1_000, Y0 + 50)])], crs=CRS)
    hot = gpd.GeoDataFrame({"faults": [30]}, geometry=[shapely.Point(X0 + 500, Y0).buffer(100)], crs=CRS)
    scan = evaluate(b, reports(("r", 10, 0, 1)), cables=cables, hotspots=hot, as_of="2026-11-01")
    assert kinds(scan, "rebuild", "cable_id") == ["old"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.set_geometry([None, r.geometry.iat[1]]), "row 1 (id a): no geometry"),
    (lambda r: r.assign(households=[-5, 10]), "row 1 (id a): households must be a number >= 0"),
    (lambda r: r.drop(columns="households"), "no households column"),
    (lambda r: r.assign(box_id=["B1", "B9"]), "row 2 (id b): unknown box 'B9'"),
    (lambda r: r.set_crs(None, allow_override=True), "no coordinate reference system"),
])
def test_bad_demand_is_refused_with_the_record_and_the_problem(change, message):
    r = change(reports(("a", 10, 0, 10), ("b", 20, 0, 10)))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(boxes(("B1", 0, 0, 10, 0)), r)


def test_demand_outside_the_city_and_absurd_parameters_are_refused():
    b = boxes(("B1", 0, 0, 10, 0))
    city = gpd.GeoDataFrame(geometry=[shapely.box(X0 - 1_000, Y0 - 1_000, X0 + 1_000, Y0 + 1_000)], crs=CRS)
    with pytest.raises(InputError, match=r"row 2 \(id out\): lies outside the city"):
        evaluate(b, reports(("in", 10, 0, 10), ("out", 5_000, 0, 10)), outline=city)
    for kw in ({"reach_m": 0}, {"reach_m": 1e9}, {"take_up": 1.5}, {"threshold": 0}, {"horizon_months": -1}):
        with pytest.raises(InputError):
            evaluate(b, reports(("in", 10, 0, 10)), **kw)
    with pytest.raises(InputError, match=r"boxes row 1 \(id B1\): used \(20\) must be within"):
        evaluate(boxes(("B1", 0, 0, 10, 20)), reports(("in", 10, 0, 10)))


def test_any_crs_gives_the_same_alerts():
    b = boxes(("B1", 0, 0, 500, 100), ("B2", 900, 0, 100, 95))
    r = reports(("near", 250, 0, 100), ("far", 0, 350, 100), ("mid", 650, 0, 30))
    a = evaluate(b, r).alerts
    g = evaluate(b.to_crs(4326), r.to_crs(3857), crs=CRS).alerts
    assert list(a["alert_key"]) == list(g["alert_key"])
    np.testing.assert_allclose(a["distance_m"].fillna(-1), g["distance_m"].fillna(-1), atol=0.01)


def _precision_recall(got: set, truth: set) -> tuple[float, float]:
    hit = len(got & truth)
    return hit / max(len(got), 1), hit / max(len(truth), 1)


def test_the_demo_ground_truth_is_found(small_demo):
    """The generator's rule (straight line, no connection trend) reproduced from its data."""
    t = small_demo.truth["opportunities"]
    L = small_demo.layers
    scan = evaluate(L["boxes"], L["construction_reports"], crs=small_demo.metric_crs, horizon_months=0,
                    outline=L["cities"])
    a = scan.alerts
    ext = set(sum(a.loc[a["kind"] == "extend_network", "report_ids"].tolist(), []))
    exp = set(a.loc[a["kind"] == "expand_box", "box_id"])
    for got, truth in ((ext, set(t["extend_network"])), (exp, set(t["expand_box"]))):
        p, r = _precision_recall(got, truth)
        assert p >= 0.9 and r >= 0.9, (p, r, sorted(got ^ truth))
    # The planted "covered" reports raise nothing, the planted "outside" ones all do.
    assert not ext & set(t["planted_groups"]["covered"])
    assert set(t["planted_groups"]["outside"]) <= ext


def test_a_rebuild_needs_the_cables_own_faults_when_they_are_attributed():
    b = boxes(("B1", 0, 0, 10, 0))
    line = lambda dy: shapely.LineString([(X0, Y0 + dy), (X0 + 1_000, Y0 + dy)])  # noqa: E731
    cables = gpd.GeoDataFrame({"id": ["busy", "quiet", "drop"], "kind": ["trunk", "distribution", "drop"],
                               "year_laid": [1995, 1995, 1995], "hot_faults": [20, 5, 50]},
                              geometry=[line(0), line(20), line(40)], crs=CRS)
    hot = gpd.GeoDataFrame({"faults": [300]}, geometry=[shapely.Point(X0 + 500, Y0).buffer(100)], crs=CRS)
    scan = evaluate(b, reports(("r", 10, 0, 1)), cables=cables, hotspots=hot, as_of="2026-11-01")
    assert kinds(scan, "rebuild", "cable_id") == ["busy"]  # not the quiet one, never a drop
    assert "20 faults a year on it" in scan.alerts.set_index("cable_id").loc["busy", "reason"]


def test_a_rebuild_is_valued_on_the_same_scale_and_a_bad_old_cable_ranks_first():
    # Three modest extensions (60 lines each, 500-700 m) and two old trunk cables in a hotspot:
    # one with a fault a day, one with the minimum 12 a year.
    b = boxes(("B1", 0, 0, 10, 10))
    r = reports(("e1", 500, 0, 100), ("e2", 0, 600, 100), ("e3", -700, 0, 100))
    line = lambda dy, n: shapely.LineString([(X0, Y0 + dy), (X0 + n, Y0 + dy)])  # noqa: E731
    cables = gpd.GeoDataFrame({"id": ["bad", "meh"], "kind": ["trunk", "trunk"], "year_laid": [1995, 2000],
                               "hot_faults": [365, 12]}, geometry=[line(-2_000, 500), line(-2_020, 1_000)], crs=CRS)
    hot = gpd.GeoDataFrame({"faults": [400]}, geometry=[shapely.Point(X0 + 250, Y0 - 2_000).buffer(100)], crs=CRS)
    scan = evaluate(b, r, cables=cables, hotspots=hot, as_of="2026-11-01")
    a = scan.alerts
    e = Economics()
    bad = a.set_index("alert_key").loc["bad"]
    assert bad["kind"] == "rebuild" and a["alert_key"].iat[0] == "bad"  # the fault-a-day cable leads the list
    # Its own fields: faults a year, age, length; no "lines" and no new revenue.
    assert bad["faults_per_year"] == 365 and bad["cable_age_years"] == 31 and bad["cable_m"] == pytest.approx(500)
    assert np.isnan(bad["expected_lines"]) and np.isnan(bad["monthly_revenue"])
    value = 365 * (e.fault_cost + e.outage_cost) * e.horizon_months / 12
    assert bad["value"] == pytest.approx(value)
    assert bad["score"] == pytest.approx(value - e.cable_cost_per_m * 500)
    assert bad["payback_months"] == pytest.approx(e.cable_cost_per_m * 500 / (value / e.horizon_months))
    # Every kind: score = value - cost; the rest carry no rebuild fields.
    np.testing.assert_allclose(a["score"], a["value"] - a["cost"])
    other = a[a["kind"] != "rebuild"]
    assert other["faults_per_year"].isna().all() and other["cable_age_years"].isna().all()
    ext = other[other["kind"] == "extend_network"]
    np.testing.assert_allclose(ext["value"], ext["expected_lines"] * e.revenue_per_line * e.horizon_months)
    # The quiet cable is worth less than it costs, and ranks last.
    assert a["alert_key"].iat[-1] == "meh" and a["score"].iat[-1] < 0
    assert a["score"].is_monotonic_decreasing


@pytest.mark.parametrize("kw, message", [
    ({"reach_m": 0}, "--reach must be more than 0 and at most 20,000 m, not 0"),
    ({"reach_m": float("nan")}, "--reach must be more than 0"),
    ({"take_up": 0}, "--take-up must be a share in (0, 1], not 0"),
    ({"threshold": 1.01}, "--threshold must be a utilisation in (0, 1], not 1.01"),
    ({"horizon_months": 121}, "--horizon must be 0 to 120 months"),
    ({"horizon_months": 2.5}, "--horizon must be 0 to 120 months"),
])
def test_parameters_are_refused_in_the_callers_words(kw, message):
    from planning.opportunities import check_parameters
    names = {"reach_m": "--reach", "take_up": "--take-up", "threshold": "--threshold", "horizon_months": "--horizon"}
    with pytest.raises(InputError) as e:
        check_parameters(**kw, names=names)
    assert message in str(e.value)
    with pytest.raises(InputError, match="^reach must" if "reach_m" in kw else "."):
        check_parameters(**kw)  # without names: the parameter's own word
