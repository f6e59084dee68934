"""One stored row at a time, for the API's feature edits (OGC API - Features Part 4).

Rows go in through the import's own path (gis.validate.prepare, then gis.store.upsert: the
same types, vocabularies, row rules, geometry checks, references and constraints), so a
feature posted over HTTP and a row of `pianqu import` cannot be held to different rules.

A row's version (its ETag) is a hash of the whole stored row, geometry included, computed by
PostgreSQL: any change by any door (an import, another edit) changes it, with no version
column for every writer to remember to bump.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from . import tiles
from .errors import Conflict, NotFound
from .layers import LAYERS, Layer
from .models import Base

# Rows that keep a record of the past: they outlive what they mention (the reference is
# cleared by its ON DELETE SET NULL), so they never block a delete.
HISTORY = {"fault_tickets", "construction_reports", "alerts", "alert_events", "district_assignments"}
# Plan membership blocks a delete only in the active plan (an archived plan may lose a box a
# re-plan already left out; the active one must never change behind the planners' back).
MEMBERS = "district_members"


@dataclass(frozen=True)
class Row:
    properties: dict        # every column but the geometry, as JSON values
    geometry: dict | None   # GeoJSON, EPSG:4326
    etag: str


def _etag_sql(alias: str = "t") -> str:
    return f"'\"' || md5(to_jsonb({alias})::text) || '\"'"


def row(conn: Connection, lay: Layer, row_id: str, *, lock: bool = False) -> Row | None:
    """The stored row, its GeoJSON geometry and its ETag; `lock` holds it (FOR UPDATE) until the
    transaction ends, so a check of If-Match and the write that follows see the same version."""
    sql = (f"SELECT to_jsonb(t) - 'geometry' - 'geometry_3857' - 'created_at', ST_AsGeoJSON(t.geometry, 9)::json, "
           f'{_etag_sql()} FROM "{lay.name}" t WHERE t.id = :i' + (" FOR UPDATE" if lock else ""))
    found = conn.execute(text(sql), {"i": row_id}).first()
    if found is None:
        return None
    props, geom, tag = found
    props = props if isinstance(props, dict) else json.loads(props)
    geom = geom if geom is None or isinstance(geom, dict) else json.loads(geom)
    return Row(props, geom, tag)


def etag(conn: Connection, lay: Layer, row_id: str) -> str | None:
    return conn.execute(text(f'SELECT {_etag_sql()} FROM "{lay.name}" t WHERE t.id = :i'), {"i": row_id}).scalar()


def geometry_wkb(conn: Connection, lay: Layer, row_id: str) -> bytes | None:
    """The row's geometry as EPSG:4326 WKB (what a tile cache invalidation takes)."""
    g = conn.execute(text(f'SELECT ST_AsBinary(geometry) FROM "{lay.name}" WHERE id = :i'), {"i": row_id}).scalar()
    return None if g is None else bytes(g)


def _references(table: str) -> list[tuple[str, str]]:
    """(child table, column) of every single-column foreign key pointing at `table`."""
    out = []
    for t in Base.metadata.sorted_tables:
        for fk in t.foreign_key_constraints:
            if fk.referred_table.name == table and len(fk.columns) == 1:
                out.append((t.name, fk.column_keys[0]))
    return out


def dependents(conn: Connection, lay: Layer, row_id: str) -> list[tuple[str, str, int]]:
    """The rows that would be orphaned (or silently changed) if this row went: (table, column,
    how many). History tables do not count; plan membership counts in the active plan only."""
    out = []
    for table, col in _references(lay.name):
        if table in HISTORY:
            continue
        if table == MEMBERS:
            n = conn.execute(text(
                f'SELECT count(*) FROM "{MEMBERS}" m JOIN district_plans p ON p.id = m.plan_id '
                f'WHERE m."{col}" = :i AND p.status = \'active\''), {"i": row_id}).scalar()
            what = "active plan's district members"
        else:
            n = conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{col}" = :i'), {"i": row_id}).scalar()
            what = table
        if n:
            out.append((what, col, int(n)))
    return out


def delete(conn: Connection, lay: Layer, row_id: str) -> None:
    """Delete one row, refusing (Conflict, naming what depends on it) when rows depend on it."""
    deps = dependents(conn, lay, row_id)
    if deps:
        said = ", ".join(f"{n:,} {t} (by {c})" for t, c, n in deps)
        raise Conflict(f"{lay.name} {row_id!r} cannot be deleted: {said} depend on it; move or delete them first")
    tiles.forget(conn, lay.name, [geometry_wkb(conn, lay, row_id)])
    n = conn.execute(text(f'DELETE FROM "{lay.name}" WHERE id = :i'), {"i": row_id}).rowcount
    if not n:
        raise NotFound(f"{lay.name} {row_id!r} does not exist")


def writable_layers() -> dict[str, Layer]:
    """The layers an API edit may change: the network and its records; a city is imported whole."""
    return {name: lay for name, lay in LAYERS.items() if name != "cities"}
