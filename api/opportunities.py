"""The store's door onto planning.opportunities: read the city's network and demand, evaluate,
and sync the alerts (one transaction), with a reason for every alert it closes."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from gis import alerts as store_alerts
from gis import store
from planning.opportunities import Scan, evaluate


def _feeder_cables(conn, city_id: str):
    """Trunk and distribution cables: a rebuild is planned on them, not on single drops."""
    import geopandas as gpd
    import shapely
    res = conn.execute(text("SELECT id, kind, year_laid, ST_AsBinary(geometry) AS g FROM cables "
                            "WHERE city_id = :c AND kind <> 'drop'"), {"c": city_id})
    df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    geom = shapely.from_wkb([bytes(g) for g in df.pop("g")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=4326))


def fault_hotspots(conn, city_id: str):
    """Hot cells of the last 12 months of tickets (Gi* on faults per line), with their faults a
    year, for the rebuild alerts; None when there are no tickets."""
    from gis import tickets as store_tickets
    from planning import hotspots
    last = conn.execute(text("SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c"), {"c": city_id}).scalar()
    if last is None:
        return None
    t = store_tickets.tickets(conn, city_id, pd.Timestamp(last).tz_convert(None) - pd.DateOffset(years=1), None)
    if len(t) < 10:
        return None
    cid = hotspots.cell_ids(t, 9)
    cells = hotspots.hex_counts(t, resolution=9, lines=store_tickets.lines(conn, city_id), cells=cid)
    hot = hotspots.gi_star(cells, "faults", rate_of="lines")
    hot = hot[hot["hot"]][["cell", "faults", "gi_z", "geometry"]]
    # Each hot fault's cable: the one on the ticket, else the one feeding its box.
    feeder = dict(conn.execute(text("SELECT id, feeder_cable_id FROM boxes WHERE city_id = :c"), {"c": city_id}).all())
    inside = t[np.isin(cid, hot["cell"].to_numpy())]
    cable = inside["cable_id"].where(inside["cable_id"].notna(), inside["box_id"].map(feeder))
    return hot, cable.value_counts()


def evaluate_city(engine: Engine, city: str | None = None, *, use_streets: bool = True, actor: str = "pianqu evaluate",
                  rebuild: bool = True, **rules) -> tuple[Scan, dict]:
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        crs = conn.execute(text("SELECT metric_crs FROM cities WHERE id = :c"), {"c": city_id}).scalar_one()
        boxes = store.read_layer(conn, "boxes", city_id, columns=["id", "capacity", "used"])
        demand = store.read_layer(conn, "construction_reports", city_id,
                                  columns=["id", "households", "floor_area_m2", "kind", "stage"])
        subscribers = store.read_layer(conn, "subscribers", city_id, columns=["id", "box_id", "connected_since"])
        streets = store.read_layer(conn, "streets", city_id, columns=["id"]) if use_streets else None
        outline = store.read_layer(conn, "cities", city_id, columns=["id"])
        outline = outline[outline.geometry.notna()]
        found = fault_hotspots(conn, city_id) if rebuild else None
        hot, cables = None, None
        if found is not None:
            hot, per_cable = found
            cables = _feeder_cables(conn, city_id)
            cables["hot_faults"] = per_cable.reindex(cables["id"]).fillna(0).to_numpy()
    scan = evaluate(boxes, demand, crs=crs, subscribers=subscribers, outline=outline if len(outline) else None,
                    streets=streets if streets is not None and len(streets) else None, cables=cables,
                    hotspots=hot, **rules)
    with engine.begin() as conn:
        counts = store_alerts.sync(conn, city_id, scan.alerts, actor=actor, why_gone=_why_gone(scan, set(demand["id"])))
    return scan, {"city": city_id, **counts, **scan.summary()}


def _why_gone(scan: Scan, report_ids: set):
    """The reason an open alert is closed, in a planner's words, from what the evaluation saw."""
    sites = scan.sites.set_index("site")
    boxes = scan.boxes.set_index("box_id")
    th = scan.parameters["threshold"]

    def why(kind: str, key: str) -> str:
        if kind == "extend_network":
            if key in sites.index:
                s = sites.loc[key]
                return (f"box {s['serving_box']} within {scan.parameters['reach_m']:g} m now has room for "
                        f"{s['expected_lines']:.0f} lines")
            if key in report_ids:
                merged = sites[sites["reports"].map(lambda r: key in r)].index
                return f"report {key} is the same site as {merged[0]}, which carries the alert" if len(merged) else \
                    f"report {key} is no longer evaluated"
            return f"report {key} is no longer in the store"
        if kind == "expand_box":
            if key in boxes.index:
                b = boxes.loc[key]
                return (f"utilisation {b['utilisation']:.0%}, forecast {b['forecast_utilisation']:.0%}: within the "
                        f"threshold of {th:.0%}")
            return f"box {key} is no longer in the store"
        if kind == "outside_coverage":
            return "the area's demand is now within reach of a box, or gone"
        return "the cable or its hotspot is gone"
    return why


def alert_frame(engine: Engine, city: str | None, kind: str | None, status: str | None,
                limit: int | None = None) -> pd.DataFrame:
    with engine.connect() as conn:
        return store_alerts.list_alerts(conn, store.resolve_city(conn, city), kind, status, limit)
