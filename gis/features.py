"""Stored layers as OGC API features, built where the data is: PostGIS filters, sorts, pages,
reprojects and writes the GeoJSON (`json_agg` of `json_build_object`), so a page of 10,000
features costs Python one string, not 10,000 objects.

Every identifier in the SQL comes from the collection's own column list (the models); every
value is a bound parameter. `numberMatched` is exact up to EXACT_UP_TO matches and otherwise
the planner's estimate (a full count of a large table on every page is the slow spot of
pygeoapi and tipg).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from .cql import Filter
from .errors import InputError, NotFound
from .layers import LAYERS
from .holding import held_by, in_force

EXACT_UP_TO = 10_000
TIME_COLUMNS = {"fault_tickets": "reported_at", "construction_reports": "reported_on"}
TITLES = {"admin_areas": "administrative areas (office regions, communities)", "distribution_points":
          "distribution boxes (分线盒)", "boxes": "cross-connect boxes (交接箱)", "subscribers": "subscribers (用户)",
          "fault_tickets": "fault tickets (障碍单)", "construction_reports": "construction reports (商机)",
          "managers": "district account managers (片区客户经理)", "districts": "districts (片区) of a plan",
          "offices": "central offices (局站)", "cables": "cables", "streets": "streets", "barriers": "barriers",
          "crossings": "barrier crossings", "cities": "cities"}


@dataclass(frozen=True)
class Collection:
    id: str
    table: str
    kinds: dict[str, str]                      # property -> int | float | bool | date | timestamp | text
    select: dict[str, str] = field(default_factory=dict)   # property -> SQL expression (default: the column)
    time: str | None = None

    @property
    def title(self) -> str:
        return TITLES.get(self.id, self.id)

    def expr(self, prop: str) -> str:
        return self.select.get(prop, f't."{prop}"')


def _collections() -> dict[str, Collection]:
    out = {name: Collection(name, name, dict(lay.kinds), time=TIME_COLUMNS.get(name)) for name, lay in LAYERS.items()}
    out["districts"] = Collection(
        "districts", "districts",
        {"id": "text", "plan_id": "text", "code": "text", "name": "text", "subscribers": "int", "workload": "float",
         "deviation": "float", "manager_id": "text"},
        select={"deviation": "(t.totals->>'deviation')::float",
                "manager_id": "(SELECT a.manager_id FROM district_assignments a WHERE a.district_id = t.id "
                              f"AND {in_force('now()')} LIMIT 1)"})
    return out


COLLECTIONS = _collections()


def collection(name: str) -> Collection:
    if name not in COLLECTIONS:
        raise NotFound(f"collection {name!r} does not exist (collections: {', '.join(sorted(COLLECTIONS))})")
    return COLLECTIONS[name]


@dataclass
class Query:
    bbox: tuple[float, float, float, float] | None = None     # lon/lat (EPSG:4326 coordinates)
    bbox_srid: int = 4326
    filters: dict[str, str] = field(default_factory=dict)     # property -> value as given
    time: tuple[dt.datetime | None, dt.datetime | None] | None = None   # [start, end]
    properties: list[str] | None = None
    sortby: list[tuple[str, bool]] = field(default_factory=list)         # (property, descending)
    limit: int = 10
    offset: int = 0
    srid: int = 4326                                          # output CRS
    flip: bool = False                                        # lat/lon axis order (EPSG:4326 proper)
    plan: str | None = None                                   # districts: default the active plans
    after: str | None = None                                  # keyset paging: ids after this one
    cql: Filter | None = None                                 # a compiled CQL2 filter (gis.cql.compile)
    manager: str | None = None                                # a manager's key: his districts' rows only


def _typed(c: Collection, prop: str, value: str):
    kind = c.kinds[prop]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            v = value.strip().lower()
            if v not in ("true", "false", "1", "0"):
                raise ValueError
            return v in ("true", "1")
        if kind == "date":
            return dt.date.fromisoformat(value)
        if kind == "timestamp":
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"filter {prop}={value!r}: {prop} is a {kind}") from None
    return value


# What a manager's key sees of the layers about people and their tickets: the subscribers and the
# tickets of the districts he holds now (a ticket also while he holds it).
def manager_scope(table: str, manager: str = ":mgr") -> str | None:
    """SQL: the rows of `table` (as t) a manager's key sees, those of the districts he holds now
    (a ticket also while it is his); None for a table every key sees whole."""
    held = held_by(manager, "now()")
    return {"subscribers": "EXISTS (SELECT 1 FROM district_members m WHERE m.box_id = t.box_id "
                           f"AND (m.dp_id IS NULL OR m.dp_id = t.dp_id) AND m.district_id IN ({held}))",
            "fault_tickets": f"(t.manager_id = {manager} OR t.district_id IN ({held}))"}.get(table)


SCOPED = ("subscribers", "fault_tickets")   # the tables manager_scope() bounds


def _where(c: Collection, q: Query, params: dict) -> str:
    parts = []
    if q.manager is not None and c.table in SCOPED:
        parts.append(manager_scope(c.table))
        params["mgr"] = q.manager
    if c.id == "districts":
        if q.plan is None:
            parts.append("t.plan_id IN (SELECT id FROM district_plans WHERE status = 'active')")
        else:
            parts.append("t.plan_id = :plan")
            params["plan"] = q.plan
    if q.bbox is not None:
        params.update(x0=q.bbox[0], y0=q.bbox[1], x1=q.bbox[2], y1=q.bbox[3], bs=q.bbox_srid)
        env = "ST_MakeEnvelope(:x0, :y0, :x1, :y1, :bs)"
        if q.bbox_srid != 4326:
            env = f"ST_Transform({env}, 4326)"
        parts.append(f"t.geometry && {env} AND ST_Intersects(t.geometry, {env})")
    for i, (prop, value) in enumerate(q.filters.items()):
        if prop not in c.kinds:
            raise InputError(f"unknown property {prop!r} of {c.id} (queryables: {', '.join(c.kinds)})")
        params[f"f{i}"] = _typed(c, prop, value)
        parts.append(f"{c.expr(prop)} = :f{i}")
    if q.time is not None:
        if c.time is None:
            raise InputError(f"collection {c.id!r} has no time: datetime does not apply")
        start, end = q.time
        if start is not None:
            parts.append(f't."{c.time}" >= :t0')
            params["t0"] = start
        if end is not None:
            parts.append(f't."{c.time}" <= :t1')
            params["t1"] = end
    if q.cql is not None:   # its own parameter names (cql0, cql1, ...): no clash with the ones above
        params.update(q.cql.params)
        parts.append(f"({q.cql.sql})")
    return " AND ".join(parts) or "true"


def _count(conn: Connection, c: Collection, where: str, params: dict) -> tuple[int, bool]:
    """(matches, exact): counted up to EXACT_UP_TO, past it the planner's estimate."""
    n = conn.execute(text(f'SELECT count(*) FROM (SELECT 1 FROM "{c.table}" t WHERE {where} LIMIT :cap) s'),
                     {**params, "cap": EXACT_UP_TO + 1}).scalar()
    if n <= EXACT_UP_TO:
        return int(n), True
    plan = conn.execute(text(f'EXPLAIN (FORMAT JSON) SELECT 1 FROM "{c.table}" t WHERE {where}'), params).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), n), False


@dataclass
class Page:
    features: str           # a JSON array, as PostGIS wrote it
    returned: int
    matched: int
    exact: bool             # matched is a count, not the planner's estimate
    last_id: str | None     # the id ordered last: where a keyset next page starts


def items(conn: Connection, c: Collection, q: Query) -> Page:
    """A page of features. With `q.after` (and the default order, by id), the page starts after
    that id: a keyset page costs the same deep in a 700,000-row layer as at its start, which an
    OFFSET does not."""
    props = q.properties if q.properties is not None else list(c.kinds)
    unknown = [p for p in props + [s for s, _ in q.sortby] if p not in c.kinds]
    if unknown:
        raise InputError(f"unknown property {unknown[0]!r} of {c.id} (properties: {', '.join(c.kinds)})")
    if q.after is not None and (q.sortby or q.offset):
        raise InputError("after (a keyset page) goes with the default order and no offset")
    params: dict = {"srid": q.srid}
    where = _where(c, q, params)
    page_where = f"{where} AND t.id > :after" if q.after is not None else where
    if q.after is not None:
        params["after"] = q.after
    cols = ", ".join(f'{c.expr(p)} AS "{p}"' for p in dict.fromkeys(["id", *props]))
    order = ", ".join(f'{c.expr(p)} {"DESC" if desc else "ASC"}' for p, desc in q.sortby)
    order = f"{order}, t.id" if order else "t.id"
    geom = "ST_Transform(t.geometry, :srid)" if q.srid != 4326 else "t.geometry"
    if q.flip:
        geom = f"ST_FlipCoordinates({geom})"
    digits = 7 if q.srid == 4326 else 2
    params.update(limit=q.limit, offset=q.offset)
    # The properties by name with json_build_object: to_jsonb of the row, then removing the
    # geometry, cost six times the whole query on a 1,000-feature page (161 ms against 26 ms).
    # json_build_object takes up to 100 arguments: wider rows use to_jsonb of a geometry-free row.
    names = list(dict.fromkeys(["id", *props]))
    if len(names) <= 50:
        properties = "json_build_object(" + ", ".join(f"'{p}', f.\"{p}\"" for p in names) + ")"
    else:
        properties = "(SELECT to_jsonb(p) FROM (SELECT " + ", ".join(f'f."{p}"' for p in names) + ") p)"
    sql = (f"SELECT coalesce(json_agg(json_build_object('type', 'Feature', 'id', f.id, "
           f"'geometry', ST_AsGeoJSON(f.g, {digits})::json, 'properties', {properties}) ORDER BY f.__n), "
           f"'[]')::text, count(*), (array_agg(f.id ORDER BY f.__n DESC))[1] "
           f"FROM (SELECT {cols}, {geom} AS g, row_number() OVER () AS __n FROM "
           f'(SELECT * FROM "{c.table}" t WHERE {page_where} ORDER BY {order} LIMIT :limit OFFSET :offset) t) f')
    features, returned, last = conn.execute(text(sql), params).one()
    if returned < q.limit and q.after is None and (returned or not q.offset):   # the last page: count known
        return Page(features, int(returned), q.offset + int(returned), True, last)
    matched, exact = _count(conn, c, where, params)
    return Page(features, int(returned), matched, exact, last)


def item(conn: Connection, c: Collection, item_id: str, q: Query) -> str:
    q = Query(srid=q.srid, flip=q.flip, properties=q.properties, plan=q.plan, limit=1, manager=q.manager)
    q.filters = {"id": item_id}
    page = items(conn, c, q)
    if not page.returned:
        raise NotFound(f"{c.id} {item_id!r} does not exist")
    return json.dumps(json.loads(page.features)[0])


def extent(conn: Connection, c: Collection) -> dict:
    """Spatial extent (from the table's statistics when it has them) and the time span."""
    # The planner's statistics first (instant); a table never analysed is measured.
    box = conn.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                            "(SELECT ST_EstimatedExtent(:t, 'geometry') AS e) s"), {"t": c.table}).one()
    if box[0] is None:
        box = conn.execute(text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                f'(SELECT ST_Extent(geometry) AS e FROM "{c.table}") s')).one()
    out = {"spatial": {"bbox": [[round(v, 6) for v in box]] if box[0] is not None else [[-180, -90, 180, 90]],
                       "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if c.time:
        t0, t1 = conn.execute(text(f'SELECT min("{c.time}"), max("{c.time}") FROM "{c.table}"')).one()
        out["temporal"] = {"interval": [[t0.isoformat() if t0 else None, t1.isoformat() if t1 else None]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out


def metric_srids(conn: Connection) -> list[int]:
    return [int(s) for s in conn.execute(text("SELECT DISTINCT metric_crs FROM cities ORDER BY 1")).scalars()]


def geometry_type(conn: Connection, c: Collection) -> str | None:
    return conn.execute(text(f'SELECT GeometryType(geometry) FROM "{c.table}" WHERE geometry IS NOT NULL LIMIT 1')
                        ).scalar()
