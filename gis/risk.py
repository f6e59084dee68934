"""What the fault-risk model (planning.risk) reads from the store: the boxes and the trunk and
distribution cables with what is known of them, and the faults each one counts.

A box counts the faults the KPIs give it (gis.tickets.BOX_OF_TICKET: its subscribers', its
distribution points', its own, its feeder cable's); a cable counts the faults the rebuild alerts
give it (cable_of: the cable a ticket names, else the feeder of the box a ticket on equipment
is on). Positions are in the city's metric CRS, for the neighbourhood features.
"""
from __future__ import annotations

import pandas as pd
from pyproj import Transformer
from sqlalchemy import Connection

from . import store
from . import tickets as store_tickets
from .frames import frame


def cable_of(t: pd.DataFrame, feeder: pd.Series) -> pd.Series:
    """The cable each fault counts for: the one on the ticket (a subscriber's fault names his
    drop), else the cable feeding the ticket's box. One rule for the rebuild alerts and the risk."""
    return t["cable_id"].where(t["cable_id"].notna(), t["box_id"].map(feeder))


def _metric(conn: Connection, city: str, df: pd.DataFrame) -> pd.DataFrame:
    to = Transformer.from_crs(4326, store.metric_crs(conn, city), always_xy=True)
    x, y = to.transform(df.pop("lon").to_numpy(float), df.pop("lat").to_numpy(float))
    return df.assign(x=x, y=y)


def boxes(conn: Connection, city: str) -> pd.DataFrame:
    """Every box: year, capacity, used ports, lines, and its drops' plant (aerial and copper
    shares, mean age), indexed by id."""
    df = frame(conn, """
        WITH drops AS (
            SELECT s.box_id, count(*) AS lines, avg((c.placement = 'aerial')::int) AS aerial_share,
                   avg((c.medium = 'copper')::int) AS copper_share, avg(c.year_laid) AS drop_year
            FROM subscribers s LEFT JOIN cables c ON c.id = s.drop_cable_id
            WHERE s.city_id = %(c)s GROUP BY s.box_id)
        SELECT b.id, b.year_installed AS year, b.capacity, b.used, coalesce(d.lines, 0) AS lines,
               d.aerial_share, d.copper_share, d.drop_year, b.feeder_cable_id,
               ST_X(b.geometry) AS lon, ST_Y(b.geometry) AS lat
        FROM boxes b LEFT JOIN drops d ON d.box_id = b.id WHERE b.city_id = %(c)s ORDER BY b.id""", {"c": city})
    df = _metric(conn, city, df).set_index("id")
    for c in ("aerial_share", "copper_share", "drop_year"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def cables(conn: Connection, city: str) -> pd.DataFrame:
    """Every trunk and distribution cable (a rebuild is planned on them): kind, medium,
    placement, year, capacity, length and the lines of the boxes it feeds, indexed by id."""
    df = frame(conn, """
        WITH fed AS (
            SELECT b.feeder_cable_id AS id, count(s.id) AS lines
            FROM boxes b JOIN subscribers s ON s.box_id = b.id WHERE b.city_id = %(c)s GROUP BY 1)
        SELECT c.id, c.kind, c.medium, c.placement, c.year_laid AS year, c.capacity, c.used,
               ST_Length(c.geometry::geography) AS length_m, coalesce(f.lines, 0) AS lines,
               ST_X(ST_PointOnSurface(c.geometry)) AS lon, ST_Y(ST_PointOnSurface(c.geometry)) AS lat
        FROM cables c LEFT JOIN fed f ON f.id = c.id
        WHERE c.city_id = %(c)s AND c.kind <> 'drop' ORDER BY c.id""", {"c": city})
    return _metric(conn, city, df).set_index("id")


def faults(conn: Connection, city: str, feeder: pd.Series) -> pd.DataFrame:
    """Every fault ticket with its time, subscriber, box (the KPIs' rule) and cable (cable_of)."""
    t = store_tickets.tickets(conn, city, columns=("subscriber_id", "box_id", "cable_id", "reported_at"))
    out = pd.DataFrame({"id": t["id"].to_numpy(), "at": t["reported_at"].to_numpy(),
                        "subscriber_id": t["subscriber_id"].to_numpy(), "box_id": t["box_id"].to_numpy()})
    out["cable_id"] = cable_of(t, feeder).to_numpy()
    out["at"] = pd.to_datetime(out["at"], utc=True)
    return out


def box_assets(df: pd.DataFrame, year: int) -> pd.DataFrame:
    """The boxes as planning.risk's assets (the drops' mean age at `year`)."""
    return df.assign(drop_age=year - df["drop_year"]).drop(columns=["drop_year", "feeder_cable_id"])


def as_events(f: pd.DataFrame, layer: str) -> pd.DataFrame:
    """The faults as planning.risk's events of a layer: `asset` the box or the cable."""
    col = "box_id" if layer == "boxes" else "cable_id"
    e = f[f[col].notna()]
    return pd.DataFrame({"asset": e[col].to_numpy(), "at": e["at"].to_numpy(),
                         "subscriber_id": e["subscriber_id"].to_numpy()}).astype({"asset": object})


def last_fault(conn: Connection, city: str):
    return conn.exec_driver_sql("SELECT max(reported_at) FROM fault_tickets WHERE city_id = %(c)s AND kind = 'fault'",
                                {"c": city}).scalar()

