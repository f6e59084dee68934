"""GET /lookup, the call centre's "who owns this place": by point, subscriber id or address, the
serving box, the active plan's district (a split box: its dp's district) and the manager now."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from api.services import districts as dsvc
from api.services import lookup as svc
from api.services.plans import PlanParams, activate, create_plan
from gis import lookup as glookup
from gis import store

from networks import tiny_network
from problems import problem as _problem



@pytest.fixture(scope="module")
def plan(engine, loaded_demo):
    res = create_plan(engine, loaded_demo, PlanParams(districts=4))
    activate(engine, res["plan"])
    dsvc.auto_assign(engine, loaded_demo, res["plan"])
    return res["plan"]




def _owner(engine, plan, subscriber_id) -> dict:
    """The oracle: the subscriber's box, its district in the plan, the manager now and phone."""
    with engine.connect() as conn:
        return dict(conn.execute(text("""
            SELECT s.id, s.box_id, s.address, ST_X(s.geometry) AS lon, ST_Y(s.geometry) AS lat, d.id AS district_id,
                   d.code, a.manager_id, m.name, m.phone
            FROM subscribers s JOIN district_members dm ON dm.box_id = s.box_id AND dm.plan_id = :p
                 AND (dm.dp_id IS NULL OR dm.dp_id = s.dp_id)
            JOIN districts d ON d.id = dm.district_id
            JOIN district_assignments a ON a.district_id = d.id AND a.valid_from <= now()
                 AND (a.valid_to IS NULL OR a.valid_to > now())
            JOIN managers m ON m.id = a.manager_id
            WHERE s.id = :s"""), {"p": plan, "s": subscriber_id}).mappings().one())


def _some_subscriber(engine, city, offset=17) -> str:
    """A subscriber whose address no other subscriber has."""
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT min(id) FROM subscribers WHERE city_id = :c AND address ~ '号' GROUP BY address "
            "HAVING count(*) = 1 ORDER BY 1 OFFSET :o LIMIT 1"), {"c": city, "o": offset}).scalar_one()


def _nearest(engine, lon, lat) -> str:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT id FROM subscribers ORDER BY ST_Distance(geometry::geography, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography), id LIMIT 1"), {"x": lon, "y": lat}).scalar_one()


def _is_owner(body: dict, want: dict) -> None:
    assert body["box_id"] == want["box_id"] and body["district_id"] == want["district_id"]
    assert body["district_code"] == want["code"] and body["manager_id"] == want["manager_id"]
    assert body["manager_name"] == want["name"] and body["manager_phone"] == want["phone"]


def test_address_tokens_in_python_are_the_sql_function(engine):
    samples = ["芙蓉路128号3栋502室", "沙曙村12号", "长沙市 岳麓区黄金里２１３号", "Block 7B, 12 Rd", "12", "号",
               "芙蓉路１２８号　3栋"]
    with engine.connect() as conn:
        for s in samples:
            assert conn.execute(text("SELECT pianqu_address_tokens(:a)"), {"a": s}).scalar() == \
                glookup.address_tokens(s), s
    assert glookup.address_tokens("黄金里213号3栋602室") == ["黄金里", "213号", "3栋", "602室"]


def test_point_answers_the_nearest_subscribers_box_district_and_manager(http, engine, plan, loaded_demo):
    s = _owner(engine, plan, _some_subscriber(engine, loaded_demo))
    lon, lat = s["lon"] + 0.00004, s["lat"] + 0.00003     # a few metres north-east of a subscriber
    want = _owner(engine, plan, _nearest(engine, lon, lat))
    for role in ("planner", "analyst", "callcentre"):
        r = http(role).get("/lookup", params={"lon": lon, "lat": lat})
        assert r.status_code == 200, r.text
        body = r.json()
        _is_owner(body, want)
        assert body["subscriber_id"] == want["id"] and body["match"] == "point" and body["plan_id"] == plan
        assert 0 < body["distance_m"] < 6.0


def test_point_far_from_every_subscriber_is_404_saying_how_far(http, loaded_demo):
    body = _problem(http("analyst").get("/lookup", params={"lon": 0.0, "lat": 0.0}), 404, "no subscriber within 500 m")
    assert "m away" in body["detail"] and "the nearest" in body["detail"]


def test_point_out_of_range_is_422_naming_the_parameter(http):
    _problem(http().get("/lookup", params={"lon": 181, "lat": 28}), 422, "'lon'")
    _problem(http().get("/lookup", params={"lon": 112.9, "lat": -90.5}), 422, "'lat'")
    _problem(http().get("/lookup", params={"lon": "east", "lat": 28}), 422, "'lon'")
    _problem(http().get("/lookup", params={"lon": 112.9}), 422, "needs both lon and lat")


def test_subscriber_id_answers_its_owner_and_unknown_id_is_404(http, engine, plan, loaded_demo):
    want = _owner(engine, plan, _some_subscriber(engine, loaded_demo, 3))
    body = http("callcentre").get("/lookup", params={"subscriber": want["id"]}).json()
    _is_owner(body, want)
    assert body["address"] == want["address"] and body["city"] == loaded_demo
    _problem(http().get("/lookup", params={"subscriber": "NO-SUCH-1"}), 404, "subscriber 'NO-SUCH-1'")


def test_address_finds_exact_partial_misspelt_and_prefixed(http, engine, plan, loaded_demo):
    want = _owner(engine, plan, _some_subscriber(engine, loaded_demo, 5))
    addr = want["address"]
    body = http().get("/lookup", params={"address": addr}).json()
    _is_owner(body, want)
    assert body["subscriber_id"] == want["id"] and body["similarity"] == 1.0
    assert body["candidates"][0]["subscriber_id"] == want["id"]
    sims = [c["similarity"] for c in body["candidates"]]
    assert sims == sorted(sims, reverse=True) and len(sims) <= svc.CANDIDATES
    name = glookup.address_tokens(addr)[0]
    # the caller's text with a city in front and spaces, or one wrong character in the name
    for said in (f"长沙市 {addr}", addr.replace(name, name[:-1] + ("甲" if name[-1] != "甲" else "乙"), 1)):
        got = http().get("/lookup", params={"address": said}).json()
        assert got["subscriber_id"] == want["id"], (said, got)
        assert 0 < got["similarity"] < 1
    # only the part before the building: every candidate is in that building
    house = addr[:addr.index("号") + 1]
    part = http().get("/lookup", params={"address": house}).json()
    assert all(c["address"].startswith(house) for c in part["candidates"])


def test_address_that_resembles_nothing_is_404_and_empty_is_422(http):
    _problem(http().get("/lookup", params={"address": "火星路9999号"}), 404, "resembles '火星路9999号'")
    _problem(http().get("/lookup", params={"address": "   "}), 422, "address")
    _problem(http().get("/lookup", params={"address": "路" * 201}), 422, "'address'")


def test_not_exactly_one_kind_of_lookup_is_422(http):
    _problem(http().get("/lookup"), 422, "exactly one of lon+lat, subscriber or address (got none)")
    _problem(http().get("/lookup", params={"subscriber": "X", "address": "芙蓉路1号"}), 422,
             "(got subscriber and address)")


def test_lookup_needs_a_key(http):
    _problem(http(None).get("/lookup", params={"subscriber": "X"}), 401, "needs an API key")


def test_split_box_answers_the_district_of_the_subscribers_dp(engine, plan, loaded_demo):
    sid = _some_subscriber(engine, loaded_demo, 11)
    with engine.begin() as conn:
        s = conn.execute(text("SELECT box_id, dp_id FROM subscribers WHERE id = :s"), {"s": sid}).one()
        whole = conn.execute(text("SELECT id, district_id FROM district_members WHERE plan_id = :p AND box_id = :b"),
                             {"p": plan, "b": s.box_id}).one()
        other = conn.execute(text("SELECT id, code FROM districts WHERE plan_id = :p AND id <> :d ORDER BY id LIMIT 1"),
                             {"p": plan, "d": whole.district_id}).one()
        # split the box: its other dps stay in their district, the subscriber's dp goes to another
        dps = conn.execute(text("SELECT id FROM distribution_points WHERE box_id = :b"), {"b": s.box_id}).scalars().all()
        conn.execute(text("DELETE FROM district_members WHERE id = :m"), {"m": whole.id})
        for dp in dps:
            conn.execute(text("INSERT INTO district_members (id, plan_id, district_id, box_id, dp_id) "
                              "VALUES (:i, :p, :d, :b, :dp)"),
                         {"i": f"{plan}/{s.box_id}/{dp}", "p": plan, "b": s.box_id, "dp": dp,
                          "d": other.id if dp == s.dp_id else whole.district_id})
    try:
        with engine.connect() as conn:
            got = svc.lookup(conn, subscriber=sid)
        assert got["district_id"] == other.id and got["district_code"] == other.code and got["dp_id"] == s.dp_id
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM district_members WHERE plan_id = :p AND box_id = :b"),
                         {"p": plan, "b": s.box_id})
            conn.execute(text("INSERT INTO district_members (id, plan_id, district_id, box_id) VALUES (:i, :p, :d, :b)"),
                         {"i": whole.id, "p": plan, "d": whole.district_id, "b": s.box_id})


def test_a_city_without_an_active_plan_answers_the_box_with_null_district(http, engine, tmp_city):
    layers = tiny_network(tmp_city)
    with engine.begin() as tx:
        store.bulk_load(tx, layers)
    sub = layers["subscribers"].iloc[0]
    body = http("analyst").get("/lookup", params={"subscriber": sub["id"]}).json()
    assert body["box_id"] == sub["box_id"] and body["city"] == tmp_city
    assert body["district_id"] is None and body["manager_id"] is None and body["manager_phone"] is None
    with engine.connect() as conn:
        near = svc.lookup(conn, lon=sub.geometry.x, lat=sub.geometry.y)
    assert near["subscriber_id"] == sub["id"] and near["distance_m"] < 0.5


def test_a_manager_finds_only_the_subscribers_of_his_districts(http, engine, plan):
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.id, a.manager_id = 'SM-MG-001' AS his FROM subscribers s JOIN district_members m "
            "ON m.plan_id = :p AND m.box_id = s.box_id AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) "
            "JOIN district_assignments a ON a.district_id = m.district_id AND a.valid_to IS NULL ORDER BY s.id"),
            {"p": plan}).all()
    mine = next(r.id for r in rows if r.his)
    theirs = next(r.id for r in rows if not r.his)
    assert http("manager").get("/lookup", params={"subscriber": mine}).json()["subscriber_id"] == mine
    _problem(http("manager").get("/lookup", params={"subscriber": theirs}), 404, "SM-MG-001")
