"""Hand-made networks small enough to reason about, built in metres (UTM 49N) near Changsha."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

UTM = 32649
X0, Y0 = 700_000.0, 3_120_000.0  # about lon 113.05, lat 28.19


def _gdf(rows: list[dict], geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=list(geoms), crs=UTM).to_crs(4326)


def tiny_network(city: str) -> dict[str, gpd.GeoDataFrame]:
    """One office, a trunk cable, two boxes, three distribution points, five subscribers,
    two fault tickets, one construction report, one region with one community."""
    P = lambda dx, dy: shapely.Point(X0 + dx, Y0 + dy)  # noqa: E731
    region = shapely.box(X0 - 2000, Y0 - 2000, X0 + 2000, Y0 + 2000)
    layers = {
        "admin_areas": _gdf(
            [{"id": f"{city}-R1", "city_id": city, "level": "office_region", "parent_id": None, "name": "东区"},
             {"id": f"{city}-C1", "city_id": city, "level": "community", "parent_id": f"{city}-R1", "name": "东塘社区"}],
            [shapely.MultiPolygon([region]), shapely.MultiPolygon([region])]),
        "offices": _gdf([{"id": f"{city}-O1", "city_id": city, "name": "东塘局"}], [P(0, 0)]),
        "cables": _gdf(
            [{"id": f"{city}-T1", "city_id": city, "kind": "trunk", "medium": "fibre", "capacity": 96, "used": 40,
              "placement": "underground", "year_laid": 2012, "office_id": f"{city}-O1"}],
            [shapely.LineString([(X0, Y0), (X0 + 500, Y0), (X0 + 500, Y0 + 400)])]),
        "boxes": _gdf(
            [{"id": f"{city}-B1", "city_id": city, "office_id": f"{city}-O1", "feeder_cable_id": f"{city}-T1",
              "capacity": 200, "used": 3, "year_installed": 2012},
             {"id": f"{city}-B2", "city_id": city, "office_id": f"{city}-O1", "feeder_cable_id": None,
              "capacity": 300, "used": 2, "year_installed": 1998}],
            [P(500, 400), P(-600, 300)]),
        "distribution_points": _gdf(
            [{"id": f"{city}-D1", "city_id": city, "box_id": f"{city}-B1", "cable_id": None, "capacity": 20, "used": 2},
             {"id": f"{city}-D2", "city_id": city, "box_id": f"{city}-B1", "cable_id": None, "capacity": 20, "used": 1},
             {"id": f"{city}-D3", "city_id": city, "box_id": f"{city}-B2", "cable_id": None, "capacity": 10, "used": 2}],
            [P(550, 450), P(450, 350), P(-650, 320)]),
        "subscribers": _gdf(
            [{"id": f"{city}-S{i}", "city_id": city, "dp_id": dp, "box_id": box, "drop_cable_id": None,
              "address": f"韶山路 {i} 号", "voice": i % 2 == 0, "broadband": True, "iptv": i == 3,
              "monthly_revenue": 50.0 + 10 * i, "connected_since": pd.Timestamp(2015 + i, 3, 1)}
             for i, (dp, box) in enumerate([(f"{city}-D1", f"{city}-B1"), (f"{city}-D1", f"{city}-B1"),
                                            (f"{city}-D2", f"{city}-B1"), (f"{city}-D3", f"{city}-B2"),
                                            (f"{city}-D3", f"{city}-B2")], start=1)],
            [P(560, 470), P(540, 460), P(440, 330), P(-660, 330), P(-640, 310)]),
        "fault_tickets": _gdf(
            [{"id": f"{city}-F1", "city_id": city, "subscriber_id": f"{city}-S1", "box_id": None, "dp_id": None,
              "cable_id": None, "cause": "drop", "severity": 1, "vip": False,
              "reported_at": pd.Timestamp("2026-10-01 09:00", tz="Asia/Shanghai"),
              "first_contact_at": pd.Timestamp("2026-10-01 09:12", tz="Asia/Shanghai"),
              "cleared_at": pd.Timestamp("2026-10-01 15:00", tz="Asia/Shanghai")},
             {"id": f"{city}-F2", "city_id": city, "subscriber_id": None, "box_id": f"{city}-B2", "dp_id": None,
              "cable_id": None, "cause": "box", "severity": 3, "vip": True,
              "reported_at": pd.Timestamp("2026-10-02 20:00", tz="Asia/Shanghai"),
              "first_contact_at": None, "cleared_at": None}],
            [P(560, 470), P(-600, 300)]),
        "construction_reports": _gdf(
            [{"id": f"{city}-CR1", "city_id": city, "name": "湘江壹号", "kind": "residential", "stage": "permitted",
              "households": 400, "floor_area_m2": None, "reporter_id": None, "reporter_name": "李经理",
              "reported_on": pd.Timestamp("2026-09-15")}],
            [shapely.box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1050)]),
    }
    for name in ("fault_tickets",):
        for c in ("reported_at", "first_contact_at", "cleared_at"):
            layers[name][c] = pd.to_datetime(layers[name][c], utc=True)
    return layers
