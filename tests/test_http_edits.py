"""Feature edits over HTTP (OGC API - Features Part 4): the import's rules on every write,
optimistic locking with ETags, no orphans, planners only; and each collection's JSON Schema."""
from __future__ import annotations

import secrets
import threading

import pytest
from pyproj import Transformer
from sqlalchemy import text

from gis.layers import layer
from tests.problems import problem

GEO = {"Content-Type": "application/geo+json"}
PATCH = {"Content-Type": "application/merge-patch+json"}
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture
def new_id():
    return f"T-BX-{secrets.token_hex(4).upper()}"


def _box(fid, lon=112.961, lat=28.2, **props):
    base = {"office_id": "SM-OF-01", "capacity": 100, "year_installed": 2026}
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {**base, **props}}


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()


def _stored(engine, fid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT capacity, used, year_installed, ST_X(geometry), ST_Y(geometry) "
                                 "FROM boxes WHERE id = :i"), {"i": fid}).first()


@pytest.fixture
def made(http, new_id):
    """A new box of this test's own (deleted at the end); (id, its ETag)."""
    c = http("planner")
    r = c.post("/collections/boxes/items", json=_box(new_id), headers=GEO)
    assert r.status_code == 201, r.text
    yield new_id, r.headers["ETag"]
    c.delete(f"/collections/boxes/items/{new_id}", headers={"If-Match": "*"})


def test_create_stores_the_feature_and_answers_it(http, engine, new_id, loaded_demo):
    c = http("planner")
    r = c.post("/collections/boxes/items", json=_box(new_id, used=7), headers=GEO)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["Location"].endswith(f"/collections/boxes/items/{new_id}")
    body = r.json()
    assert body["id"] == new_id and body["properties"]["city_id"] == loaded_demo
    assert body["properties"]["used"] == 7 and body["geometry"]["coordinates"] == [112.961, 28.2]
    assert _stored(engine, new_id)[:3] == (100, 7, 2026)
    got = c.get(r.headers["Location"])
    assert got.status_code == 200 and got.headers["ETag"] == r.headers["ETag"]
    again = c.post("/collections/boxes/items", json=_box(new_id), headers=GEO)
    problem(again, 409, new_id, "already exists")
    assert c.delete(f"/collections/boxes/items/{new_id}", headers={"If-Match": r.headers["ETag"]}).status_code == 204
    assert _stored(engine, new_id) is None
    problem(c.get(f"/collections/boxes/items/{new_id}"), 404, new_id)


@pytest.mark.parametrize("change, says", [
    ({"properties": {"capacity": -5}}, ["capacity must be positive"]),
    ({"properties": {"used": 500}}, ["used exceeds capacity"]),
    ({"properties": {"office_id": "NO-SUCH-OFFICE"}}, ["office_id 'NO-SUCH-OFFICE' is not in offices"]),
    ({"properties": {"colour": "red"}}, ["unknown property 'colour'"]),
    ({"properties": {"capacity": "lots"}}, ["capacity 'lots' is not an integer"]),
    ({"properties": {"year_installed": 1800}}, ["year_installed must be between 1950 and 2100"]),
    ({"geometry": {"type": "LineString", "coordinates": [[112.96, 28.2], [112.97, 28.21]]}}, ["LineString"]),
    ({"geometry": {"type": "Point", "coordinates": "here"}}, ["not a GeoJSON geometry"]),
    ({"geometry": {"type": "Point", "coordinates": [512.96, 28.2]}}, ["outside"]),
    ({"geometry": None}, ["geometry"]),
    ({"type": "FeatureCollection"}, ["GeoJSON Feature"]),
    ({"id": None, "properties": {"id": None}}, ["needs an id"]),
    ({"properties": {"id": "OTHER"}}, ["differ"]),
])
def test_create_is_checked_by_the_import_rules(http, engine, new_id, change, says):
    feat = _box(new_id)
    for k, v in change.items():
        feat[k] = {**feat["properties"], **v} if k == "properties" else v
    before = _count(engine, "boxes")
    problem(http("planner").post("/collections/boxes/items", json=feat, headers=GEO), 422, *says)
    assert _count(engine, "boxes") == before


def test_a_subscriber_is_held_to_its_distribution_points_box(http, engine):
    """The import's cross-row rule: a subscriber's box is the box of its distribution point."""
    with engine.connect() as conn:
        dp, box = conn.execute(text("SELECT id, box_id FROM distribution_points ORDER BY id LIMIT 1")).one()
        other = conn.execute(text("SELECT id FROM boxes WHERE id <> :b ORDER BY id LIMIT 1"), {"b": box}).scalar()
    sid = f"T-S-{secrets.token_hex(4)}"
    feat = {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [112.961, 28.2]},
            "properties": {"dp_id": dp, "box_id": other, "address": "test 1"}}
    problem(http("planner").post("/collections/subscribers/items", json=feat, headers=GEO), 422,
            f"box_id {other!r} differs from the box of its distribution point {dp!r}")


def test_the_body_crs_is_content_crs(http, engine, new_id):
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(112.97, 28.21)
    c = http("planner")
    r = c.post("/collections/boxes/items", json=_box(new_id, lon=x, lat=y),
               headers={**GEO, "Content-Crs": f"<{EPSG}3857>"})
    assert r.status_code == 201, r.text
    lon, lat = _stored(engine, new_id)[3:]
    assert abs(lon - 112.97) < 1e-7 and abs(lat - 28.21) < 1e-7
    # EPSG:4326 proper is latitude first.
    r = c.patch(f"/collections/boxes/items/{new_id}", json={"geometry": {"type": "Point", "coordinates": [28.22, 112.98]}},
                headers={**PATCH, "If-Match": r.headers["ETag"], "Content-Crs": f"<{EPSG}4326>"})
    assert r.status_code == 200, r.text
    lon, lat = _stored(engine, new_id)[3:]
    assert abs(lon - 112.98) < 1e-9 and abs(lat - 28.22) < 1e-9
    problem(c.put(f"/collections/boxes/items/{new_id}", json=_box(new_id),
                  headers={**GEO, "If-Match": "*", "Content-Crs": f"<{EPSG}99999>"}), 422, "Content-Crs")
    c.delete(f"/collections/boxes/items/{new_id}", headers={"If-Match": "*"})


def test_patch_needs_the_current_etag(http, engine, made):
    fid, tag = made
    c = http("planner")
    url = f"/collections/boxes/items/{fid}"
    problem(c.patch(url, json={"properties": {"used": 3}}, headers=PATCH), 428, "If-Match", fid)
    r = c.patch(url, json={"properties": {"used": 3}}, headers={**PATCH, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] != tag and r.json()["properties"]["capacity"] == 100
    assert _stored(engine, fid)[:2] == (100, 3)
    problem(c.patch(url, json={"properties": {"used": 4}}, headers={**PATCH, "If-Match": tag}), 412, "changed since")
    assert _stored(engine, fid)[1] == 3
    # A required property cannot be cleared; a nullable one can.
    problem(c.patch(url, json={"properties": {"office_id": None}}, headers={**PATCH, "If-Match": "*"}), 422,
            "office_id is missing")
    problem(c.patch(url, json={"properties": {"city_id": "elsewhere"}}, headers={**PATCH, "If-Match": "*"}), 422,
            "city_id cannot change")
    assert c.get(url).headers["ETag"] == r.headers["ETag"]


def test_put_replaces_the_feature(http, engine, made):
    fid, tag = made
    c = http("planner")
    url = f"/collections/boxes/items/{fid}"
    r = c.put(url, json=_box(fid, lon=112.95, capacity=300, year_installed=2020), headers={**GEO, "If-Match": tag})
    assert r.status_code == 200, r.text
    cap, used, year, lon, _ = _stored(engine, fid)
    assert (cap, year) == (300, 2020) and abs(lon - 112.95) < 1e-9
    problem(c.put(url, json=_box("SOMETHING-ELSE"), headers={**GEO, "If-Match": "*"}), 422, "does not change")
    problem(c.put(f"/collections/boxes/items/NO-SUCH-{fid}", json=_box(f"NO-SUCH-{fid}"),
                  headers={**GEO, "If-Match": "*"}), 404, f"NO-SUCH-{fid}")


def test_two_planners_editing_one_box_never_lose_an_update(http, engine, made):
    fid, tag = made
    statuses = []

    def edit(used):
        r = http("planner").patch(f"/collections/boxes/items/{fid}", json={"properties": {"used": used}},
                                  headers={**PATCH, "If-Match": tag})
        statuses.append((r.status_code, used))
    threads = [threading.Thread(target=edit, args=(u,)) for u in (21, 22)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in statuses) == [200, 412]
    winner = next(u for s, u in statuses if s == 200)
    assert _stored(engine, fid)[1] == winner


def test_delete_refuses_to_orphan_rows(http, engine):
    with engine.connect() as conn:
        box, subs = conn.execute(text("SELECT box_id, count(*) FROM subscribers GROUP BY box_id ORDER BY 1 LIMIT 1")).one()
    before = _count(engine, "boxes")
    problem(http("planner").delete(f"/collections/boxes/items/{box}", headers={"If-Match": "*"}), 409,
            box, f"{subs:,} subscribers", "cannot be deleted")
    assert _count(engine, "boxes") == before
    problem(http("planner").delete("/collections/boxes/items/NO-SUCH-BOX", headers={"If-Match": "*"}), 404,
            "NO-SUCH-BOX")
    problem(http("planner").delete(f"/collections/boxes/items/{box}"), 428, "If-Match")


def test_only_planners_edit(http, made):
    fid, _ = made
    url = f"/collections/boxes/items/{fid}"
    for role in ("analyst", "manager"):
        c = http(role)
        problem(c.post("/collections/boxes/items", json=_box(fid + "X"), headers=GEO), 403, role)
        problem(c.patch(url, json={"properties": {"used": 1}}, headers={**PATCH, "If-Match": "*"}), 403, role)
        problem(c.delete(url, headers={"If-Match": "*"}), 403, role)
    problem(http(None).post("/collections/boxes/items", json=_box(fid + "X"), headers=GEO), 401, "API key")


def test_collections_not_edited_feature_by_feature(http):
    c = http("planner")
    problem(c.post("/collections/districts/items", json={"type": "Feature"}, headers=GEO), 405, "plans")
    problem(c.post("/collections/cities/items", json={"type": "Feature"}, headers=GEO), 405, "cities")
    problem(c.post("/collections/nothing/items", json={"type": "Feature"}, headers=GEO), 404, "nothing")


def test_every_collection_has_a_json_schema(http):
    c = http("analyst")
    doc = c.get("/collections/cables/schema")
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("application/schema+json")
    s = doc.json()
    lay = layer("cables")
    assert set(s["properties"]) == set(lay.kinds) | {"geometry"}
    assert set(s["required"]) == set(lay.required) - {"geometry"}
    assert s["properties"]["kind"]["enum"] == list(lay.vocabularies["kind"])
    assert s["properties"]["id"]["x-ogc-role"] == "id"
    assert s["properties"]["geometry"]["format"] == "geometry-linestring"
    assert s["properties"]["year_laid"]["type"] in ("integer", ["integer", "null"])
    assert c.get("/collections/districts/schema").status_code == 200
    links = c.get("/collections/cables").json()["links"]
    assert any(link["rel"] == "describedby" and link["href"].endswith("/collections/cables/schema") for link in links)
