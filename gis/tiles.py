"""Vector tiles made by PostGIS (ST_AsMVT), and the tile cache every server worker shares.

A tile of a layer is one SQL statement: the rows whose geometry's box meets the tile's envelope
(`geometry && ST_Transform(ST_TileEnvelope(z, x, y), 4326)`, so the GiST index on the stored
EPSG:4326 geometry is used) and that intersect it, projected and clipped by
`ST_AsMVTGeom(..., 4096, 64)` and encoded by `ST_AsMVT`. Point-dense layers have a minzoom
(below it, an empty tile) and dense kinds of rows come in from a zoom of their own (`detail`). Identifiers come from the collection definitions (gis.features), values (z, x, y,
plans) are bound parameters. Features carry their `id` as a property (the stored ids are text,
and an MVT feature id must be an integer: a map uses `promoteId: "id"`).

The cache is the table `tile_cache` (UNLOGGED), keyed by (layer, plan, z, x, y), holding the
bytes, their ETag (an MD5 of the bytes) and the tile's envelope in EPSG:4326 (GiST). A hit is
one indexed SELECT; a miss renders, stores, answers. Every worker of `pianqu serve --workers N`
sees the same cache, and an invalidation is part of the edit's own transaction. A server
worker may keep copies in memory (api.services.tiles.TileMemory): the look-up then names the
copy's ETag and gets the tile's current ETag without its bytes when they are the same, so a
copy is only served while it is still the shared cache's.

Districts tiles are keyed by the plan: `?plan=ID` by that id, the default (the active plans) by
the ids of the plans active when the request is served, so activating a plan needs no
invalidation (the next request resolves to a new key). A district's manager depends on the
time (assignments have a start and an end): a districts tile expires when an assignment of a
district in it starts or ends (`expires_at`).

Invalidation: call these on the connection of the change, IN THE SAME TRANSACTION (a READ
COMMITTED one, PostgreSQL's default), before or after the change itself:

    from gis import tiles
    tiles.forget(conn, "boxes", [old_wkb, new_wkb])   # the tiles an edit's old and new geometry meet
    tiles.forget(conn, "subscribers")                 # every tile of a layer (a large import)
    tiles.forget(conn, "districts", [wkb], plan="P-3")   # districts of one plan only
    tiles.forget_all(conn)                            # a city deleted or a store replaced
    tiles.forget_staged(conn, "boxes", len(gdf))      # gis.store.upsert: old and new of rows in _stage

`forget` deletes the tiles whose envelope's box meets a geometry's box: the index condition a
tile's rows were chosen by (before the exact ST_Intersects), so every tile that drew the old
geometry, or would draw the new one, goes, and hardly any other (one DELETE through the GiST
index). Geometries are EPSG:4326 WKB; a layer that has no tiles (managers) is a no-op, so an
edit path may call it for every layer.

Why renders and invalidations take an advisory lock (class LOCK_CLASS, one key per layer): a
render reads the layer in its own snapshot; without the lock, an edit committing between that
snapshot and the render's INSERT into the cache would leave the old picture cached after the
edit had cleared its tiles. So `forget` takes the layer's lock exclusively until its transaction
ends, and a render that wants to store its tile first takes it shared (try-lock, never waiting):
while an edit of the layer is open the tile is rendered and answered but not stored; once the
render holds the lock, an edit's `forget` waits for that render to commit and then deletes what
it stored. In one transaction, forget several layers in sorted order (or call `forget_all`) so
two edits cannot wait on each other.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from .features import COLLECTIONS, SCOPED, manager_scope
from .models import Base

MAX_ZOOM = 22
EXTENT, BUFFER = 4096, 64
LOCK_CLASS = 0x7469     # 'ti': advisory locks of tile renders and invalidations
# The read statements are in psycopg's own placeholders (%(name)s): they run on the server's
# asyncio connections (gis.db.async_pool), without SQLAlchemy.
ENVELOPE = "ST_TileEnvelope(CAST(%(z)s AS integer), CAST(%(x)s AS integer), CAST(%(y)s AS integer))"
ACTIVE_PLANS = "(SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM district_plans WHERE status = 'active')"
PLAN_EXISTS = "EXISTS (SELECT 1 FROM district_plans WHERE id = %(plan)s)"
FIELD_TYPES = {"int": "Number", "float": "Number", "bool": "Boolean", "text": "String"}


@dataclass(frozen=True)
class TileLayer:
    id: str                                   # the collection id, also the MVT layer name
    properties: tuple[str, ...]               # the collection's properties a map needs
    minzoom: int = 0                          # below it: an empty tile (point-dense layers)
    derived: dict[str, tuple[str, str]] = field(default_factory=dict)   # name -> (SQL on t, kind)
    # (zoom, condition): below that zoom only the rows the condition admits (700,000 drop cables
    # drawn at zoom 12 would be a 30 MB tile of lines thinner than a pixel).
    detail: tuple[tuple[int, str], ...] = ()
    note: str = ""

    def fields(self) -> dict[str, str]:
        kinds = COLLECTIONS[self.id].kinds
        out = {"id": "String"}
        out.update({p: FIELD_TYPES.get(kinds[p], "String") for p in self.properties})
        out.update({p: FIELD_TYPES[k] for p, (_, k) in self.derived.items()})
        return out


LAYERS: dict[str, TileLayer] = {lay.id: lay for lay in [
    TileLayer("offices", ("name",)),
    TileLayer("cables", ("kind", "medium", "placement", "year_laid", "capacity"),
              detail=((12, "t.kind = 'trunk'"), (15, "t.kind <> 'drop'")),
              note="trunk cables from zoom 0, distribution cables from 12, drop cables from 15"),
    TileLayer("boxes", ("capacity", "used")),
    TileLayer("distribution_points", ("box_id", "capacity", "used"), minzoom=10),
    TileLayer("subscribers", ("box_id", "dp_id"), minzoom=12),
    TileLayer("admin_areas", ("level", "name")),
    TileLayer("streets", ("kind", "name"), detail=((13, "t.kind <> 'residential'"),),
              note="primary and secondary streets from zoom 0, residential streets from 13"),
    TileLayer("barriers", ("kind", "name")),
    TileLayer("crossings", ("kind", "name")),
    TileLayer("construction_reports", ("kind", "stage", "households")),
    TileLayer("fault_tickets", ("cause", "severity", "vip", "kind"), minzoom=12,
              derived={"open": ("t.cleared_at IS NULL", "bool")}, detail=((14, "t.cleared_at IS NULL"),),
              note="open tickets from zoom 12, cleared ones too from 14"),
    TileLayer("cities", ("name",)),
    TileLayer("districts", ("code", "subscribers", "workload", "deviation", "manager_id")),
]}
for _lay in LAYERS.values():    # a model change that drops a property fails here, not in a tile
    assert set(_lay.properties) <= set(COLLECTIONS[_lay.id].kinds), _lay.id


@dataclass(frozen=True)
class Tile:
    data: bytes | None      # None: the client's copy (If-None-Match) is current
    etag: str
    cache: str              # hit | miss (rendered and stored) | bypass (rendered, not stored) | skip


def etag_of(data: bytes) -> str:
    """A strong ETag: the MD5 of the bytes (a cache validator, not a signature)."""
    return f'"{hashlib.md5(data).hexdigest()}"'


def _render_sql(lay: TileLayer, z: int, scope: str | None = None) -> str:
    c = COLLECTIONS[lay.id]
    cols = [f'{c.expr("id")} AS "id"'] + [f'{c.expr(p)} AS "{p}"' for p in lay.properties]
    cols += [f'{sql} AS "{name}"' for name, (sql, _) in lay.derived.items()]
    # `&&` uses the GiST index (float boxes, rounded outwards); ST_Intersects then drops what only
    # that rounding let in, so a tile holds exactly what lies in its envelope (a point on an edge
    # is in both tiles). What it holds is a subset of `&&`, which is what `forget` deletes by.
    if "geometry_3857" in Base.metadata.tables[c.table].columns:
        # The stored Web Mercator copy (gis.models._mercator): no transform per row. Mercator maps
        # axis-parallel boxes to axis-parallel boxes, so a row's box meets the envelope in
        # EPSG:3857 exactly when it does in EPSG:4326, which is what `forget` deletes by.
        column = geom = "t.geometry_3857"
        env = ENVELOPE
    else:
        column, geom = "t.geometry", "ST_Transform(t.geometry, 3857)"
        env = f"ST_Transform({ENVELOPE}, 4326)"
    where = [f"{column} && {env}", f"ST_Intersects({column}, {env})"]
    if lay.id == "districts":
        where.append("t.plan_id = ANY(CAST(%(plans)s AS text[]))")
    where += [cond for zoom, cond in lay.detail if z < zoom]
    if scope is not None:
        where.append(scope)
    rows = (f"SELECT {', '.join(cols)}, ST_AsMVTGeom({geom}, {ENVELOPE}, {EXTENT}, "
            f'{BUFFER}) AS geom FROM "{c.table}" t WHERE {" AND ".join(where)}')
    expires = "CAST(NULL AS timestamptz)"
    if lay.id == "districts":
        # The first moment a manager of a district in the tile changes: its cached copy ends then.
        expires = ("(SELECT min(v.b) FROM district_assignments a CROSS JOIN LATERAL (VALUES (a.valid_from), "
                   "(a.valid_to)) v(b) WHERE a.district_id IN (SELECT id FROM f) AND v.b > now())")
    return (f"WITH f AS MATERIALIZED ({rows}) SELECT coalesce((SELECT ST_AsMVT(q, %(name)s, {EXTENT}, 'geom') "
            f"FROM (SELECT * FROM f WHERE geom IS NOT NULL) q), CAST('' AS bytea)) AS tile, {expires} AS expires_at"
            if lay.id == "districts" else
            f"SELECT coalesce(ST_AsMVT(q, %(name)s, {EXTENT}, 'geom'), CAST('' AS bytea)) AS tile, {expires} AS expires_at "
            f"FROM ({rows}) q WHERE q.geom IS NOT NULL")


def _lookup_sql(lay: TileLayer, plan: str | None) -> str:
    if lay.id != "districts":
        key, known = "''", "true"
    elif plan is None:
        key, known = ACTIVE_PLANS, "true"
    else:
        key, known = "CAST(%(plan)s AS text)", PLAN_EXISTS
    return (f"WITH k AS (SELECT {key} AS plan, {known} AS known) "
            "SELECT k.plan, k.known, c.etag, CASE WHEN %(any_etag)s OR c.etag = ANY(CAST(%(etags)s AS text[])) "
            "THEN NULL ELSE c.tile END AS tile FROM k LEFT JOIN tile_cache c ON c.layer = %(layer)s "
            "AND c.plan = k.plan AND c.z = %(z)s AND c.x = %(x)s AND c.y = %(y)s "
            "AND (c.expires_at IS NULL OR c.expires_at > now())")


async def tile(aconn, layer: str, z: int, x: int, y: int, *, plan: str | None = None,
               known: tuple[str, ...] = (), any_etag: bool = False, manager: str | None = None) -> Tile | None:
    """The tile, from the cache or rendered (and stored); None when `plan` does not exist.

    `aconn`: a psycopg AsyncConnection in autocommit (gis.db.async_pool), so a hit is one round
    trip, no BEGIN and COMMIT around it; a miss renders and stores in a transaction of its own.
    `known`: ETags the caller holds (the client's If-None-Match, the server's copy in memory) and
    `any_etag` (If-None-Match: *): a tile whose ETag is among them comes back with `data` None,
    its bytes not sent from the database. `manager`: a manager's key, who sees of the subscribers
    and the tickets only those of the districts he holds (gis.features.manager_scope): his tiles
    of those layers are rendered for him and never stored in, or read from, the shared cache."""
    lay = LAYERS[layer]
    if lay.id != "districts":
        plan = None
    if z < lay.minzoom:
        if plan is not None and not (await _one(aconn, f"SELECT {PLAN_EXISTS}", {"plan": plan}))[0]:
            return None
        etag = etag_of(b"")
        return Tile(None if any_etag or etag in known else b"", etag, "skip")
    if manager is not None and lay.id in SCOPED:
        async with aconn.transaction():
            await _one(aconn, "SELECT set_config('jit', 'off', true)", {})
            data, etag = await _one(aconn, _render_and_store_sql(lay, z, False, manager_scope(lay.id, "%(mgr)s")),
                                    {"z": z, "x": x, "y": y, "name": lay.id, "plans": [], "mgr": manager})
        data = bytes(data)
        return Tile(None if any_etag or etag in known else data, etag, "bypass")
    params = {"layer": lay.id, "z": z, "x": x, "y": y, "plan": plan, "any_etag": any_etag, "etags": list(known)}
    key, exists, etag, data = await _one(aconn, _lookup_sql(lay, plan), params)
    if not exists:
        return None
    if etag is not None:
        return Tile(None if data is None else bytes(data), etag, "hit")
    plans = [p for p in key.split(",") if p] if lay.id == "districts" else []
    async with aconn.transaction():
        # The lock before the render's snapshot (see the module's docstring): its own statement,
        # since a statement's snapshot is taken when it starts. JIT off: the planner prices
        # ST_AsMVTGeom so high that it compiled every render, which cost more (2 s at zoom 12 at
        # city size) than the render itself.
        store = bool((await _one(aconn, "SELECT pg_try_advisory_xact_lock_shared(%(k)s, hashtext(%(layer)s)), "
                                        "set_config('jit', 'off', true)", {"k": LOCK_CLASS, "layer": lay.id}))[0])
        # Render, hash and store in one statement: the tile's bytes never travel back to the
        # server, and a miss costs four round trips (begin, lock, render, commit).
        data, etag = await _one(aconn, _render_and_store_sql(lay, z, store), {
            "z": z, "x": x, "y": y, "name": lay.id, "plans": plans, "layer": lay.id, "plan": key})
    data = bytes(data)
    return Tile(None if any_etag or etag in known else data, etag, "miss" if store else "bypass")


async def _one(aconn, sql: str, params: dict) -> tuple:
    # binary: a bytea comes as its bytes, not as hex text that psycopg would decode (a 1.5 MB tile)
    return await (await aconn.execute(sql, params, binary=True)).fetchone()


def _render_and_store_sql(lay: TileLayer, z: int, store: bool, scope: str | None = None) -> str:
    """The render, its ETag (etag_of: the MD5 of the bytes, in SQL) and, when `store`, its row in
    the cache, as one statement answering (tile, etag). `scope`: a further condition on the rows."""
    render = _render_sql(lay, z, scope)
    etag = "'\"' || md5(r.tile) || '\"'"
    if not store:
        return f"WITH r AS ({render}) SELECT r.tile, {etag} FROM r"
    return (f"WITH r AS ({render}), s AS (INSERT INTO tile_cache (layer, plan, z, x, y, tile, etag, envelope, "
            f"expires_at) SELECT %(layer)s, %(plan)s, %(z)s, %(x)s, %(y)s, r.tile, {etag}, ST_Transform({ENVELOPE}, 4326), "
            "r.expires_at FROM r ON CONFLICT (layer, plan, z, x, y) DO UPDATE SET tile = EXCLUDED.tile, "
            "etag = EXCLUDED.etag, envelope = EXCLUDED.envelope, expires_at = EXCLUDED.expires_at, "
            f"created_at = now()) SELECT r.tile, {etag} FROM r")


def _lock(conn: Connection, layer: str) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(:layer))"), {"k": LOCK_CLASS, "layer": layer})


def forget(conn: Connection, layer: str, geometries_wkb: list[bytes] | None = None, *,
           plan: str | None = None) -> int:
    """Delete the cached tiles of `layer` that meet any of the geometries (EPSG:4326 WKB: an
    edit's old and new geometry), or every tile of the layer when `geometries_wkb` is None.
    `plan` (districts): only that plan's tiles. In the change's own transaction; returns how many
    tiles went."""
    if layer not in LAYERS:
        return 0
    _lock(conn, layer)
    params: dict = {"layer": layer, "plan": plan}
    of_plan = " AND CAST(:plan AS text) = ANY(string_to_array(c.plan, ','))" if plan is not None else ""
    if geometries_wkb is None:
        return conn.execute(text(f"DELETE FROM tile_cache c WHERE c.layer = :layer{of_plan}"), params).rowcount
    params["wkbs"] = [bytes(g) for g in geometries_wkb if g is not None]
    if not params["wkbs"]:
        return 0
    # A join, not `&& ANY(array)`: GiST answers one geometry at a time, an array only as a filter.
    return conn.execute(text(
        "DELETE FROM tile_cache c USING (SELECT ST_GeomFromWKB(w, 4326) AS g FROM "
        "unnest(CAST(:wkbs AS bytea[])) w) e WHERE c.layer = :layer AND c.envelope && e.g" + of_plan),
        params).rowcount


FORGET_BY_GEOMETRY_UP_TO = 10_000     # staged rows; a larger change clears the layer (one DELETE by key)
STAGE = "_stage"                      # the temporary table gis.store.upsert stages its rows in


def forget_staged(conn: Connection, layer: str, rows: int) -> int:
    """`forget` for an upsert staged in the temporary table `_stage` (gis.store.upsert), before
    its INSERT: the stored (old) geometry of every staged id and the staged (new) one, without
    bringing them through Python; a change of more than FORGET_BY_GEOMETRY_UP_TO rows clears
    every tile of the layer (an import that big redraws most of them anyway)."""
    if layer not in LAYERS:
        return 0
    if rows > FORGET_BY_GEOMETRY_UP_TO:
        return forget(conn, layer)
    _lock(conn, layer)
    table = COLLECTIONS[layer].table
    return conn.execute(text(
        f'DELETE FROM tile_cache c USING (SELECT t.geometry AS g FROM "{table}" t JOIN {STAGE} s ON s.id = t.id '
        f"UNION ALL SELECT s.geometry FROM {STAGE} s) e WHERE c.layer = :layer AND c.envelope && e.g"),
        {"layer": layer}).rowcount


def forget_all(conn: Connection) -> int:
    """Delete every cached tile (a city deleted, a store replaced), in the change's transaction."""
    for layer in sorted(LAYERS):
        _lock(conn, layer)
    return conn.execute(text("DELETE FROM tile_cache")).rowcount
