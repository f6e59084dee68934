"""Reading and writing layers in PostGIS, all-or-nothing.

Rows go in through COPY (CSV written by Arrow, geometry as hex EWKB). Every function takes a
Connection, and every write runs in the caller's transaction (`with engine.begin() as conn:`),
so what commits together is the caller's choice. Two write paths:
- `upsert`: on `id` through a staging table, after checking every reference against the
  store and the file, so a dangling id is reported with its row.
- `bulk_load`: the fast path for whole cities (the demo): COPY straight into the tables, with
  each table's foreign keys dropped for the load and added back afterwards, which validates
  them in one set-based join instead of one trigger per row (what pg_restore does too).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, DataError
from sqlalchemy.schema import AddConstraint, DropConstraint

from . import tiles
from .errors import InputError, NotFound
from .layers import LOAD_ORDER, LAYERS, Layer, layer as layer_of
from .models import SRID, Base
from .validate import Problems
from .wkb import ewkb_hex

Progress = Callable[[str, int], None]


# ---- serialisation --------------------------------------------------------------------------

def _csv_payload(gdf: gpd.GeoDataFrame, columns: list[str]) -> bytes:
    """CSV bytes for COPY: Arrow writes the attributes, geometry goes as hex EWKB."""
    arrays, names = [], []
    for c in columns:
        if c == "geometry":
            arrays.append(ewkb_hex(gdf.geometry.to_numpy(), SRID))
        else:
            # Dates may arrive as midnight timestamps; PostgreSQL's date input accepts those.
            arrays.append(pa.Array.from_pandas(gdf[c]))
        names.append(c)
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(arrays, names=names), buf,
                    write_options=pacsv.WriteOptions(include_header=False))
    return buf.getvalue()


COPY_CHUNK = 100_000


def _copy(conn: Connection, table: str, gdf: gpd.GeoDataFrame, columns: list[str]) -> int:
    """COPY the rows in chunks; the next chunk is serialised while the server ingests this one
    (shapely, Arrow and psycopg's socket writes all release the GIL, so the two overlap)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    starts = range(0, len(gdf), COPY_CHUNK)
    with raw.cursor() as cur, ThreadPoolExecutor(max_workers=1) as pool:
        with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN (FORMAT csv)') as cp:
            pending = None
            for i in starts:
                nxt = pool.submit(_csv_payload, gdf.iloc[i:i + COPY_CHUNK], columns)
                if pending is not None:
                    cp.write(pending.result())
                pending = nxt
            if pending is not None:
                cp.write(pending.result())
    return len(gdf)


def copy_frame(conn: Connection, table: str, df: pd.DataFrame, columns: list[str]) -> int:
    """Rows of a plain frame into a table by COPY (text and JSON columns as strings)."""
    return _copy(conn, table, df, columns)


def _secondary_indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    return [tuple(r) for r in conn.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisunique AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "ORDER BY c.relname"), {"t": table}).all()]


def _rows_estimate(conn: Connection, table: str) -> float:
    return float(conn.execute(text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                              {"t": table}).scalar() or 0)


def _columns(lay: Layer, gdf: gpd.GeoDataFrame) -> list[str]:
    return [c for c in lay.columns if c in gdf.columns]


def _integrity(e: Exception, source: str) -> InputError:
    """A constraint the database enforced, said in a planner's words (no SQL, no stack)."""
    orig = getattr(e, "orig", e)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(orig).splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    return InputError(f"rejected by the store: {primary}" + (f" ({detail})" if detail else ""), source=source)


# ---- cities ---------------------------------------------------------------------------------

def city_ids(conn: Connection) -> list[str]:
    return list(conn.execute(text("SELECT id FROM cities ORDER BY id")).scalars())


def resolve_city(conn: Connection, city: str | None) -> str:
    """The city a command works on: the one named, or the only one in the store."""
    ids = city_ids(conn)
    if city is not None:
        if city not in ids:
            raise NotFound(f"city {city!r} is not in the store (cities: {', '.join(ids) or 'none'})")
        return city
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise NotFound("the store has no city yet: load the demo (`pianqu demo-load`) "
                       "or import a cities layer (`pianqu import cities FILE`)")
    raise InputError(f"the store holds several cities ({', '.join(ids)}); say which one (city)")


def metric_crs(conn: Connection, city: str) -> int:
    crs = conn.execute(text("SELECT metric_crs FROM cities WHERE id = :c"), {"c": city}).scalar()
    if crs is None:
        raise NotFound(f"city {city!r} is not in the store")
    return int(crs)


# ---- the import path ------------------------------------------------------------------------

def check_references(conn: Connection, lay: Layer, gdf: gpd.GeoDataFrame, source: str) -> None:
    """Every foreign id in the file must exist in the store (or, for a self-reference, the file)."""
    probs = Problems(source, gdf["id"] if "id" in gdf.columns else None)
    for col, parent in lay.parents.items():
        if col not in gdf.columns:
            continue
        vals = gdf[col].dropna().astype(str).unique().tolist()
        if not vals:
            continue
        missing = set(conn.execute(
            text(f'SELECT v FROM unnest(CAST(:vals AS text[])) AS v '
                 f'WHERE NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p.id = v)'),
            {"vals": vals}).scalars())
        if parent == lay.name:
            missing -= set(gdf["id"].astype(str))
        if missing:
            col_vals = gdf[col].astype("string")
            probs.rows(col_vals.isin(missing).fillna(False).to_numpy(),
                       lambda i, c=col, p=parent: f"{c} {col_vals.iat[i]!r} is not in {p}")
    if lay.name == "subscribers" and {"dp_id", "box_id"} <= set(gdf.columns):
        dps = gdf["dp_id"].dropna().astype(str).unique().tolist()
        rows = conn.execute(text("SELECT id, box_id FROM distribution_points WHERE id = ANY(:ids)"),
                            {"ids": dps}).all()
        owner = pd.Series(dict(rows), dtype="string")
        expected = gdf["dp_id"].astype("string").map(owner)
        wrong = expected.notna() & (expected != gdf["box_id"].astype("string"))
        probs.rows(wrong.fillna(False).to_numpy(),
                   lambda i: f"box_id {gdf['box_id'].iat[i]!r} differs from the box of its distribution "
                             f"point {gdf['dp_id'].iat[i]!r} ({expected.iat[i]!r})")
    probs.raise_if_any()


def writing(conn: Connection) -> None:
    """Every write of the store runs in its caller's transaction (`with engine.begin() as
    conn:`), so the caller decides what commits together; a connection with none open would
    write rows that its close rolls back without a word. (A programming error, not bad input.)"""
    if not conn.in_transaction():
        raise RuntimeError("a store write needs a transaction: call it inside `with engine.begin() as conn:`")


def upsert(conn: Connection, lay: Layer, gdf: gpd.GeoDataFrame, *, source: str, insert_only: bool = False) -> dict:
    """Upsert prepared rows (see gis.validate.prepare) in the caller's transaction (an API edit
    and its tile-cache invalidation commit together); returns counts. `insert_only`: an id
    already stored is an error, not an update."""
    writing(conn)
    cols = _columns(lay, gdf)
    update = [c for c in cols if c != "id"]
    col_sql = ", ".join(f'"{c}"' for c in cols)
    set_sql = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update) or '"id" = EXCLUDED."id"'
    conflict = "DO NOTHING" if insert_only else f"DO UPDATE SET {set_sql}"
    try:
        with conn.begin_nested():
            check_references(conn, lay, gdf, source)
            conn.execute(text(f'CREATE TEMP TABLE _stage (LIKE "{lay.name}" INCLUDING DEFAULTS) ON COMMIT DROP'))
            _copy(conn, "_stage", gdf, cols)
            tiles.forget_staged(conn, lay.name, len(gdf))   # the old and new geometry's tiles, in this transaction
            res = conn.execute(text(
                f'INSERT INTO "{lay.name}" ({col_sql}) SELECT {col_sql} FROM _stage '
                f'ON CONFLICT (id) {conflict} RETURNING (xmax = 0)')).scalars().all()
            conn.execute(text("DROP TABLE _stage"))
    except (IntegrityError, DataError) as e:
        raise _integrity(e, source) from None
    inserted = int(sum(res))
    return {"layer": lay.name, "rows": len(gdf), "inserted": inserted, "updated": len(res) - inserted}


# ---- the bulk path --------------------------------------------------------------------------

# Every table that hangs off a city (the API's users do not: they outlive a replaced city).
# The tables of a city's data; the others are the store's own settings (users, sessions, the
# tickets' clock policies and complaint categories) and survive any load.
SETTINGS = ("api_users", "api_sessions", "ticket_policies", "complaint_categories", "piece_rates")
LAYERS_ALL = [t.name for t in Base.metadata.sorted_tables if t.name not in SETTINGS]


def bulk_load(conn: Connection, layers: dict[str, gpd.GeoDataFrame], *, source: str = "bulk load",
              progress: Progress | None = None, replace: str | None = None) -> dict[str, int]:
    """Insert whole new layers (no upsert) in the caller's transaction, parents first.

    `replace`: a city deleted in the same transaction before the load, so an interrupted or
    failed replace leaves the old city whole and a finished one leaves only the new."""
    writing(conn)
    counts = {}
    try:
        tiles.forget_all(conn)   # also holds back renders of the old data until the load commits
        others = set(city_ids(conn)) - {replace}
        if not others:
            # An empty store (or one holding only the city replaced): truncating in this
            # transaction lets PostgreSQL (wal_level minimal) write the new files without
            # WAL, the single largest cost of a load, and is also the fastest delete. Every
            # table hangs off cities, so no other city means no other rows anywhere.
            tables = ", ".join(f'"{t}"' for t in LAYERS_ALL)
            conn.execute(text(f"TRUNCATE {tables}"))
        elif replace is not None:
            _delete_city(conn, replace)
        for name in LOAD_ORDER:
            if name not in layers:
                continue
            lay, gdf = LAYERS[name], layers[name]
            fks = list(lay.table.foreign_key_constraints)
            # Building an index once over sorted keys beats growing it row by row, but only
            # when the load is bigger than what the table already holds (a province store
            # loading its fifteenth city keeps its indexes).
            indexes = _secondary_indexes(conn, name) if len(gdf) > _rows_estimate(conn, name) else []
            for fk in fks:
                conn.execute(DropConstraint(fk))
            for idx, _ in indexes:
                conn.execute(text(f'DROP INDEX "{idx}"'))
            counts[name] = _copy(conn, name, gdf, _columns(lay, gdf))
            for _, definition in indexes:
                conn.execute(text(definition))
            for fk in fks:
                conn.execute(AddConstraint(fk))
            conn.execute(text(f'ANALYZE "{name}"'))
            if progress:
                progress(name, counts[name])
    except (IntegrityError, DataError) as e:
        raise _integrity(e, source) from None
    return counts


def delete_city(conn: Connection, city: str) -> None:
    """Remove a city and everything in it, in the caller's transaction."""
    writing(conn)
    _delete_city(conn, city)


def _delete_city(conn: Connection, city: str) -> None:
    # Plans first: their assignments reference managers, which the city's cascade removes
    # through a shorter path, and PostgreSQL would check that reference before the long one.
    # Every foreign-key column is indexed (migration 0003), so each cascade step is a lookup.
    tiles.forget_all(conn)
    conn.execute(text("DELETE FROM district_plans WHERE city_id = :c"), {"c": city})
    conn.execute(text("DELETE FROM cities WHERE id = :c"), {"c": city})


# ---- reading --------------------------------------------------------------------------------

_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "text": pa.string(),
          "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC")}


def read_layer(conn: Connection, name: str, city: str | None = None,
               columns: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """A stored layer as a GeoDataFrame in EPSG:4326 (COPY out, Arrow parse, WKB decode)."""
    lay = layer_of(name)
    cols = [c for c in (columns or lay.kinds) if c in lay.kinds]
    select = ", ".join([f'"{c}"' for c in cols] + ["encode(ST_AsBinary(geometry), 'hex') AS geometry"])
    where, params = "", {}
    if city is not None and "city_id" in lay.kinds:
        where, params = " WHERE city_id = %(city)s", {"city": city}
    raw = conn.connection.driver_connection
    buf = io.BytesIO()
    with raw.cursor() as cur:
        sql = f'COPY (SELECT {select} FROM "{lay.name}"{where} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)'
        with cur.copy(sql, params or None) as cp:
            for chunk in cp:
                buf.write(chunk)
    types = {c: _ARROW[lay.kinds[c]] for c in cols}
    types["geometry"] = pa.string()
    buf.seek(0)
    if buf.getbuffer().nbytes == 0:
        df = pd.DataFrame({c: pd.Series(dtype=types[c].to_pandas_dtype()) for c in cols})
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    table = pacsv.read_csv(buf, convert_options=pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
        true_values=["t"], false_values=["f"]))
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)
    hexes = df.pop("geometry").to_numpy(dtype=object)
    hexes[pd.isna(hexes)] = None  # a city may have no outline
    geom = shapely.from_wkb(hexes)
    return gpd.GeoDataFrame(df, geometry=geom, crs=SRID)


def counts(conn: Connection, city: str) -> dict[str, int]:
    out = {}
    for name in LOAD_ORDER:
        key = "id" if name == "cities" else "city_id"
        out[name] = int(conn.execute(text(f'SELECT count(*) FROM "{name}" WHERE {key} = :c'), {"c": city}).scalar())
    return out
