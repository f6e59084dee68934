"""District plans in the store: the planning units of a city, saving a plan as a draft,
activating it atomically, and reading it back (its districts as GeoJSON, the units that change
district between two plans)."""
from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from . import store, tiles
from .errors import Conflict, InputError, NotFound
from .holding import in_force
from .tickets import BOX_OF_TICKET
from .units import service_areas

PARENT_LEVELS = {"communities": "community", "community": "community",
                 "office_regions": "office_region", "office_region": "office_region", "regions": "office_region"}


def city_units(conn: Connection, city: str, *, cell: float = 10.0, simplify: float = 60.0,
               split_above: float | None = None, districts: int | None = None, slow: tuple[str, ...] = (),
               ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The city's planning units (one per box, in the city's metric CRS) with their workload
    columns, and the barriers-and-crossings layer for their adjacency.

    Workload columns: `subscribers`, `revenue` (monthly), `faults` (tickets per month over the
    last 12 months of data), `area_km2`. A box with more than `split_above` subscribers is split
    into one unit per distribution point (`unit_id` box/dp); every other unit is a whole box.
    Barriers of the kinds in `slow` (e.g. "motorway") only slow districts' growth instead of
    cutting it (their `effect` is "slow")."""
    crs = store.metric_crs(conn, city)
    subs = store.read_layer(conn, "subscribers", city, ["id", "box_id", "dp_id", "monthly_revenue"])
    if len(subs) == 0:
        raise NotFound(f"city {city!r} has no subscribers to plan for")
    per_box = subs.groupby("box_id").size()
    check_district_count(districts, len(per_box))
    big = set(per_box.index[per_box > split_above]) if split_above else set()
    subs["unit_id"] = np.where(subs["box_id"].isin(big), subs["box_id"] + "/" + subs["dp_id"], subs["box_id"])
    outline = store.read_layer(conn, "cities", None).set_index("id").loc[[city]].geometry
    barriers = store.read_layer(conn, "barriers", city, ["id", "kind"])
    crossings = store.read_layer(conn, "crossings", city, ["id", "kind", "barrier_id"])
    outline = outline if outline.notna().all() and not outline.is_empty.any() else None
    # A dp in the same building as a bigger one has no area of its own: it goes with that one.
    units = service_areas(subs, unit="unit_id", outline=outline, barriers=barriers, crs=crs, cell=cell,
                          simplify=simplify, absorb=True)
    units["box_id"] = units["unit_id"].str.split("/").str[0]
    units["dp_id"] = units["unit_id"].str.split("/").str[1]
    into = {o: u for u, a in zip(units["unit_id"], units["absorbed"]) if a for o in a.split(";")}
    key = subs["unit_id"].map(lambda x: into.get(x, x))
    units["revenue"] = subs.groupby(key)["monthly_revenue"].sum().reindex(units["unit_id"]).to_numpy()
    fault_rate = box_fault_rates(conn, city)
    units["faults"] = fault_rate.reindex(units["box_id"]).fillna(0).to_numpy()
    units["area_km2"] = units.area / 1e6
    # Parent areas by where each unit's box stands.
    boxes = store.read_layer(conn, "boxes", city, ["id"]).to_crs(crs).set_index("id")
    areas = store.read_layer(conn, "admin_areas", city, ["id", "level"]).to_crs(crs)
    pts = boxes.geometry.reindex(units["box_id"]).to_numpy()
    for level in ("community", "office_region"):
        lay = areas[areas["level"] == level]
        col = np.full(len(units), None, dtype=object)
        if len(lay):
            tree = shapely.STRtree(lay.geometry.to_numpy())
            _, nearest = tree.query_nearest(pts, all_matches=False)
            col = lay["id"].to_numpy()[nearest]
        units[level] = col
    bad = set(slow) - {"river", "rail", "motorway"}
    if bad:
        raise InputError(f"unknown barrier kind {sorted(bad)[0]!r}; kinds: river, rail, motorway")
    barriers["effect"] = np.where(barriers["kind"].isin(list(slow)), "slow", "block")
    network = pd.concat([barriers[["id", "effect", "geometry"]], crossings[["id", "geometry"]]], ignore_index=True)
    return units, gpd.GeoDataFrame(network, geometry="geometry", crs=barriers.crs or 4326)


def box_fault_rates(conn: Connection, city: str) -> pd.Series:
    """Fault tickets per month of each box over the city's last 12 months of tickets. A ticket's
    box by the KPIs' own rule (gis.tickets.BOX_OF_TICKET: a cable fault belongs to the box that
    cable feeds), so a plan's fault workload and the KPIs count the same faults."""
    faults = conn.execute(text(
        f"SELECT {BOX_OF_TICKET} AS box, count(*) FROM fault_tickets t "
        "LEFT JOIN subscribers s ON s.id = t.subscriber_id LEFT JOIN distribution_points d ON d.id = t.dp_id "
        "WHERE t.city_id = :c AND t.kind = 'fault' AND t.reported_at > (SELECT max(reported_at) FROM fault_tickets "
        "WHERE city_id = :c AND kind = 'fault') - interval '12 months' GROUP BY 1"), {"c": city}).all()
    return pd.Series(dict(faults), dtype=float) / 12


def check_district_count(districts: int | None, boxes: int) -> None:
    if districts and districts > boxes:
        raise InputError(f"{districts} districts asked of {boxes} boxes with subscribers: a district is "
                         f"at least one whole box (only a box larger than a district is split), so at most "
                         f"{boxes} districts are possible")


def previous_labels(conn: Connection, plan_id: str) -> pd.Series:
    """District code of every box (or box/dp) in a stored plan."""
    rows = conn.execute(text(
        "SELECT m.box_id || coalesce('/' || m.dp_id, ''), d.code FROM district_members m "
        "JOIN districts d ON d.id = m.district_id WHERE m.plan_id = :p"), {"p": plan_id}).all()
    if not rows:
        raise NotFound(f"plan {plan_id!r} has no districts (or does not exist)")
    return pd.Series(dict(rows))


def next_plan_id(conn: Connection, city: str) -> str:
    n = conn.execute(text("SELECT count(*) FROM district_plans WHERE city_id = :c"), {"c": city}).scalar()
    return f"{city}-plan-{n + 1:03d}"


def save_plan(conn: Connection, city: str, units: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, report: dict, *,
              parameters: dict, name: str | None = None, previous: str | None = None,
              parent_level: str | None = None, created_by: str | None = None) -> str:
    """Store a plan as a draft with its districts and members, in the caller's transaction."""
    store.writing(conn)
    plan_id = next_plan_id(conn, city)
    conn.execute(text(
        "INSERT INTO district_plans (id, city_id, name, status, parent_level, previous_plan_id, parameters, "
        "report, created_by) VALUES (:id, :c, :n, 'draft', :pl, :prev, CAST(:params AS jsonb), "
        "CAST(:rep AS jsonb), :by)"),
        {"id": plan_id, "c": city, "n": name or plan_id, "pl": parent_level, "prev": previous,
         "params": json.dumps(parameters, default=str), "rep": json.dumps(report, default=float),
         "by": created_by})
    _save_content(conn, plan_id, units, districts, parent_level)
    return plan_id


def replace_plan(conn: Connection, plan_id: str, units: gpd.GeoDataFrame, districts: gpd.GeoDataFrame,
                 report: dict) -> None:
    """A draft's districts, members and units replaced by new ones (a hand edit saved again), in
    the caller's transaction; its header stays, its report is the new one."""
    store.writing(conn)
    row = conn.execute(text("SELECT status, parent_level FROM district_plans WHERE id = :p FOR UPDATE"),
                       {"p": plan_id}).first()
    if row is None or row.status != "draft":
        raise Conflict(f"plan {plan_id!r} is not a draft: only a draft is changed in place")
    # Its districts' cached tiles go in the same transaction (a map asking ?plan= this draft).
    tiles.forget(conn, "districts", plan=plan_id)
    for table in ("district_members", "plan_units", "districts"):
        conn.execute(text(f"DELETE FROM {table} WHERE plan_id = :p"), {"p": plan_id})
    conn.execute(text("UPDATE district_plans SET report = CAST(:rep AS jsonb) WHERE id = :p"),
                 {"p": plan_id, "rep": json.dumps(report, default=float)})
    _save_content(conn, plan_id, units, districts, row.parent_level)


def _save_content(conn: Connection, plan_id: str, units: gpd.GeoDataFrame, districts: gpd.GeoDataFrame,
                  parent_level: str | None) -> None:
    d = districts.to_crs(4326)
    parent = None
    if parent_level and parent_level in units.columns:
        parent = units.groupby("district")[parent_level].first()
    rows = [{"id": f"{plan_id}-{code}", "p": plan_id, "code": code,
             "parent": None if parent is None else parent.get(code),
             "subs": int(sub), "load": float(load),
             "totals": json.dumps({k: float(r[k]) for k in ("revenue", "faults", "area_km2", "units",
                                                            "deviation", "polsby_popper") if k in r}),
             "g": shapely.to_wkt(shapely.multipolygons(shapely.get_parts(geom)) if geom.geom_type == "Polygon"
                                 else geom)}
            for code, sub, load, geom, (_, r) in zip(d["district"], d["subscribers"], d["workload"],
                                                    d.geometry, d.iterrows())]
    conn.execute(text(
        "INSERT INTO districts (id, plan_id, code, parent_area_id, subscribers, workload, totals, geometry) "
        "VALUES (:id, :p, :code, :parent, :subs, :load, CAST(:totals AS jsonb), ST_GeomFromText(:g, 4326))"), rows)
    members = [{"id": f"{plan_id}/{u}", "p": plan_id, "d": f"{plan_id}-{code}", "b": b,
                "dp": None if pd.isna(dp) else dp}
               for u, code, b, dp in zip(units["unit_id"], units["district"], units["box_id"], units["dp_id"])]
    # Units absorbed into a neighbour in the same building go where it goes.
    absorbed = units["absorbed"] if "absorbed" in units.columns else pd.Series("", index=units.index)
    for a, code in zip(absorbed.fillna(""), units["district"]):
        for u in filter(None, str(a).split(";")):
            b, _, dp = u.partition("/")
            members.append({"id": f"{plan_id}/{u}", "p": plan_id, "d": f"{plan_id}-{code}", "b": b, "dp": dp or None})
    conn.execute(text("INSERT INTO district_members (id, plan_id, district_id, box_id, dp_id) "
                      "VALUES (:id, :p, :d, :b, :dp)"), members)
    if "neighbours" in units.columns:
        save_units(conn, plan_id, units)
    return plan_id


def save_units(conn: Connection, plan_id: str, units: gpd.GeoDataFrame) -> None:
    """The plan's units with their workload and neighbours (planning.partition.layer's `graph`
    columns: positions, stored as unit ids), for editing the plan by hand."""
    ids = units["unit_id"].astype(str).to_numpy()
    geoms = units.geometry.to_crs(4326).to_numpy()
    absorbed = units["absorbed"] if "absorbed" in units.columns else pd.Series(None, index=units.index)
    rows = [{"p": plan_id, "u": u, "b": b, "dp": None if pd.isna(dp) else dp, "c": c, "w": float(w), "s": int(s),
             "n": [ids[j] for j in nb], "a": a if isinstance(a, str) and a else None,
             "g": shapely.to_wkb(shapely.multipolygons([g]) if g.geom_type == "Polygon" else g)}
            for u, b, dp, c, w, s, nb, a, g in zip(ids, units["box_id"], units["dp_id"], units["district"],
                                                    units["workload"], units["subscribers"], units["neighbours"],
                                                    absorbed, geoms)]
    conn.execute(text("INSERT INTO plan_units (plan_id, unit_id, box_id, dp_id, code, workload, subscribers, "
                      "neighbours, absorbed, geometry) VALUES (:p, :u, :b, :dp, :c, :w, :s, :n, :a, "
                      "ST_GeomFromWKB(:g, 4326))"), rows)


def plan_units(conn: Connection, plan_id: str, *, geometry: bool = True) -> pd.DataFrame:
    """A plan's units as saved: unit_id, box_id, dp_id, district (code), workload, subscribers,
    neighbours (unit ids), absorbed, and (`geometry`) their service areas in EPSG:4326 as a
    GeoDataFrame; empty for a plan made before plans kept them. Without the geometry, a check of
    an edit reads the graph alone, not every unit's polygon."""
    from .frames import frame, geoframe
    cols = "unit_id, box_id, dp_id, code AS district, workload, subscribers, neighbours, absorbed"
    if not geometry:
        return frame(conn, f"SELECT {cols} FROM plan_units WHERE plan_id = %(p)s ORDER BY unit_id", {"p": plan_id})
    return geoframe(conn, f"SELECT {cols}, ST_AsBinary(geometry) AS geometry FROM plan_units WHERE plan_id = %(p)s "
                          "ORDER BY unit_id", {"p": plan_id})


def plan_version(conn: Connection, plan_id: str) -> str:
    """The version of a plan's districts (an ETag): the MD5 of its members' district codes, so a
    save over a plan someone else saved meanwhile is seen."""
    v = conn.execute(text("SELECT md5(coalesce(string_agg(m.id || '=' || d.code, ',' ORDER BY m.id), '')) FROM "
                          "district_members m JOIN districts d ON d.id = m.district_id WHERE m.plan_id = :p"),
                     {"p": plan_id}).scalar()
    return '"' + v + '"'




def activate_plan(conn: Connection, plan_id: str) -> dict:
    """Make a plan the city's active one; the one it replaces is archived in the same transaction
    (the caller's), so at every moment the city has exactly the old or exactly the new plan active."""
    store.writing(conn)
    row = conn.execute(text("SELECT city_id, status FROM district_plans WHERE id = :p FOR UPDATE"),
                       {"p": plan_id}).one_or_none()
    if row is None:
        raise NotFound(f"plan {plan_id!r} does not exist")
    city, status = row
    # Activations of one city take turns (the city's row is their lock): two planners activating
    # two drafts at once both succeed, one after the other, instead of one tripping over the
    # unique "one active plan per city" index half-way.
    conn.execute(text("SELECT id FROM cities WHERE id = :c FOR UPDATE"), {"c": city})
    if status == "active":
        raise Conflict(f"plan {plan_id!r} is already active")
    n = conn.execute(text("SELECT count(*) FROM districts WHERE plan_id = :p"), {"p": plan_id}).scalar()
    if not n:
        raise Conflict(f"plan {plan_id!r} has no districts; it cannot be activated")
    old = conn.execute(text("UPDATE district_plans SET status = 'archived' WHERE city_id = :c AND status = 'active' "
                            "RETURNING id"), {"c": city}).scalars().all()
    conn.execute(text("UPDATE district_plans SET status = 'active', activated_at = :t WHERE id = :p"),
                 {"p": plan_id, "t": dt.datetime.now(dt.timezone.utc)})
    return {"plan": plan_id, "city": city, "archived": old}


def plan_summary(conn: Connection, plan_id: str) -> dict:
    row = conn.execute(text("SELECT id, city_id, name, status, parameters, report, created_at, activated_at, "
                            "previous_plan_id FROM district_plans WHERE id = :p"), {"p": plan_id}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"plan {plan_id!r} does not exist")
    districts = conn.execute(text("SELECT code, subscribers, workload, totals FROM districts WHERE plan_id = :p "
                                  "ORDER BY code"), {"p": plan_id}).mappings().all()
    out = dict(row)
    out["districts"] = [dict(d) for d in districts]
    return out


def list_plans(conn: Connection, city: str) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT id, name, status, created_at, activated_at, (report->>'max_deviation')::float AS max_deviation, "
        "(report->>'n_districts')::int AS n_districts FROM district_plans WHERE city_id = :c ORDER BY created_at"),
        {"c": city}).mappings()]


def parent_level(name: str | None) -> str | None:
    if name is None:
        return None
    if name not in PARENT_LEVELS:
        raise InputError(f"unknown parent layer {name!r}; use communities or office_regions")
    return PARENT_LEVELS[name]


def plan_header(conn: Connection, plan_id: str) -> dict:
    """id, city_id, name, status, parameters and report of a plan (NotFound if there is none)."""
    row = conn.execute(text("SELECT id, city_id, name, status, parameters, report FROM district_plans WHERE id = :p"),
                       {"p": plan_id}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"plan {plan_id!r} does not exist")
    return dict(row)


def district_features(conn: Connection, plan_id: str) -> list[dict]:
    """The plan's districts as GeoJSON features (EPSG:4326, 7 decimals: about a centimetre), each
    with the manager who owns it now; built by PostGIS in one statement."""
    plan_header(conn, plan_id)
    raw = conn.execute(text(f"""
        SELECT coalesce(json_agg(json_build_object(
                 'type', 'Feature', 'id', d.id, 'geometry', ST_AsGeoJSON(d.geometry, 7)::json,
                 'properties', json_build_object('code', d.code, 'subscribers', d.subscribers,
                     'workload', d.workload, 'deviation', (d.totals->>'deviation')::float,
                     'manager_id', a.manager_id)) ORDER BY d.code), '[]')::text
        FROM districts d
        LEFT JOIN district_assignments a ON a.district_id = d.id AND {in_force("now()")}
        WHERE d.plan_id = :p"""), {"p": plan_id}).scalar()
    return json.loads(raw)


def changed_units(conn: Connection, plan_a: str, plan_b: str) -> list[dict]:
    """Every unit whose district code differs between two plans of one city, with its
    subscribers: a box, or box/dp where either plan splits the box by distribution point (so
    both plans are compared at the finer of their two grains). A subscriber one plan does not
    cover (added after it was made) has that plan's code null."""
    rows = conn.execute(text("""
        WITH m AS MATERIALIZED (
            SELECT m.plan_id, m.box_id, m.dp_id, d.code FROM district_members m
            JOIN districts d ON d.id = m.district_id WHERE m.plan_id IN (:a, :b)),
        split AS (SELECT DISTINCT box_id FROM m WHERE dp_id IS NOT NULL),
        s AS (
            SELECT s.box_id, s.dp_id, s.monthly_revenue,
                   coalesce(a1.code, a0.code) AS code_a, coalesce(b1.code, b0.code) AS code_b
            FROM subscribers s
            LEFT JOIN m a1 ON a1.plan_id = :a AND a1.box_id = s.box_id AND a1.dp_id = s.dp_id
            LEFT JOIN m a0 ON a0.plan_id = :a AND a0.box_id = s.box_id AND a0.dp_id IS NULL
            LEFT JOIN m b1 ON b1.plan_id = :b AND b1.box_id = s.box_id AND b1.dp_id = s.dp_id
            LEFT JOIN m b0 ON b0.plan_id = :b AND b0.box_id = s.box_id AND b0.dp_id IS NULL
            WHERE s.city_id = (SELECT city_id FROM district_plans WHERE id = :a))
        SELECT s.box_id, CASE WHEN sp.box_id IS NOT NULL THEN s.dp_id END AS dp_id, s.code_a, s.code_b,
               count(*) AS subscribers, sum(s.monthly_revenue) AS revenue,
               max(ST_X(b.geometry)) AS lon, max(ST_Y(b.geometry)) AS lat,
               (SELECT count(*) FROM subscribers x WHERE x.box_id = s.box_id) AS box_subscribers
        FROM s LEFT JOIN split sp ON sp.box_id = s.box_id JOIN boxes b ON b.id = s.box_id
        WHERE s.code_a IS DISTINCT FROM s.code_b
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 NULLS FIRST"""), {"a": plan_a, "b": plan_b}).all()
    return [{"unit": box if dp is None else f"{box}/{dp}", "box_id": box, "dp_id": dp, "from": ca, "to": cb,
             "subscribers": int(n), "box_subscribers": int(bn), "revenue": round(float(rev or 0), 2),
             "lon": round(float(x), 6), "lat": round(float(y), 6)} for box, dp, ca, cb, n, rev, x, y, bn in rows]


def city_subscribers(conn: Connection, city: str) -> int:
    return int(conn.execute(text("SELECT count(*) FROM subscribers WHERE city_id = :c"), {"c": city}).scalar())
