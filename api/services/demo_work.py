"""The demo city's other work (gis.demo.work: complaints, installs, moves, enquiries) put into the
store beside its faults, once, before the loader steps every ticket through the loop."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, text

from gis import store
from gis.demo.work import other_work
from gis.frames import frame

COLUMNS = ["id", "city_id", "subscriber_id", "kind", "category", "note", "vip", "reported_at", "first_contact_at",
           "cleared_at", "geometry"]


def add_other_work(conn: Connection, city: str, seed: int) -> dict:
    """Add the city's other tickets over its faults' window (nothing if they are there already):
    {kind: count}."""
    have = conn.execute(text("SELECT 1 FROM fault_tickets WHERE city_id = :c AND kind <> 'fault' LIMIT 1"),
                        {"c": city}).first()
    window = conn.execute(text("SELECT min(reported_at), max(reported_at) FROM fault_tickets WHERE city_id = :c "
                               "AND kind = 'fault'"), {"c": city}).one()
    if have is not None or window[0] is None:
        return {}
    subs = frame(conn, "SELECT id, connected_since, monthly_revenue, ST_X(geometry) AS lon, ST_Y(geometry) AS lat "
                       "FROM subscribers WHERE city_id = %(c)s ORDER BY id", {"c": city})
    t = other_work(subs, pd.Timestamp(window[0]), pd.Timestamp(window[1]), city, seed)
    rows = gpd.GeoDataFrame(t.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(t["lon"], t["lat"]), crs=4326)
    store.copy_frame(conn, "fault_tickets", rows, COLUMNS)
    return {str(k): int(v) for k, v in t["kind"].value_counts().sort_index().items()}
