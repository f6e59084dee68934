"""Vector tiles through a real server on loopback: a tile decoded holds what GeoPandas finds in the
tile's envelope, TileJSON, ETags and 304, the shared cache (hit, and nothing stored while an edit
of the layer is open), an edit's invalidation clearing only the tiles it covers, districts of a
plan (and of the active one, keyed so activation needs no invalidation), and the 4xx answers."""
from __future__ import annotations

import math
import time

import mapbox_vector_tile
import pytest
from pyproj import Transformer
from shapely import Point
from sqlalchemy import text

from gis import store, tiles
from tests.problems import problem

MEDIA = "application/vnd.mapbox-vector-tile"
WORLD = 20037508.342789244
TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def envelope(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's envelope in lon/lat, computed here (not by PostGIS)."""
    size = 2 * WORLD / 2 ** z
    x0, y1 = -WORLD + x * size, WORLD - y * size
    (lon0, lon1), (lat0, lat1) = TO_LONLAT.transform([x0, x0 + size], [y1 - size, y1])
    return lon0, lat0, lon1, lat1


def lonlat(z: int, x: int, y: int, px: float, py: float) -> tuple[float, float]:
    """A decoded tile coordinate (4096 a side, y up as mapbox_vector_tile gives it) in lon/lat."""
    size = 2 * WORLD / 2 ** z
    return TO_LONLAT.transform(-WORLD + (x + px / 4096) * size, WORLD - (y + 1 - py / 4096) * size)


def features(r, layer: str) -> list[dict]:
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["content-type"] == MEDIA
    return mapbox_vector_tile.decode(r.content).get(layer, {"features": []})["features"]


def cached(engine, layer: str, z: int, x: int, y: int, plan: str = "") -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM tile_cache WHERE layer = :l AND plan = :p AND z = :z "
                                 "AND x = :x AND y = :y)"), {"l": layer, "p": plan, "z": z, "x": x, "y": y}).scalar()


@pytest.fixture(scope="module")
def subscribers(engine, loaded_demo):
    with engine.connect() as conn:
        return store.read_layer(conn, "subscribers", loaded_demo)


@pytest.fixture(scope="module")
def centre(subscribers):
    x0, y0, x1, y1 = subscribers.total_bounds
    return (x0 + x1) / 2, (y0 + y1) / 2


def test_a_z14_tile_holds_the_subscribers_in_its_envelope(http, subscribers, centre):
    z = 14
    x, y = tile_of(*centre, z)
    got = features(http("analyst").get(f"/tiles/subscribers/{z}/{x}/{y}.pbf"), "subscribers")
    lon0, lat0, lon1, lat1 = envelope(z, x, y)
    want = subscribers.cx[lon0:lon1, lat0:lat1].set_index("id")
    assert len(got) == len(want) > 100
    by_id = {f["properties"]["id"]: f for f in got}
    assert set(by_id) == set(want.index)
    for sid in list(want.index)[:50]:
        f, row = by_id[sid], want.loc[sid]
        assert f["properties"] == {"id": sid, "box_id": row.box_id, "dp_id": row.dp_id}
        assert f["geometry"]["type"] == "Point"
        lon, lat = lonlat(z, x, y, *f["geometry"]["coordinates"])
        assert abs(lon - row.geometry.x) < 1e-5 and abs(lat - row.geometry.y) < 1e-5   # within a metre


def test_layers_carry_their_map_properties(http, centre):
    z = 13
    x, y = tile_of(*centre, z)
    boxes = features(http().get(f"/tiles/boxes/{z}/{x}/{y}.pbf"), "boxes")
    assert boxes and set(boxes[0]["properties"]) == {"id", "capacity", "used"}
    cables = features(http().get("/tiles/cables/15/{}/{}.pbf".format(*tile_of(*centre, 15))), "cables")
    assert cables and set(cables[0]["properties"]) == {"id", "kind", "medium", "placement", "year_laid", "capacity"}
    assert {f["properties"]["kind"] for f in cables} == {"trunk", "distribution", "drop"}
    # Below zoom 15 no drop cables, below 12 trunk cables only: what a map at that zoom draws.
    low = features(http().get("/tiles/cables/11/{}/{}.pbf".format(*tile_of(*centre, 11))), "cables")
    assert low and {f["properties"]["kind"] for f in low} == {"trunk"}


def test_point_dense_layers_answer_no_content_below_their_minzoom(http, centre):
    x, y = tile_of(*centre, 10)
    r = http().get(f"/tiles/subscribers/10/{x}/{y}.pbf")
    assert r.status_code == 204 and r.content == b"" and r.headers["x-tile-cache"] == "skip"
    # Nothing of the layer there: an empty tile too.
    assert http().get("/tiles/boxes/14/0/0.pbf").status_code == 204


def test_tilejson_describes_the_layer(http, api_url, centre):
    doc = http("manager").get("/tiles/subscribers.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [f"{api_url}/tiles/subscribers/{{z}}/{{x}}/{{y}}.pbf"]
    assert doc["minzoom"] == 12 and doc["maxzoom"] == 22
    x0, y0, x1, y1 = doc["bounds"]
    assert x0 < centre[0] < x1 and y0 < centre[1] < y1
    (vl,) = doc["vector_layers"]
    assert vl["id"] == "subscribers" and vl["fields"] == {"id": "String", "box_id": "String", "dp_id": "String"}
    d = http().get("/tiles/districts.json", params={"plan": "no-such-plan"})
    problem(d, 404, "plan 'no-such-plan' does not exist")
    assert http().get("/tiles/districts.json").json()["vector_layers"][0]["fields"]["workload"] == "Number"


def test_etag_if_none_match_and_the_second_request_is_a_cache_hit(http, engine, centre):
    z = 15
    x, y = tile_of(*centre, z)
    with engine.begin() as conn:
        tiles.forget(conn, "subscribers")
    url = f"/tiles/subscribers/{z}/{x}/{y}.pbf"
    first = http().get(url)
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/") and cached(engine, "subscribers", z, x, y)
    second = http("analyst").get(url)           # any worker, any caller: the shared cache
    assert second.headers["x-tile-cache"] == "hit" and second.content == first.content
    assert second.headers["etag"] == etag
    for header in (etag, f'W/{etag}', f'"other", {etag}', "*"):
        r = http().get(url, headers={"If-None-Match": header})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert http().get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def _box_in(engine, city: str, z: int, x: int, y: int) -> tuple[str, bytes]:
    lon0, lat0, lon1, lat1 = envelope(z, x, y)
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT id, ST_AsBinary(geometry) FROM boxes WHERE city_id = :c AND geometry && "
            "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) ORDER BY id LIMIT 1"),
            {"c": city, "x0": lon0, "y0": lat0, "x1": lon1, "y1": lat1}).one()


def test_an_edit_clears_only_the_tiles_its_geometries_cover(http, engine, loaded_demo, centre):
    z = 14
    cx, cy = tile_of(*centre, z)
    # Three tiles: the box's (A), where it moves (B), one it never touches (C).
    a, b, c = (cx, cy), (cx + 1, cy), (cx - 1, cy)
    box, old = _box_in(engine, loaded_demo, z, *a)
    lon0, lat0, lon1, lat1 = envelope(z, *b)
    new_lon, new_lat = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    url = "/tiles/boxes/{}/{}/{}.pbf".format
    for t in (a, b, c):
        http().get(url(z, *t))
        assert http().get(url(z, *t)).headers["x-tile-cache"] == "hit"
    parent = tile_of(*centre, 10)
    http().get(url(10, *parent))
    ids = {t: {f["properties"]["id"] for f in features(http().get(url(z, *t)), "boxes")} for t in (a, b)}
    assert box in ids[a] and box not in ids[b]
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE boxes SET geometry = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :b"),
                         {"x": new_lon, "y": new_lat, "b": box})
            gone = tiles.forget(conn, "boxes", [old, Point(new_lon, new_lat).wkb])
        assert gone >= 3           # A, B and at least the zoom-10 tile over both
        assert not cached(engine, "boxes", z, *a) and not cached(engine, "boxes", z, *b)
        assert not cached(engine, "boxes", 10, *parent)
        assert cached(engine, "boxes", z, *c)
        assert http().get(url(z, *c)).headers["x-tile-cache"] == "hit"
        r = http().get(url(z, *b))
        assert r.headers["x-tile-cache"] == "miss"
        moved = [f for f in features(r, "boxes") if f["properties"]["id"] == box]
        assert len(moved) == 1
        lon, lat = lonlat(z, *b, *moved[0]["geometry"]["coordinates"])
        assert abs(lon - new_lon) < 1e-4 and abs(lat - new_lat) < 1e-4
        assert box not in {f["properties"]["id"] for f in features(http().get(url(z, *a)), "boxes")}
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE boxes SET geometry = ST_GeomFromWKB(:g, 4326) WHERE id = :b"),
                         {"g": old, "b": box})
            tiles.forget(conn, "boxes", [old, Point(new_lon, new_lat).wkb])


def test_a_tile_rendered_while_an_edit_of_its_layer_is_open_is_not_stored(http, engine, centre):
    z = 16
    x, y = tile_of(*centre, z)
    url = f"/tiles/subscribers/{z}/{x}/{y}.pbf"
    with engine.begin() as conn:
        tiles.forget(conn, "subscribers", [Point(*centre).wkb])
        # The edit is still open: a render could be older than it, so it is answered, not kept.
        r = http().get(url)
        assert r.status_code == 200 and r.headers["x-tile-cache"] == "bypass"
        assert not cached(engine, "subscribers", z, x, y)
    assert http().get(url).headers["x-tile-cache"] == "miss"
    assert http().get(url).headers["x-tile-cache"] == "hit"


def test_forget_all_empties_the_cache(http, engine, centre):
    x, y = tile_of(*centre, 13)
    http().get(f"/tiles/streets/13/{x}/{y}.pbf")
    assert cached(engine, "streets", 13, x, y)
    with engine.begin() as conn:
        assert tiles.forget_all(conn) >= 1
        assert tiles.forget(conn, "managers") == 0      # a layer without tiles: nothing to do
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tile_cache")).scalar() == 0


@pytest.fixture(scope="module")
def plans(engine, loaded_demo):
    """Two plans of the demo: `active` (4 districts, with managers) and a draft of 3."""
    from api.services import districts
    from api.services.plans import PlanParams, activate, create_plan
    a = create_plan(engine, loaded_demo, PlanParams(districts=4))["plan"]
    activate(engine, a)
    districts.auto_assign(engine, loaded_demo, a)
    b = create_plan(engine, loaded_demo, PlanParams(districts=3))["plan"]
    return a, b


def test_districts_tiles_of_a_plan_and_of_the_active_one(http, engine, plans, centre):
    a, b = plans
    x, y = tile_of(*centre, 8)      # one tile over the whole demo
    url = f"/tiles/districts/8/{x}/{y}.pbf"
    default = http().get(url)
    got = features(default, "districts")
    assert sorted(f["properties"]["code"] for f in got) == ["D001", "D002", "D003", "D004"]
    f = got[0]["properties"]
    assert f["id"].startswith(f"{a}-") and f["manager_id"] and f["subscribers"] > 0
    assert set(f) == {"id", "code", "subscribers", "workload", "deviation", "manager_id"}
    assert cached(engine, "districts", 8, x, y, plan=a)      # keyed by the resolved active plan
    of_a = http().get(url, params={"plan": a})
    assert of_a.headers["x-tile-cache"] == "hit" and of_a.headers["etag"] == default.headers["etag"]
    draft = features(http().get(url, params={"plan": b}), "districts")
    assert sorted(f["properties"]["code"] for f in draft) == ["D001", "D002", "D003"]
    assert all(f["properties"]["id"].startswith(f"{b}-") and "manager_id" not in f["properties"] for f in draft)
    # Activating the draft changes the default tile with no invalidation at all.
    from api.services.plans import activate
    activate(engine, b)
    after = features(http().get(url), "districts")
    assert sorted(f["properties"]["code"] for f in after) == ["D001", "D002", "D003"]
    tj = http().get("/tiles/districts.json", params={"plan": a}).json()
    assert tj["tiles"][0].endswith(f"/tiles/districts/{{z}}/{{x}}/{{y}}.pbf?plan={a}")
    problem(http().get(url, params={"plan": "no-such-plan"}), 404, "plan 'no-such-plan' does not exist")


def test_a_districts_tile_expires_when_a_manager_assignment_starts(http, engine, plans, centre):
    _, b = plans
    x, y = tile_of(*centre, 9)
    url = f"/tiles/districts/9/{x}/{y}.pbf"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from) "
                          "VALUES ('AS-tiles-test', :d, 'SM-MG-003', now() + interval '2 seconds')"),
                     {"d": f"{b}-D001"})
    try:
        first = http().get(url, params={"plan": b})
        assert http().get(url, params={"plan": b}).headers["x-tile-cache"] == "hit"
        d1 = next(f for f in features(first, "districts") if f["properties"]["code"] == "D001")
        assert "manager_id" not in d1["properties"]
        time.sleep(2.5)
        again = http().get(url, params={"plan": b})
        assert again.headers["x-tile-cache"] == "miss"
        d1 = next(f for f in features(again, "districts") if f["properties"]["code"] == "D001")
        assert d1["properties"]["manager_id"] == "SM-MG-003"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM district_assignments WHERE id = 'AS-tiles-test'"))
            tiles.forget(conn, "districts", plan=b)


@pytest.mark.parametrize("path,says", [
    ("/tiles/no-such-layer/1/0/0.pbf", "tile layer 'no-such-layer' does not exist"),
    ("/tiles/managers/1/0/0.pbf", "tile layer 'managers' does not exist"),
    ("/tiles/boxes/23/0/0.pbf", "zoom 23 is outside 0..22"),
    ("/tiles/boxes/-1/0/0.pbf", "zoom -1 is outside"),
    ("/tiles/boxes/3/8/0.pbf", "tile x=8 is outside 0..7 at zoom 3"),
    ("/tiles/boxes/3/0/-1.pbf", "tile y=-1 is outside 0..7 at zoom 3"),
    ("/tiles/no-such-layer.json", "tile layer 'no-such-layer' does not exist"),
])
def test_unknown_layers_and_tiles_outside_the_pyramid_are_404(http, path, says):
    problem(http().get(path), 404, says)


def test_a_tile_address_that_is_not_a_number_is_422(http):
    problem(http().get("/tiles/boxes/a/0/0.pbf"), 422, "path parameter 'z'")


def test_tiles_need_a_key(http):
    problem(http(None).get("/tiles/boxes/14/0/0.pbf"), 401, "needs an API key")
    problem(http(None).get("/tiles/boxes.json"), 401, "needs an API key")


def test_forget_staged_clears_the_tiles_of_an_upserts_old_and_new_geometry(http, engine, loaded_demo, centre):
    z = 14
    cx, cy = tile_of(*centre, z)
    a, b, c = (cx, cy), (cx, cy + 1), (cx - 1, cy)
    box, _ = _box_in(engine, loaded_demo, z, *a)
    lon0, lat0, lon1, lat1 = envelope(z, *b)
    for t in (a, b, c):
        http().get("/tiles/boxes/{}/{}/{}.pbf".format(z, *t))
    with engine.begin() as conn:       # rolled back: only what forget_staged deletes is looked at
        conn.execute(text("CREATE TEMP TABLE _stage (LIKE boxes INCLUDING DEFAULTS) ON COMMIT DROP"))
        conn.execute(text("INSERT INTO _stage SELECT * FROM boxes WHERE id = :b"), {"b": box})
        conn.execute(text("UPDATE _stage SET geometry = ST_SetSRID(ST_MakePoint(:x, :y), 4326)"),
                     {"x": (lon0 + lon1) / 2, "y": (lat0 + lat1) / 2})
        assert tiles.forget_staged(conn, "boxes", 1) >= 2
        left = {t: conn.execute(text("SELECT count(*) FROM tile_cache WHERE layer = 'boxes' AND z = :z AND x = :x "
                                     "AND y = :y"), {"z": z, "x": t[0], "y": t[1]}).scalar() for t in (a, b, c)}
        assert left == {a: 0, b: 0, c: 1}
        conn.rollback()


def test_an_api_edit_shows_in_the_next_tile_and_leaves_other_tiles_cached(http, engine, centre):
    """A box added, moved and deleted through the features API: each change clears the tiles
    its old and new place cover, in the edit's transaction, and no others."""
    import secrets
    z = 16
    c = http("planner")
    lon0, lat0 = centre
    with engine.connect() as conn:   # a tile far off that holds a box (an empty tile is not cached)
        far_lon, far_lat = conn.execute(text(
            "SELECT ST_X(geometry), ST_Y(geometry) FROM boxes ORDER BY geometry <-> "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326) DESC LIMIT 1"), {"x": lon0, "y": lat0}).one()
    a, b, far = tile_of(lon0, lat0, z), tile_of(lon0 + 0.004, lat0, z), tile_of(far_lon, far_lat, z)
    assert len({a, b, far}) == 3
    url = "/tiles/boxes/{}/{}/{}.pbf".format

    def ids(xy):
        r = c.get(url(z, *xy))
        return set() if r.status_code == 204 else {f["properties"]["id"] for f in features(r, "boxes")}
    for xy in (a, b, far):
        c.get(url(z, *xy))
    assert cached(engine, "boxes", z, *far)
    fid = f"T-TILE-{secrets.token_hex(3)}"
    feat = {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon0, lat0]},
            "properties": {"office_id": "SM-OF-01", "capacity": 100, "year_installed": 2026}}
    r = c.post("/collections/boxes/items", json=feat, headers={"Content-Type": "application/geo+json"})
    assert r.status_code == 201, r.text
    assert not cached(engine, "boxes", z, *a) and cached(engine, "boxes", z, *far)
    assert fid in ids(a)
    c.get(url(z, *b))
    r = c.patch(f"/collections/boxes/items/{fid}", headers={"If-Match": r.headers["ETag"]},
                json={"geometry": {"type": "Point", "coordinates": [lon0 + 0.004, lat0]}})
    assert r.status_code == 200, r.text
    assert not cached(engine, "boxes", z, *a) and not cached(engine, "boxes", z, *b)
    assert cached(engine, "boxes", z, *far)
    assert fid not in ids(a) and fid in ids(b)
    assert c.delete(f"/collections/boxes/items/{fid}", headers={"If-Match": "*"}).status_code == 204
    assert fid not in ids(b) and cached(engine, "boxes", z, *far)
