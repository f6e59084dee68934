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
from .holding import in_force

# From a source row (box_id, dp_id, and what else it carries) to its district, manager and
# community at :at, in the same statement. A split box's members name their dp; a ticket on the
# box itself (no dp) goes to its first member's district.
_OWNER = """
    WITH src AS ({src})
    SELECT src.*, b.city_id, p.id AS plan_id, m.district_id, d.code AS district_code, a.manager_id,
           m.dp_id IS NOT NULL AS split_box,
           (SELECT x.id FROM admin_areas x WHERE x.city_id = b.city_id AND x.level = 'community'
             ORDER BY x.geometry <-> b.geometry LIMIT 1) AS community_id
    FROM src JOIN boxes b ON b.id = src.box_id
    LEFT JOIN district_plans p ON p.city_id = b.city_id AND p.status = 'active'
    LEFT JOIN LATERAL (SELECT m.district_id, m.dp_id FROM district_members m
                       WHERE m.plan_id = p.id AND m.box_id = b.id
                         AND (m.dp_id IS NULL OR m.dp_id = src.dp_id OR src.dp_id IS NULL)
                       ORDER BY (m.dp_id = src.dp_id) DESC NULLS LAST, m.dp_id LIMIT 1) m ON true
    LEFT JOIN districts d ON d.id = m.district_id
    LEFT JOIN district_assignments a ON a.district_id = m.district_id AND {in_force}"""
_SUBSCRIBER = ("SELECT s.id AS subscriber_id, s.box_id, s.dp_id, ST_X(s.geometry) AS lon, ST_Y(s.geometry) AS lat "
               "FROM subscribers s WHERE s.id = :s")
_BOX = ("SELECT NULL::text AS subscriber_id, b.id AS box_id, CAST(:dp AS text) AS dp_id, "
        "ST_X(b.geometry) AS lon, ST_Y(b.geometry) AS lat FROM boxes b WHERE b.id = :box")

# A point within this many metres of a subscriber is that subscriber's report.
AT_SUBSCRIBER_M = 5.0


def _owner(conn: Connection, src: str, params: dict) -> dict | None:
    row = conn.execute(text(_OWNER.format(src=src, in_force=in_force(":at"))), params).mappings().first()
    return None if row is None else dict(row)


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
    o = _owner(conn, _SUBSCRIBER, {"s": subscriber, "at": at})
    if o is None:
        raise NotFound(f"subscriber {subscriber!r} does not exist")
    o["routing_reason"] = reason(f"subscriber {o['subscriber_id']} -> distribution box {o['dp_id']} -> box "
                                 f"{o['box_id']}", o)
    return o


def by_box(conn: Connection, box: str, at: dt.datetime, dp: str | None = None) -> dict:
    o = _owner(conn, _BOX, {"box": box, "dp": dp, "at": at})
    if o is None:
        raise NotFound(f"box {box!r} does not exist")
    o["routing_reason"] = reason(f"box {box}" + (" (split between districts: its first part's)"
                                                 if o["split_box"] and dp is None else ""), o)
    return o


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
    o = by_box(conn, unit.box_id, at, unit.dp_id)
    where = f"distribution box {unit.dp_id} of box {unit.box_id}" if unit.dp_id else f"box {unit.box_id}"
    o.update(lon=lon, lat=lat, routing_reason=reason(f"point ({lon:.6f}, {lat:.6f}) in the service area of {where}", o))
    return o
