"""A manager's key sees the subscribers and tickets of the districts he holds today, not the
others', through the features API; every other role sees them all."""
from __future__ import annotations

from sqlalchemy import text

from problems import every_feature, problem


def _his(engine, plan):
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            "AND a.valid_to IS NULL AND a.manager_id = 'SM-MG-001'"), {"p": plan}).scalars())


def test_a_manager_reads_his_districts_subscribers_only(http, engine, active_plan, loaded_demo):
    his = _his(engine, active_plan)
    mine, _ = every_feature(http("manager"), "/collections/subscribers/items", limit=10000, properties="id")
    assert {f["id"] for f in mine} == his and 0 < len(his) < 20_000
    everyone, _ = every_feature(http("analyst"), "/collections/subscribers/items", limit=10000, properties="id")
    assert len(everyone) == 20_000
    other = next(f["id"] for f in everyone if f["id"] not in his)
    problem(http("manager").get(f"/collections/subscribers/items/{other}"), 404)
    one = next(iter(his))
    assert http("manager").get(f"/collections/subscribers/items/{one}").json()["id"] == one
    # a filter cannot widen it
    r = http("manager").get("/collections/subscribers/items", params={"filter": f"id = '{other}'"}).json()
    assert r["numberReturned"] == 0


def test_a_manager_reads_his_districts_tickets_only(http, engine, ticket_plan, loaded_demo):
    cc = http("callcentre")
    with engine.connect() as conn:
        theirs = conn.execute(text(
            "SELECT s.id FROM subscribers s JOIN district_members m ON m.plan_id = :p AND m.box_id = s.box_id "
            "AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) JOIN district_assignments a ON a.district_id = m.district_id "
            "AND a.valid_to IS NULL AND a.manager_id <> 'SM-MG-001' LIMIT 1"), {"p": ticket_plan}).scalar()
    mine = next(iter(_his(engine, ticket_plan)))
    t_mine = cc.post("/tickets", json={"subscriber_id": mine}).json()["id"]
    t_theirs = cc.post("/tickets", json={"subscriber_id": theirs}).json()["id"]
    seen = {f["id"] for f in every_feature(http("manager"), "/collections/fault_tickets/items", limit=10000,
                                           properties="id", datetime="2026-11-15T00:00:00Z/..")[0]}
    assert t_mine in seen and t_theirs not in seen
    problem(http("manager").get(f"/collections/fault_tickets/items/{t_theirs}"), 404)


def test_a_managers_map_tiles_hold_his_districts_subscribers_only_and_are_never_cached(http, engine, active_plan,
                                                                                     loaded_demo):
    import mapbox_vector_tile

    from tests.test_http_tiles import cached, tile_of
    his = _his(engine, active_plan)
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(geometry), ST_Y(geometry) FROM subscribers WHERE id = :s"),
                                {"s": min(his)}).one()
    z = 14
    x, y = tile_of(lon, lat, z)
    url = f"/tiles/subscribers/{z}/{x}/{y}.pbf"

    def ids(r):
        assert r.status_code == 200, r.text
        return {f["properties"]["id"] for f in mapbox_vector_tile.decode(r.content)["subscribers"]["features"]}
    everyone = ids(http("planner").get(url))
    r = http("manager").get(url)
    mine = ids(r)
    assert min(his) in mine and mine == everyone & his and mine < everyone   # the tile has others' too
    assert r.headers["X-Tile-Cache"] == "bypass"
    # His copy is his: revalidated by its own ETag, and the planner's cached copy is not his.
    assert http("manager").get(url, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert cached(engine, "subscribers", z, x, y)
    assert http("planner").get(url).headers["ETag"] != r.headers["ETag"]
    # A place where he holds nothing: an empty tile for him, subscribers for the others.
    with engine.connect() as conn:
        far = conn.execute(text("SELECT ST_X(geometry), ST_Y(geometry) FROM subscribers WHERE NOT (id = ANY(:h)) "
                                "ORDER BY geometry <-> (SELECT geometry FROM subscribers WHERE id = :s) DESC LIMIT 1"),
                           {"h": list(his), "s": min(his)}).one()
    fx, fy = tile_of(*far, z)
    far_url = f"/tiles/subscribers/{z}/{fx}/{fy}.pbf"
    assert http("manager").get(far_url).status_code == 204 and ids(http("analyst").get(far_url))


def test_a_manager_reads_every_districts_figures_but_only_his_own_alerts(http, engine, active_plan):
    with engine.connect() as conn:
        mine, theirs = (conn.execute(text(
            "SELECT a.district_id FROM district_assignments a JOIN districts d ON d.id = a.district_id "
            f"WHERE d.plan_id = :p AND a.valid_to IS NULL AND a.manager_id {op} 'SM-MG-001' ORDER BY 1 LIMIT 1"),
            {"p": active_plan}).scalar() for op in ("=", "<>"))
    his, other = (http("manager").get(f"/districts/{d}").json() for d in (mine, theirs))
    assert isinstance(his["alerts"], list) and other["alerts"] is None
    assert other["subscribers"] > 0 and other["manager_id"] != "SM-MG-001"
    assert isinstance(http("planner").get(f"/districts/{theirs}").json()["alerts"], list)
