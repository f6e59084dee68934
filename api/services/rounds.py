"""The manager's inspection round: the boxes and distribution boxes due today in the districts
he holds that day (planning.rounds), and a route through them along the streets from his base
and back (planning.routes: OR-Tools, measured against 2-opt); and the inspections he records,
a hazard becoming a ticket routed like any other.
"""
from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import Connection, text

from gis import inspections as store, store as city_store, workorders
from gis.errors import InputError, NotFound
from gis.streets import StreetNetwork
from gis.tickets import city_timezone, local_start
from gis.users import User
from planning import rounds as due, routes

from . import risk, tickets
from .ticket_access import own_only
from .values import jsonable

# A city's street network, built once per process and kept while its streets are unchanged.
_NETWORKS: dict[str, tuple[tuple, StreetNetwork]] = {}
_LOCK = threading.Lock()


def network(conn: Connection, city: str, crs: int) -> StreetNetwork | None:
    version = store.streets_version(conn, city)
    if not version[0]:
        return None
    with _LOCK:
        hit = _NETWORKS.get(city)
        if hit and hit[0] == version:
            return hit[1]
    net = StreetNetwork.from_lines(store.streets(conn, city, crs))
    with _LOCK:
        _NETWORKS[city] = (version, net)
    return net


def manager_row(conn: Connection, user: User, manager_id: str, what: str = "round"):
    m = conn.execute(text("SELECT id, city_id, name, ST_X(geometry) AS x, ST_Y(geometry) AS y FROM managers "
                          "WHERE id = :m"), {"m": manager_id}).first()
    if m is None:
        raise NotFound(f"manager {manager_id!r} does not exist")
    own_only(user, manager_id, what)
    return m


def day_of(day, tz: str) -> dt.date:
    if day is None:
        return pd.Timestamp.now(tz).date()
    try:
        return day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
    except ValueError:
        raise InputError(f"date {day!r} is not a day: expected YYYY-MM-DD") from None


def round_of(conn: Connection, user: User, manager_id: str, day=None, *, cycle_days: int = due.CYCLE_DAYS) -> dict:
    """Today's round of one manager: the objects due, in the order to visit them, the route's
    length and its legs, and the route as GeoJSON (EPSG:4326)."""
    if not isinstance(cycle_days, int) or not 3 <= cycle_days <= 365:
        raise InputError(f"cycle_days {cycle_days!r} is not a whole number of days from 3 to 365")
    m = manager_row(conn, user, manager_id)
    tz = city_timezone(conn, m.city_id)
    day = day_of(day, tz)
    start = local_start(day, tz).to_pydatetime()
    # The districts he holds that day: at noon, or now when the day is today (a stand-in who
    # began this morning has today's round).
    today = pd.Timestamp.now(tz).date() == day
    held = workorders.held_districts(conn, manager_id, tickets.utc_now() if today else start + dt.timedelta(hours=12))
    objs = store.objects(conn, held, start, tz)
    # The fault risk's ranking of the city's boxes (planning.risk): the riskiest come sooner.
    expected = risk.expected_faults(conn, m.city_id, "boxes") if len(objs) else None
    if expected is not None:
        ranks = expected.rank(ascending=False, method="min")
        objs["risk_rank"], objs["risk_of"] = objs["box_id"].map(ranks).to_numpy(float), float(len(ranks))
    since = store.programme_start(conn, m.city_id, tz) or day
    stops = due.due_on(objs, day, since=min(since, day), cycle_days=cycle_days)
    crs = city_store.metric_crs(conn, m.city_id)
    out = {"manager_id": manager_id, "date": day.isoformat(), "districts": held, "boxes_held": len(objs),
           "due": len(stops), "cycle_days": cycle_days}
    if m.x is None:
        raise InputError(f"manager {manager_id!r} has no base: a round starts and ends at the manager's base")
    if stops.empty:
        return jsonable({**out, "length_m": 0.0, "stops": [], "route": None})
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    bx, by = to_m.transform([m.x], [m.y])
    sx, sy = to_m.transform(stops["x"].to_numpy(), stops["y"].to_numpy())
    net = network(conn, m.city_id, crs)
    if net is None:
        raise InputError(f"city {m.city_id!r} has no streets: a round follows the streets")
    r = routes.route(net, np.array([bx[0], by[0]]), np.column_stack([sx, sy]))
    ordered = stops.iloc[r.order].reset_index(drop=True)
    ordered["leg_m"] = r.legs_m[:len(r.order)]
    back = Transformer.from_crs(crs, 4326, always_xy=True)
    line = shapely.transform(r.geometry, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    out.update(length_m=round(float(r.length_m), 1), back_to_base_m=round(float(r.legs_m[-1]), 1),
               stops=[{"stop": i + 1, "id": o.id, "box_id": o.box_id, "dp_id": o.dp_id, "district_id": o.district_id,
                       "lon": o.x, "lat": o.y, "leg_m": round(float(o.leg_m), 1), "reason": o.reason,
                       "overdue_days": int(o.overdue_days)} for i, o in enumerate(ordered.itertuples())],
               route=shapely.geometry.mapping(line) if not line.is_empty else None)
    return jsonable(out)


def record(conn: Connection, user: User, manager_id: str, box_id: str, *, dp_id: str | None = None,
           result: str = "ok", note: str | None = None, photo: str | None = None, at=None) -> dict:
    """An inspection, by the manager himself (or a planner for him); a hazard becomes a ticket on
    that box, routed as any other (to the district's manager: usually himself)."""
    if user.role not in ("manager", "planner"):
        raise NotFound("inspections are recorded by managers")
    m = manager_row(conn, user, manager_id)
    if result not in store.RESULTS:
        raise InputError(f"inspection result {result!r} is not one of {', '.join(store.RESULTS)}")
    if result == "hazard" and not (note or "").strip():
        raise InputError("a hazard needs a note saying what was found")
    now = tickets.utc_now()
    when = now if at is None else tickets.instant(at, "at", now)
    ticket = None
    if result == "hazard":
        ticket = tickets.create(conn, User(user.name, "manager", manager_id) if user.role == "manager" else user,
                                tickets.NewTicket(kind="fault", box_id=box_id, severity=2,
                                                  note=f"hazard found on inspection: {note}"), now=now)
    row = store.record(conn, {"box_id": box_id, "dp_id": dp_id, "manager_id": m.id, "at": when, "result": result,
                              "note": note, "photo": photo, "ticket_id": ticket and ticket["id"], "by": user.name})
    return jsonable({**row, "ticket": ticket})


def rounds_of_city(conn: Connection, user: User, city: str, day=None) -> list[dict]:
    """Every manager's round of the day (the benchmark's and the planners' overview)."""
    ids = conn.execute(text("SELECT id FROM managers WHERE city_id = :c AND active AND geometry IS NOT NULL "
                            "ORDER BY id"), {"c": city}).scalars().all()
    return [round_of(conn, user, m, day) for m in ids]
