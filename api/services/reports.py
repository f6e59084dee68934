"""Construction reports (商机) from the field: a manager who sees a new building or commercial
area reports it at once, and the alerts' evaluation picks it up.

A report posted over the API is one row of `pianqu import construction`: it goes through the
import's own rules (gis.validate.prepare: types, vocabularies, row rules, geometry type and
validity, the CRS's area of use; then the store's import path: references, constraints), so the
two doors cannot disagree. On top, the rules of a report made by a person: it is new (an id
already stored is a conflict, never an overwrite), and a manager reports as himself only.
"""
from __future__ import annotations

import datetime as dt
import secrets
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import Engine, text

from gis import store
from gis.errors import Conflict, InputError, NotFound, PianquError
from gis.layers import layer
from gis.tickets import city_timezone
from gis.validate import prepare

from .edits import geometry_of, one_row_error
from .faults import feature_collection

REPORTS = layer("construction")
SOURCE = "construction report"
PROPERTIES = ("id", "name", "kind", "stage", "households", "floor_area_m2", "reporter_id", "reporter_name",
              "reported_on")
LIST_MAX = 10_000


class NotYours(PianquError):
    """A report on someone else's behalf by a manager (HTTP 403, CLI exit 2)."""
    status = 403


def _crs(name: str | None, where: str) -> CRS:
    try:
        return CRS.from_user_input(name or "EPSG:4326")
    except CRSError:
        raise InputError(f"crs {name!r} is not a coordinate reference system (e.g. EPSG:4326)",
                         source=where) from None


def _manager_city(conn, manager_id: str) -> tuple[str, str] | None:
    row = conn.execute(text("SELECT city_id, name FROM managers WHERE id = :m"), {"m": manager_id}).first()
    return None if row is None else (row.city_id, row.name)


def create_report(engine: Engine, city: str | None, geometry: dict | None, properties: dict, *,
                  crs: str | None = None, as_manager: str | None = None) -> dict:
    """Store one new report (a GeoJSON geometry, EPSG:4326 unless `crs` says otherwise, and its
    properties) and return it as a GeoJSON Feature. `as_manager`: the manager the caller is; the
    report is his (reporter_id forced to him; naming another manager is refused). The id is
    made when not given; reported_on defaults to today in the city."""
    props = {k: properties.get(k) for k in PROPERTIES}
    given = str(props["id"]).strip() if props["id"] is not None else ""
    rid = props["id"] = given or f"CR-{secrets.token_hex(6).upper()}"
    where = f"{SOURCE} {rid!r}" if given else f"the new {SOURCE}"   # a made id means nothing to the caller
    if as_manager is not None:
        if props["reporter_id"] not in (None, as_manager):
            raise NotYours(f"{where}: a manager reports as himself: reporter_id must be {as_manager!r}, "
                           f"not {props['reporter_id']!r}")
        props["reporter_id"] = as_manager
    if props["households"] is None and props["floor_area_m2"] is None:   # the store's has_demand, said first
        raise InputError("a report needs households or floor_area_m2: the demand it brings",
                         source=where)
    shape = geometry_of(geometry, where)
    crs_ = _crs(crs, where)
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        if conn.execute(text("SELECT 1 FROM construction_reports WHERE id = :i"), {"i": rid}).first():
            raise Conflict(f"{SOURCE} {rid!r} already exists: a report is posted once (choose another id, or "
                           "leave it out to have one made)")
        if props["reporter_id"] is not None:
            found = _manager_city(conn, props["reporter_id"])
            if found is None:
                raise InputError(f"reporter_id {props['reporter_id']!r} is not a manager in the store",
                                 source=where)
            if found[0] != city_id:
                raise InputError(f"reporter_id {props['reporter_id']!r} is a manager of city {found[0]!r}, "
                                 f"not of {city_id!r}", source=where)
            props["reporter_name"] = props["reporter_name"] or found[1]
        if props["reported_on"] is None:
            props["reported_on"] = dt.datetime.now(ZoneInfo(city_timezone(conn, city_id))).date().isoformat()
    gdf = gpd.GeoDataFrame({k: [v] for k, v in props.items()}, geometry=[shape], crs=crs_)
    try:
        rows = prepare(gdf, REPORTS, source=SOURCE, city_id=city_id)
        with engine.begin() as conn:
            store.upsert(conn, REPORTS, rows, source=SOURCE)
    except InputError as e:
        raise one_row_error(e, where) from None
    return get_report(engine, rid)


def _features(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    df = df.copy()
    df["reported_on"] = pd.to_datetime(df["reported_on"]).dt.strftime("%Y-%m-%d")
    return df


def get_report(engine: Engine, report_id: str) -> dict:
    """One stored report as a GeoJSON Feature."""
    with engine.connect() as conn:
        city_id = conn.execute(text("SELECT city_id FROM construction_reports WHERE id = :i"),
                               {"i": report_id}).scalar()
        if city_id is None:
            raise NotFound(f"{SOURCE} {report_id!r} does not exist")
        df = store.read_layer(conn, REPORTS.name, city_id)
    fc = feature_collection(_features(df[df["id"] == report_id]))
    return fc["features"][0]


def list_reports(engine: Engine, city: str | None = None, *, stage: str | None = None, kind: str | None = None,
                 reporter_id: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    """The city's reports, newest first, as a FeatureCollection with `total` (that match) and
    `shown`."""
    for what, v, allowed in (("stage", stage, REPORTS.vocabularies["stage"]),
                             ("kind", kind, REPORTS.vocabularies["kind"])):
        if v is not None and v not in allowed:
            raise InputError(f"unknown report {what} {v!r}; {what}s: {', '.join(allowed)}")
    if not (isinstance(limit, int) and 1 <= limit <= LIST_MAX):
        raise InputError(f"limit must be 1 to {LIST_MAX:,} reports, not {limit!r}")
    if not (isinstance(offset, int) and offset >= 0):
        raise InputError(f"offset must be 0 or more, not {offset!r}")
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        df = store.read_layer(conn, REPORTS.name, city_id)
    keep = pd.Series(True, index=df.index)
    for col, v in (("stage", stage), ("kind", kind), ("reporter_id", reporter_id)):
        if v is not None:
            keep &= (df[col] == v).fillna(False)
    df = df[keep.to_numpy()].sort_values(["reported_on", "id"], ascending=[False, True])
    page = df.iloc[offset:offset + limit]
    return feature_collection(_features(page), city=city_id, total=int(len(df)), shown=int(len(page)),
                              offset=offset)
