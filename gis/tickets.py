"""Fault tickets and the lines behind them, read from the store with everything a heatmap,
a hotspot map or a scorecard groups by: box, distribution point, cable kind and age, office,
community, and the district and manager of the city's active plan.

Tickets are stored in UTC; a city lives in its own time (`cities.timezone`, an IANA name), so
windows given as days are the city's local days."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from .errors import InputError
from .store import read_layer

SRID = 4326


def known_timezone(name) -> bool:
    """Whether `name` is an IANA time zone this machine knows (zoneinfo's database)."""
    if not isinstance(name, str) or not name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def city_timezone(conn: Connection, city: str) -> str:
    """The IANA time zone the city's days, months and clocks are in ('UTC' when not recorded)."""
    tz = conn.execute(text("SELECT timezone FROM cities WHERE id = :c"), {"c": city}).scalar()
    tz = tz or "UTC"
    if not known_timezone(tz):
        raise InputError(f"city {city!r} has an unknown time zone {tz!r} (expected an IANA name, e.g. Asia/Shanghai)")
    return tz


def local_start(day, tz: str, what: str = "day") -> pd.Timestamp:
    """The instant a local day (a date, 'YYYY-MM-DD' or a naive timestamp) begins in `tz`; an
    aware timestamp is taken as it is."""
    try:
        ts = pd.Timestamp(day)
    except (ValueError, TypeError):
        raise InputError(f"{what} {day!r} is not a day: expected YYYY-MM-DD, e.g. 2026-01-31") from None
    if ts is pd.NaT:
        raise InputError(f"{what} {day!r} is not a day: expected YYYY-MM-DD, e.g. 2026-01-31")
    # Midnight may not exist (or happen twice) on a day a zone changes its clocks: take the first.
    return ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward") if ts.tzinfo is None else ts


def ticket_range(conn: Connection, city: str, tz: str | None = None) -> tuple[dt.date, dt.date] | None:
    """The first and last local day on which the city's tickets were reported; None without any."""
    tz = tz or city_timezone(conn, city)
    row = conn.execute(text("SELECT (min(reported_at) AT TIME ZONE :tz)::date, "
                            "(max(reported_at) AT TIME ZONE :tz)::date FROM fault_tickets WHERE city_id = :c"),
                       {"c": city, "tz": tz}).one()
    return None if row[0] is None else (row[0], row[1])


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


def with_context(frame: pd.DataFrame, ctx: pd.DataFrame) -> pd.DataFrame:
    """`frame` (rows with box_id and dp_id: tickets or lines) with its office, community, and the
    active plan's district and manager; a row of a split box takes its dp's district."""
    out = frame.merge(ctx.drop_duplicates("box_id")[["box_id", "office_id", "community_id"]], on="box_id", how="left")
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


def lines(conn: Connection, city: str) -> gpd.GeoDataFrame:
    """Every subscriber line with its box, dp and the day it was connected, for rate surfaces
    and KPI denominators (the lines of a month are those connected by its end)."""
    # COPY out and Arrow (gis.store): 700,000 lines in a few seconds, not row by row.
    out = read_layer(conn, "subscribers", city, ["id", "box_id", "dp_id", "connected_since"])
    out["connected_since"] = pd.to_datetime(out["connected_since"])
    return out


def tickets(conn: Connection, city: str, start: dt.date | str | None = None, end: dt.date | str | None = None,
            *, tz: str | None = None) -> gpd.GeoDataFrame:
    """Fault tickets reported in [start, end) with their location (the ticket's point), box, dp,
    cable kind and year, and the box context (office, community, district, manager). `start`
    and `end` are the city's local days (its `timezone`, or `tz`)."""
    tz = tz or city_timezone(conn, city)
    start = local_start(start, tz, "the window's start") if start is not None else pd.Timestamp("1900-01-01", tz="UTC")
    end = local_start(end, tz, "the window's end") if end is not None else pd.Timestamp("2200-01-01", tz="UTC")
    if end <= start:
        raise InputError(f"the window is empty: the end {end.date()} is not after the start {start.date()}")
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
        ORDER BY t.reported_at, t.id""", {"c": city, "a": start, "b": end})
    geom = shapely.from_wkb([bytes(g) for g in df.pop("g")]) if len(df) else []
    for c in ("reported_at", "first_contact_at", "cleared_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    out = gpd.GeoDataFrame(with_context(df, box_context(conn, city)), geometry=gpd.GeoSeries(geom, crs=SRID))
    out.attrs["timezone"] = tz
    return out
