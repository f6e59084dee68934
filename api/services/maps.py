"""The map pages' service: what a page needs to draw itself (the city's box, the active plan's
districts with their figures and label points, the tile layers, the fault window), for the
caller's role. The pages then read everything else from the API (tiles, GeoJSON, lookups)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from gis import alerts as store_alerts
from gis import assignments, mapdata, store, tiles
from gis import plans as store_plans
from gis.config import basemap_url
from gis.errors import InputError, NotFound
from gis.users import User

from . import alerts as alert_svc
from . import districts as district_svc
from . import plans as plan_svc

FAULT_WINDOW_DAYS = 90     # the heatmap and hotspots a map opens with: the last quarter of tickets


def planner_map(conn: Connection, user: User, city: str | None = None) -> dict:
    """The planner map's configuration (JSON the page reads before it asks the API for tiles)."""
    city_id = store.resolve_city(conn, city)
    try:
        plan = district_svc.district_list(conn, city_id)
    except NotFound:            # no active plan yet: the map draws the network alone
        plan = {"plan_id": None, "kpi_month": None, "districts": []}
    labels = mapdata.district_labels(conn, plan["plan_id"]) if plan["plan_id"] else {}
    days = mapdata.ticket_days(conn, city_id)
    window = None
    if days is not None:
        window = {"from": max(days[0], days[1] - dt.timedelta(days=FAULT_WINDOW_DAYS - 1)).isoformat(),
                  "to": days[1].isoformat()}
    return {
        "user": {"name": user.name, "role": user.role, "manager_id": user.manager_id},
        "can_edit": user.role == "planner",
        "city": city_id, "bounds": mapdata.city_bounds(conn, city_id),
        "plan_id": plan["plan_id"], "kpi_month": plan["kpi_month"],
        "districts": [{k: d[k] for k in ("id", "code", "manager_id", "manager_name", "subscribers", "workload",
                                         "deviation", "boxes", "open_faults")} | {"label": labels.get(d["id"])}
                      for d in plan["districts"]],
        "layers": {lay.id: {"minzoom": lay.minzoom, "fields": lay.fields(), "note": lay.note}
                   for lay in tiles.LAYERS.values()},
        "fault_window": window,
        "basemap": basemap_url(),
        # The alert life cycle the popups offer (the store's rule, not a copy of it): status ->
        # the steps a planner may take from it, each an action of POST /alerts/{id}/{action}.
        "alert_steps": {status: [a for a, to in alert_svc.STEPS.items() if to in nexts]
                        for status, nexts in store_alerts.STEPS.items()},
    }


def comparison(conn: Connection, user: User, plan_a: str, plan_b: str) -> dict:
    """The plan comparison page's configuration: both plans' metrics, the units that change
    district (with the subscribers, revenue and monthly fault load that move with them) and the
    city's box; the page draws both plans' districts from the API's GeoJSON."""
    diff = plan_svc.diff(conn, plan_a, plan_b)
    return {"user": {"name": user.name, "role": user.role}, "a": diff["a"], "b": diff["b"], "totals": diff["totals"],
            "units": diff["units"], "city": diff["city"], "bounds": mapdata.city_bounds(conn, diff["city"])}


def district_page(conn: Connection, user: User, district: str) -> dict:
    """The district page's configuration: the district as the managers' API gives it (boxes,
    figures, manager and history, open alerts) and where it is; the page reads its KPIs over the
    months from the API."""
    d = district_svc.district_detail(conn, district)
    return {"user": {"name": user.name, "role": user.role}, "district": d,
            "bounds": mapdata.district_bounds(conn, district)}


def standalone(conn: Connection, city: str | None = None, plan: str | None = None) -> dict:
    """What a self-contained planner map (`pianqu map --out FILE.html`) holds: the plan's
    districts (the active plan by default) with their figures and labels, and the boxes with their
    utilisation, as GeoJSON, with the city's box: a file to send by mail, opened with no server
    and no internet."""
    city_id = store.resolve_city(conn, city)
    plan_id = plan or assignments.active_plan(conn, city_id)
    header = store_plans.plan_header(conn, plan_id)
    if header["city_id"] != city_id:
        raise InputError(f"plan {plan_id!r} is a plan of city {header['city_id']!r}, not of {city_id!r}")
    labels = mapdata.district_labels(conn, plan_id)
    features = store_plans.district_features(conn, plan_id)
    for f in features:
        f["properties"]["label"] = labels.get(f["id"])
    boxes = store.read_layer(conn, "boxes", city_id, ["id", "capacity", "used"])
    return {"city": city_id, "plan_id": plan_id, "plan_name": header["name"], "status": header["status"],
            "report": {k: (header["report"] or {}).get(k) for k in ("max_deviation", "tolerance", "target",
                                                                   "polsby_popper_mean", "n_districts")},
            "bounds": mapdata.city_bounds(conn, city_id),
            "districts": {"type": "FeatureCollection", "features": features},
            "boxes": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [round(g.x, 6), round(g.y, 6)]},
                 "properties": {"id": i, "capacity": int(c), "used": int(u)}}
                for i, c, u, g in zip(boxes["id"], boxes["capacity"], boxes["used"], boxes.geometry)]}}
