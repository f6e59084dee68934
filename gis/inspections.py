"""Inspections in the store: what a manager's districts hold to inspect (their boxes and
distribution boxes, with the last inspection, the recent faults and the utilisation of each),
the streets a round follows, and the inspections recorded."""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, text

from .errors import InputError, NotFound
from .frames import frame, geoframe
from .tickets import BOX_OF_TICKET, DP_OF_TICKET

RESULTS = ("ok", "hazard")


def objects(conn: Connection, districts: list[str], day_start: dt.datetime, tz: str) -> pd.DataFrame:
    """Every box and distribution box of the districts: `id` ("box" or "box/dp"), box_id, dp_id,
    district_id, x/y (EPSG:4326), the local day of its last inspection, its faults in the 30 days
    before `day_start`, and its utilisation. A box split between districts is inspected by the
    district of each of its distribution boxes; the cabinet itself by its first part's."""
    if not districts:
        return pd.DataFrame(columns=["id", "box_id", "dp_id", "district_id", "x", "y", "last_inspected",
                                     "recent_faults", "utilisation"])
    p = {"d": districts, "first": districts[0], "since": day_start - dt.timedelta(days=30), "until": day_start, "tz": tz}
    df = frame(conn, f"""
        WITH m AS (SELECT m.district_id, m.box_id, m.dp_id FROM district_members m WHERE m.district_id = ANY(%(d)s)),
        cabinets AS (
            SELECT DISTINCT ON (m.box_id) m.box_id, NULL::text AS dp_id, m.district_id, b.geometry,
                   b.used::float / NULLIF(b.capacity, 0) AS utilisation
            FROM m JOIN boxes b ON b.id = m.box_id ORDER BY m.box_id, m.dp_id NULLS FIRST),
        dps AS (
            SELECT d.box_id, d.id AS dp_id, m.district_id, d.geometry, d.used::float / NULLIF(d.capacity, 0) AS utilisation
            FROM m JOIN distribution_points d ON d.box_id = m.box_id AND (m.dp_id IS NULL OR m.dp_id = d.id)),
        o AS (SELECT * FROM cabinets UNION ALL SELECT * FROM dps),
        faults AS (
            SELECT {BOX_OF_TICKET} AS box_id, {DP_OF_TICKET} AS dp_id, count(*) AS n
            FROM fault_tickets t LEFT JOIN subscribers s ON s.id = t.subscriber_id
            LEFT JOIN distribution_points d ON d.id = t.dp_id
            -- the city's 30 days through its (city_id, reported_at) index, then the boxes' own
            WHERE t.city_id = (SELECT p.city_id FROM districts x JOIN district_plans p ON p.id = x.plan_id
                               WHERE x.id = %(first)s)
              AND t.kind = 'fault' AND t.reported_at >= %(since)s AND t.reported_at < %(until)s
              AND {BOX_OF_TICKET} IN (SELECT box_id FROM m)
            GROUP BY 1, 2)
        SELECT o.box_id || coalesce('/' || o.dp_id, '') AS id, o.box_id, o.dp_id, o.district_id,
               ST_X(o.geometry) AS x, ST_Y(o.geometry) AS y, o.utilisation,
               (SELECT max(i.at AT TIME ZONE %(tz)s)::date FROM inspections i WHERE i.box_id = o.box_id
                  AND i.dp_id IS NOT DISTINCT FROM o.dp_id AND i.at < %(until)s) AS last_inspected,
               coalesce((SELECT sum(f.n) FROM faults f WHERE f.box_id = o.box_id
                          AND (o.dp_id IS NULL OR f.dp_id = o.dp_id)), 0) AS recent_faults
        FROM o ORDER BY 1""", p)
    df["last_inspected"] = pd.to_datetime(df["last_inspected"])
    return df


def programme_start(conn: Connection, city: str, tz: str) -> dt.date | None:
    """The local day of the city's first inspection: when its cycle of inspections began."""
    return conn.execute(text("SELECT min(at AT TIME ZONE :tz)::date FROM inspections WHERE city_id = :c"),
                        {"c": city, "tz": tz}).scalar()


def streets(conn: Connection, city: str, crs: int) -> gpd.GeoSeries:
    """The city's streets in its metric CRS."""
    g = geoframe(conn, "SELECT ST_AsBinary(geometry) AS g FROM streets WHERE city_id = %(c)s ORDER BY id",
                 {"c": city}, geometry="g")
    return g.geometry.to_crs(crs)


def streets_version(conn: Connection, city: str) -> tuple:
    return tuple(conn.execute(text("SELECT count(*), max(id), sum(ST_NPoints(geometry)) FROM streets "
                                   "WHERE city_id = :c"), {"c": city}).one())


def record(conn: Connection, row: dict) -> dict:
    if row["result"] not in RESULTS:
        raise InputError(f"inspection result {row['result']!r} is not one of {', '.join(RESULTS)}")
    box = conn.execute(text("SELECT city_id FROM boxes WHERE id = :b"), {"b": row["box_id"]}).scalar()
    if box is None:
        raise NotFound(f"box {row['box_id']!r} does not exist")
    if row.get("dp_id") and conn.execute(text("SELECT 1 FROM distribution_points WHERE id = :d AND box_id = :b"),
                                         {"d": row["dp_id"], "b": row["box_id"]}).first() is None:
        raise NotFound(f"distribution box {row['dp_id']!r} is not a distribution box of box {row['box_id']!r}")
    return dict(conn.execute(text("""
        INSERT INTO inspections (city_id, box_id, dp_id, manager_id, at, result, note, photo, ticket_id, recorded_by)
        VALUES (:city, :box_id, :dp_id, :manager_id, :at, :result, :note, :photo, :ticket_id, :by)
        RETURNING id, box_id, dp_id, manager_id, at, result, note, photo, ticket_id, recorded_by"""),
        {"city": box, "dp_id": None, "note": None, "photo": None, "ticket_id": None, **row}).mappings().one())
