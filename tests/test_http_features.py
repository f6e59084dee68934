"""OGC API - Features over the stored layers, checked against the same questions asked of
GeoPandas, and read by GDAL's own OAPIF client (what QGIS uses)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis import store
from tests.problems import every_feature

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture(scope="module")
def boxes(engine, loaded_demo):
    with engine.connect() as conn:
        return store.read_layer(conn, "boxes", loaded_demo)


def test_landing_conformance_and_collections(http, api_url):
    import httpx
    rels = {link["rel"] for link in httpx.get(f"{api_url}/").json()["links"]}
    assert {"conformance", "data", "service-desc"} <= rels
    conf = http("analyst").get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    cols = {c["id"]: c for c in http("manager").get("/collections").json()["collections"]}
    assert {"boxes", "subscribers", "cables", "fault_tickets", "districts", "streets", "barriers"} <= set(cols)
    assert f"{EPSG}32649" in cols["boxes"]["crs"] and f"{EPSG}3857" in cols["boxes"]["crs"]
    x0, y0, x1, y1 = cols["boxes"]["extent"]["spatial"]["bbox"][0]
    assert 112 < x0 < x1 < 114 and 27 < y0 < y1 < 29
    assert "temporal" in cols["fault_tickets"]["extent"]
    _problem = http(None).get("/collections")
    assert _problem.status_code == 401


def test_paging_returns_every_feature_once(http, boxes):
    feats, last = every_feature(http("analyst"), "/collections/boxes/items", limit=25)
    assert sorted(f["id"] for f in feats) == sorted(boxes["id"])
    assert last["numberMatched"] == len(boxes) and "numberMatchedEstimated" not in last
    first = http().get("/collections/boxes/items", params={"limit": 25}).json()
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert f"after={first['features'][-1]['id']}" in nxt   # keyset: as cheap deep in a layer as at its start
    prev = http().get("/collections/boxes/items", params={"limit": 25, "offset": 25}).json()
    assert any(link["rel"] == "prev" for link in prev["links"])


def test_bbox_and_attribute_filters_match_geopandas(http, boxes):
    x0, y0, x1, y1 = 112.95, 28.17, 112.99, 28.21
    feats, page = every_feature(http(), "/collections/boxes/items", bbox=f"{x0},{y0},{x1},{y1}", limit=1000)
    expect = boxes[boxes.intersects(shapely.box(x0, y0, x1, y1))]
    assert 0 < len(expect) < len(boxes) and sorted(f["id"] for f in feats) == sorted(expect["id"])
    big = int(boxes["capacity"].max())
    feats, _ = every_feature(http(), "/collections/boxes/items", capacity=big, limit=1000)
    assert sorted(f["id"] for f in feats) == sorted(boxes.loc[boxes["capacity"] == big, "id"])


def test_sortby_and_properties(http, boxes):
    page = http().get("/collections/boxes/items", params={"sortby": "-year_installed,id", "limit": 5,
                                                         "properties": "year_installed"}).json()
    years = [f["properties"]["year_installed"] for f in page["features"]]
    assert years == sorted(boxes["year_installed"], reverse=True)[:5]
    assert set(page["features"][0]["properties"]) == {"id", "year_installed"}


def test_output_crs_epsg4326_is_lat_lon_and_utm_is_metres(http, boxes):
    one = boxes.sort_values("id").iloc[0]
    r = http().get(f"/collections/boxes/items/{one['id']}", params={"crs": f"{EPSG}4326"})
    assert r.headers["content-crs"] == f"<{EPSG}4326>"
    lat, lon = r.json()["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((one.geometry.x, one.geometry.y), abs=1e-6)
    r = http().get(f"/collections/boxes/items/{one['id']}", params={"crs": "EPSG:32649"})
    x, y = r.json()["geometry"]["coordinates"]
    ex, ey = Transformer.from_crs(4326, 32649, always_xy=True).transform(one.geometry.x, one.geometry.y)
    assert (x, y) == pytest.approx((ex, ey), abs=0.05)
    # a bbox given in the UTM zone selects what the same box in degrees selects
    utm = Transformer.from_crs(4326, 32649, always_xy=True)
    (ax, ay), (bx, by) = utm.transform(112.95, 28.17), utm.transform(112.99, 28.21)
    feats, _ = every_feature(http(), "/collections/boxes/items", bbox=f"{ax},{ay},{bx},{by}", **{"bbox-crs": "EPSG:32649"},
                    limit=1000)
    expect = boxes.to_crs(32649)
    expect = expect[expect.intersects(shapely.box(ax, ay, bx, by))]
    assert sorted(f["id"] for f in feats) == sorted(expect["id"])


def test_datetime_selects_tickets_in_the_interval(http, engine, loaded_demo):
    with engine.connect() as conn:
        t = store.read_layer(conn, "faults", loaded_demo, ["id", "reported_at"])
    page = http().get("/collections/fault_tickets/items", params={
        "datetime": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z", "limit": 1}).json()
    a, b = np.datetime64("2026-10-01T00:00:00"), np.datetime64("2026-10-08T00:00:00")
    when = t["reported_at"].dt.tz_convert(None).to_numpy()
    assert page["numberMatched"] == int(((when >= a) & (when <= b)).sum()) > 0


def test_large_matches_are_estimated_not_counted(http):
    page = http().get("/collections/subscribers/items", params={"limit": 1}).json()
    assert page["numberMatchedEstimated"] is True
    assert 10_000 < page["numberMatched"] <= 40_000   # the planner's estimate of the 20,000 (and more cities)


def test_districts_collection_carries_the_same_ids_as_the_districts_api(http, active_plan):
    feats, _ = every_feature(http(), "/collections/districts/items", limit=100)
    api = {d["id"] for d in http().get("/districts").json()["districts"]}
    assert api <= {f["id"] for f in feats}


@pytest.mark.parametrize("path, params, says", [
    ("/collections/nope/items", {}, "collection 'nope' does not exist"),
    ("/collections/boxes/items", {"limit": 10_001}, "limit"),
    ("/collections/boxes/items", {"bbox": "1,2,3"}, "expected four numbers"),
    ("/collections/boxes/items", {"bbox": "3,2,1,0"}, "lower corner must come first"),
    ("/collections/boxes/items", {"crs": "EPSG:2000"}, "is not offered"),
    ("/collections/boxes/items", {"capacity": "lots"}, "capacity is a int"),
    ("/collections/boxes/items", {"colour": "red"}, "unknown property 'colour'"),
    ("/collections/boxes/items", {"sortby": "-colour"}, "unknown property 'colour'"),
    ("/collections/boxes/items", {"datetime": "2026-10-01/.."}, "has no time"),
    ("/collections/fault_tickets/items", {"datetime": "yesterday"}, "expected an RFC 3339"),
    ("/collections/boxes/items/no-such-box", {}, "boxes 'no-such-box' does not exist"),
    ("/collections/boxes/items", {"after": "SM-BX-00010", "sortby": "-capacity"}, "goes with the default order"),
])
def test_bad_requests_are_problems_naming_the_parameter(http, path, params, says):
    r = http().get(path, params=params)
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"], r.json()


def test_gdal_reads_every_subscriber_through_its_oapif_driver(api_url, api_keys, engine, loaded_demo):
    import pyogrio
    os.environ.update(GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER=api_keys["analyst"])
    try:
        layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{api_url}")}
        assert {"boxes", "subscribers", "districts"} <= layers
        got = pyogrio.read_dataframe(f"OAPIF:{api_url}", layer="subscribers")
    finally:
        for k in ("GDAL_HTTP_AUTH", "GDAL_HTTP_BEARER"):
            os.environ.pop(k, None)
    with engine.connect() as conn:
        n = store.counts(conn, loaded_demo)["subscribers"]
    assert len(got) >= n and got["id"].is_unique and "address" in got.columns
