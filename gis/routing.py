"""Where a new ticket goes: subscriber -> distribution box -> box -> district of the city's active
plan -> the manager who holds that district at that moment; a district with no manager then, to
its community department's queue. One query per way in (a subscriber, a box, a point), each a
single round trip: intake is on the call centre's hot path.

The community department of a box is the community area it stands in (the nearest one, for a box
just outside every outline); its office region is that community's parent area.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from .errors import InputError, NotFound

# From a (box, dp) pair to its district, manager and community, at :at. A split box's members
# name their dp; a ticket on the box itself (no dp) goes to its first member's district.
_OWNER = """
    SELECT b.id AS box_id, b.city_id, p.id AS plan_id, m.district_id, d.code AS district_code,
           a.manager_id, m.dp_id IS NOT NULL AS split_box,
           (SELECT x.id FROM admin_areas x WHERE x.city_id = b.city_id AND x.level = 'community'
             ORDER BY x.geometry <-> b.geometry LIMIT 1) AS community_id
    FROM boxes b
    LEFT JOIN district_plans p ON p.city_id = b.city_id AND p.status = 'active'
    LEFT JOIN LATERAL (SELECT m.district_id, m.dp_id FROM district_members m
                       WHERE m.plan_id = p.id AND m.box_id = b.id AND (m.dp_id IS NULL OR m.dp_id = :dp
                             OR CAST(:dp AS text) IS NULL)
                       ORDER BY (m.dp_id = :dp) DESC NULLS LAST, m.dp_id LIMIT 1) m ON true
    LEFT JOIN districts d ON d.id = m.district_id
    LEFT JOIN district_assignments a ON a.district_id = m.district_id AND a.valid_from <= :at
         AND (a.valid_to IS NULL OR a.valid_to > :at)
    WHERE b.id = :box"""

# A point within this many metres of a subscriber is that subscriber's report.
AT_SUBSCRIBER_M = 5.0


def _owner(conn: Connection, box: str, dp: str | None, at: dt.datetime) -> dict:
    row = conn.execute(text(_OWNER), {"box": box, "dp": dp, "at": at}).mappings().first()
    if row is None:
        raise NotFound(f"box {box!r} does not exist")
    return dict(row)


def reason(target: str, owner: dict) -> str:
    """The routing reason in words: the chain from what was reported to who holds it."""
    if owner["plan_id"] is None:
        return f"{target}; city {owner['city_id']!r} has no active district plan: queue of community " \
               f"{owner['community_id']}"
    if owner["district_id"] is None:
        return f"{target}; box {owner['box_id']} is in no district of plan {owner['plan_id']}: queue of community " \
               f"{owner['community_id']}"
    head = f"{target} -> district {owner['district_code']} ({owner['district_id']}) of plan {owner['plan_id']}"
    if owner["manager_id"] is None:
        return f"{head}; no manager holds it now: queue of community {owner['community_id']}"
    return f"{head} -> manager {owner['manager_id']}"


def by_subscriber(conn: Connection, subscriber: str, at: dt.datetime) -> dict:
    s = conn.execute(text("SELECT id, box_id, dp_id, ST_X(geometry) AS lon, ST_Y(geometry) AS lat FROM subscribers "
                          "WHERE id = :s"), {"s": subscriber}).mappings().first()
    if s is None:
        raise NotFound(f"subscriber {subscriber!r} does not exist")
    owner = _owner(conn, s["box_id"], s["dp_id"], at)
    return {**owner, "subscriber_id": s["id"], "dp_id": s["dp_id"], "lon": s["lon"], "lat": s["lat"],
            "routing_reason": reason(f"subscriber {s['id']} -> distribution box {s['dp_id']} -> box {s['box_id']}", owner)}


def by_box(conn: Connection, box: str, at: dt.datetime) -> dict:
    b = conn.execute(text("SELECT id, ST_X(geometry) AS lon, ST_Y(geometry) AS lat FROM boxes WHERE id = :b"),
                     {"b": box}).mappings().first()
    if b is None:
        raise NotFound(f"box {box!r} does not exist")
    owner = _owner(conn, box, None, at)
    target = f"box {box}" + (" (split between districts: its first part's)" if owner["split_box"] else "")
    return {**owner, "subscriber_id": None, "dp_id": None, "lon": b["lon"], "lat": b["lat"],
            "routing_reason": reason(target, owner)}


def by_point(conn: Connection, lon: float, lat: float, at: dt.datetime) -> dict:
    """A subscriber at the point (within AT_SUBSCRIBER_M), else the box whose service area in the
    active plan contains it; a point outside every service area is refused."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"point ({lon}, {lat}) is not a longitude and latitude in degrees")
    near = conn.execute(text("""
        SELECT s.id FROM subscribers s
        WHERE ST_DWithin(s.geometry, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :deg)
          AND ST_Distance(s.geometry::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) <= :m
        ORDER BY s.geometry <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1"""),
        {"x": lon, "y": lat, "m": AT_SUBSCRIBER_M, "deg": AT_SUBSCRIBER_M / 90_000}).scalar()
    if near is not None:
        out = by_subscriber(conn, near, at)
        out["routing_reason"] = f"point ({lon:.6f}, {lat:.6f}) is at " + out["routing_reason"]
        return out
    unit = conn.execute(text("""
        SELECT u.box_id, u.dp_id FROM plan_units u JOIN district_plans p ON p.id = u.plan_id AND p.status = 'active'
        WHERE ST_Intersects(u.geometry, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) LIMIT 1"""),
        {"x": lon, "y": lat}).first()
    if unit is None:
        raise InputError(f"point ({lon}, {lat}) is outside every service area of the active district plans: "
                         "give the subscriber or the box")
    owner = _owner(conn, unit.box_id, unit.dp_id, at)
    where = f"distribution box {unit.dp_id} of box {unit.box_id}" if unit.dp_id else f"box {unit.box_id}"
    return {**owner, "subscriber_id": None, "dp_id": unit.dp_id, "lon": lon, "lat": lat,
            "routing_reason": reason(f"point ({lon:.6f}, {lat:.6f}) in the service area of {where}", owner)}
