"""Fault tickets and the lines behind them, read from the store with everything a heatmap,
a hotspot map or a scorecard groups by: box, distribution point, cable kind and age, office,
community, and the district and manager of the city's active plan."""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from .errors import InputError

SRID = 4326


def _frame(conn: Connection, sql: str, params: dict) -> pd.DataFrame:
    res = conn.execute(text(sql), params)
    return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def box_context(conn: Connection, city: str) -> pd.DataFrame:
    """One row per box (and per distribution point of a box split between districts): office,
    community (the one its box stands in), lines, and the active plan's district and manager."""
    boxes = _frame(conn, """
        SELECT b.id AS box_id, b.office_id, b.capacity, b.used, b.year_installed,
               (SELECT a.id FROM admin_areas a WHERE a.city_id = b.city_id AND a.level = 'community'
                 ORDER BY a.geometry <-> b.geometry LIMIT 1) AS community_id,
               (SELECT count(*) FROM subscribers s WHERE s.box_id = b.id) AS lines
        FROM boxes b WHERE b.city_id = :c""", {"c": city})
    members = _frame(conn, """
        SELECT m.box_id, m.dp_id, d.code AS district,
               (SELECT x.manager_id FROM district_assignments x WHERE x.district_id = d.id
                  AND x.valid_from <= now() AND (x.valid_to IS NULL OR x.valid_to > now()) LIMIT 1) AS manager_id
        FROM district_members m JOIN districts d ON d.id = m.district_id
        JOIN district_plans p ON p.id = m.plan_id
        WHERE p.city_id = :c AND p.status = 'active'""", {"c": city})
    whole = members[members["dp_id"].isna()].drop(columns="dp_id")
    out = boxes.merge(whole, on="box_id", how="left")
    out["dp_id"] = None
    split = members[members["dp_id"].notna()]
    if len(split):  # a split box: one row per dp, each with its own district
        per_dp = boxes.merge(split, on="box_id")
        out = pd.concat([out[~out["box_id"].isin(split["box_id"])], per_dp], ignore_index=True)
    return out


def lines(conn: Connection, city: str) -> gpd.GeoDataFrame:
    """Every subscriber line with its box and dp, for rate surfaces and KPI denominators."""
    df = _frame(conn, "SELECT id, box_id, dp_id, ST_AsBinary(geometry) AS g FROM subscribers WHERE city_id = :c",
                {"c": city})
    geom = shapely.from_wkb([bytes(g) for g in df.pop("g")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=SRID))


def tickets(conn: Connection, city: str, start: dt.date | str | None = None, end: dt.date | str | None = None
            ) -> gpd.GeoDataFrame:
    """Fault tickets reported in [start, end) with their location (the ticket's point), box, dp,
    cable kind and year, and the box context (office, community, district, manager)."""
    start = pd.Timestamp(start) if start is not None else pd.Timestamp("1900-01-01")
    end = pd.Timestamp(end) if end is not None else pd.Timestamp("2200-01-01")
    if end <= start:
        raise InputError(f"the window is empty: --to {end.date()} is not after --from {start.date()}")
    tz = "Asia/Shanghai"
    df = _frame(conn, """
        SELECT t.id, t.subscriber_id,
               coalesce(s.box_id, t.box_id, d.box_id,
                        -- a fault on a cable belongs to the box that cable feeds, or its dps hang off
                        (SELECT b.id FROM boxes b WHERE b.feeder_cable_id = t.cable_id LIMIT 1),
                        (SELECT d2.box_id FROM distribution_points d2 WHERE d2.cable_id = t.cable_id LIMIT 1))
                 AS box_id,
               coalesce(s.dp_id, t.dp_id) AS dp_id, coalesce(t.cable_id, s.drop_cable_id) AS cable_id,
               c.kind AS cable_kind, c.year_laid, t.cause, t.severity, t.vip,
               t.reported_at, t.first_contact_at, t.cleared_at, ST_AsBinary(t.geometry) AS g
        FROM fault_tickets t
        LEFT JOIN subscribers s ON s.id = t.subscriber_id
        LEFT JOIN distribution_points d ON d.id = t.dp_id
        LEFT JOIN cables c ON c.id = coalesce(t.cable_id, s.drop_cable_id)
        WHERE t.city_id = :c AND t.reported_at >= :a AND t.reported_at < :b
        ORDER BY t.reported_at, t.id""",
                {"c": city, "a": start.tz_localize(tz) if start.tzinfo is None else start,
                 "b": end.tz_localize(tz) if end.tzinfo is None else end})
    geom = shapely.from_wkb([bytes(g) for g in df.pop("g")]) if len(df) else []
    for c in ("reported_at", "first_contact_at", "cleared_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=SRID))
    ctx = box_context(conn, city)
    out = out.merge(ctx.drop_duplicates("box_id")[["box_id", "office_id", "community_id"]], on="box_id", how="left")
    whole = ctx[ctx["dp_id"].isna()]
    out = out.merge(whole[["box_id", "district", "manager_id"]], on="box_id", how="left")
    split = ctx[ctx["dp_id"].notna()]
    if len(split):
        fill = out[["box_id", "dp_id"]].merge(split[["box_id", "dp_id", "district", "manager_id"]],
                                             on=["box_id", "dp_id"], how="left")
        has = fill["district"].notna().to_numpy()
        out.loc[has, "district"] = fill.loc[has, "district"].to_numpy()
        out.loc[has, "manager_id"] = fill.loc[has, "manager_id"].to_numpy()
    return out
