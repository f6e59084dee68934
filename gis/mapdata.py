"""What the map pages read from the store that the other doors do not: where a city is (the
box the map opens on), where a district's label goes, and the days faults were reported on."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text


def city_bounds(conn: Connection, city: str) -> list[list[float]]:
    """[[south, west], [north, east]] of the city's boxes (Leaflet's order), or of its outline
    when it has no boxes yet."""
    row = conn.execute(text(
        "SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM (SELECT coalesce("
        "(SELECT ST_Extent(geometry)::geometry FROM boxes WHERE city_id = :c), "
        "(SELECT ST_Envelope(geometry) FROM cities WHERE id = :c)) AS e) q"), {"c": city}).one()
    if row[0] is None:
        return [[-85.0, -180.0], [85.0, 180.0]]
    s, w, n, e = (float(v) for v in row)
    return [[s, w], [n, e]]


def district_bounds(conn: Connection, district: str) -> list[list[float]] | None:
    """[[south, west], [north, east]] of a district's outline, or None without one."""
    row = conn.execute(text("SELECT ST_YMin(g), ST_XMin(g), ST_YMax(g), ST_XMax(g) FROM (SELECT geometry::box2d::geometry "
                            "AS g FROM districts WHERE id = :d AND geometry IS NOT NULL) q"), {"d": district}).first()
    return None if row is None else [[float(row[0]), float(row[1])], [float(row[2]), float(row[3])]]


def district_labels(conn: Connection, plan: str) -> dict[str, list[float]]:
    """district id -> [lon, lat] of a point inside it (ST_PointOnSurface: inside even when the
    district is a crescent, where a centroid is not)."""
    rows = conn.execute(text(
        "SELECT id, ST_X(p), ST_Y(p) FROM (SELECT id, ST_PointOnSurface(geometry) AS p FROM districts "
        "WHERE plan_id = :p AND geometry IS NOT NULL) q"), {"p": plan}).all()
    return {r[0]: [round(float(r[1]), 6), round(float(r[2]), 6)] for r in rows}


def ticket_days(conn: Connection, city: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day (UTC) a fault was reported in the city, or None without tickets."""
    row = conn.execute(text("SELECT min(reported_at)::date, max(reported_at)::date FROM fault_tickets "
                            "WHERE city_id = :c"), {"c": city}).one()
    return None if row[0] is None else (row[0], row[1])
