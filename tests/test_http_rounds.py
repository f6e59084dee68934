"""The manager's inspection round through a real server: the boxes due in his districts, the route
through them from his base (against the brute-force optimum), inspections recorded, a hazard
becoming a ticket, and who may see whose round."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyproj import Transformer
from sqlalchemy import text

from problems import problem

DAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()    # today in the demo city (Asia/Shanghai)


@pytest.fixture(scope="module")
def plan(ticket_plan):
    return ticket_plan


@pytest.fixture(scope="module")
def today(http, plan):
    r = http("manager").get("/managers/SM-MG-001/rounds", params={"date": str(DAY)})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_round_holds_the_boxes_due_in_his_districts_in_route_order(today, engine, plan):
    assert today["due"] == len(today["stops"]) > 0 and today["boxes_held"] > today["due"]
    with engine.connect() as conn:
        mine = set(conn.execute(text(
            "SELECT a.district_id FROM district_assignments a JOIN districts d ON d.id = a.district_id "
            "JOIN district_plans p ON p.id = d.plan_id AND p.status = 'active' WHERE a.manager_id = 'SM-MG-001' "
            "AND a.valid_to IS NULL")).scalars())
    assert {s["district_id"] for s in today["stops"]} <= mine == set(today["districts"])
    assert [s["stop"] for s in today["stops"]] == list(range(1, today["due"] + 1))
    legs = sum(s["leg_m"] for s in today["stops"]) + today["back_to_base_m"]
    assert today["length_m"] == pytest.approx(legs, abs=0.1 * (today["due"] + 2))   # each figure to 0.1 m
    assert today["route"]["type"] == "LineString" and len(today["route"]["coordinates"]) > today["due"]


def test_the_route_is_within_a_tenth_of_the_brute_force_optimum(today, engine, loaded_demo):
    from gis import store
    from gis.inspections import streets
    from gis.streets import StreetNetwork
    from planning.routes import brute_force, distance_matrix, tour_length
    stops = today["stops"][:8]     # the brute force visits every order of these: 8! of them
    with engine.connect() as conn:
        crs = store.metric_crs(conn, loaded_demo)
        net = StreetNetwork.from_lines(streets(conn, loaded_demo, crs))
        base = conn.execute(text("SELECT ST_X(geometry), ST_Y(geometry) FROM managers WHERE id = 'SM-MG-001'")).one()
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    xy = np.column_stack(to_m.transform([base[0]] + [s["lon"] for s in stops], [base[1]] + [s["lat"] for s in stops]))
    dist = distance_matrix(net, xy)
    _, best = brute_force(dist)
    given = tour_length(dist, [0] + list(range(1, len(stops) + 1)))   # the round's own order of these stops
    if len(today["stops"]) <= 8:
        assert today["length_m"] == pytest.approx(given, abs=0.1)
        assert today["length_m"] <= 1.1 * best + 1e-6
    else:   # a prefix of a longer round is not itself a round: check the solver on it instead
        from planning.routes import tour
        _, found = tour(dist)
        assert found <= 1.1 * best + 1e-6


def test_an_inspection_takes_the_box_off_the_next_days_round(http, today):
    first = today["stops"][0]
    r = http("manager").post("/managers/SM-MG-001/inspections",
                             json={"box_id": first["box_id"], "dp_id": first["dp_id"], "result": "ok"})
    assert r.status_code == 201, r.text
    nxt = http("manager").get("/managers/SM-MG-001/rounds", params={"date": str(DAY + dt.timedelta(days=1))}).json()
    assert first["id"] not in {s["id"] for s in nxt["stops"]}


def test_a_hazard_needs_a_note_and_becomes_a_ticket_for_the_districts_manager(http, today):
    stop = today["stops"][-1]
    problem(http("manager").post("/managers/SM-MG-001/inspections", json={"box_id": stop["box_id"], "result": "hazard"}),
            422, "note")
    r = http("manager").post("/managers/SM-MG-001/inspections",
                             json={"box_id": stop["box_id"], "result": "hazard", "note": "door broken, cabinet open",
                                   "photo": "IMG_0042.jpg"}).json()
    assert r["ticket"]["kind"] == "fault" and r["ticket"]["box_id"] == stop["box_id"]
    assert r["ticket"]["manager_id"] == "SM-MG-001" and "door broken" in r["ticket"]["note"]
    assert r["ticket_id"] == r["ticket"]["id"] and r["photo"] == "IMG_0042.jpg"


def test_a_round_is_its_managers_own_and_bad_days_are_refused(http, engine, plan):
    with engine.connect() as conn:
        other = conn.execute(text("SELECT id FROM managers WHERE id <> 'SM-MG-001' ORDER BY id LIMIT 1")).scalar()
    problem(http("manager").get(f"/managers/{other}/rounds"), 404, "his own")
    problem(http("manager").post(f"/managers/{other}/inspections", json={"box_id": "x"}), 404)
    assert http("planner").get(f"/managers/{other}/rounds", params={"date": str(DAY)}).status_code == 200
    problem(http("planner").get("/managers/SM-MG-001/rounds", params={"date": "2026-13-01"}), 422, "date")
    problem(http("planner").get("/managers/nobody/rounds"), 404, "manager 'nobody'")
    problem(http("manager").post("/managers/SM-MG-001/inspections", json={"box_id": "no-box"}), 404, "box 'no-box'")
