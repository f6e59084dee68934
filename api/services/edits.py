"""Feature edits for planners (OGC API - Features Part 4): create, replace, update and delete
one feature of a network layer, with optimistic locking.

A feature is one row of `pianqu import`: it goes through the import's own rules
(gis.validate.prepare, then gis.store.upsert: types, vocabularies, capacities, geometry type and
validity, the CRS's area of use, references, constraints), so the two doors cannot disagree.
On top, the rules of an edit made by a person:
- a new feature is new (an id already stored is a conflict, never an overwrite);
- a replace, update or delete names the version it was made from (`If-Match`, the ETag the
  feature was read with): a missing one is refused (428), a stale one too (412), so two planners
  editing the same box never lose one's change silently;
- a delete that would orphan rows (a box with subscribers) is refused, naming them;
- unknown properties are refused, not dropped (a typo must not vanish).
"""
from __future__ import annotations

import json

import geopandas as gpd
import shapely
import shapely.geometry
from sqlalchemy import Connection

from gis import edits, store
from gis.errors import Conflict, InputError, NotFound, PianquError
from gis.features import COLLECTIONS
from gis.layers import Layer
from gis.validate import prepare

from .features import Crs, parse_crs

MEDIA = "application/geo+json"
MAX_PROPERTIES = 200


class NotAllowed(PianquError):
    """An edit the collection does not take (HTTP 405)."""
    status = 405


class PreconditionRequired(PianquError):
    status = 428


class Stale(PianquError):
    """The caller's version of a row is not the stored one any more (HTTP 412)."""
    status = 412


def layer(name: str) -> Layer:
    writable = edits.writable_layers()
    if name in writable:
        return writable[name]
    if name == "districts":
        raise NotAllowed("districts are made by plans, not edited as features: POST /plans makes a plan "
                         "(and the map edits one)")
    if name in COLLECTIONS:
        raise NotAllowed(f"collection {name!r} is not edited feature by feature (import it whole: pianqu import)")
    raise NotFound(f"collection {name!r} does not exist (collections: {', '.join(sorted(COLLECTIONS))})")


def one_row_error(e: InputError, where: str) -> InputError:
    """The import's row-numbered problems, said of the one feature: "boxes 'BX-1': capacity must
    be positive; used exceeds capacity"."""
    said = [p.split(": ", 1)[1] if ": " in p else p for p in e.problems]
    return InputError("; ".join(dict.fromkeys(said)), source=where, problems=said)


def geometry_of(geometry, where: str):
    if geometry is None:
        return None
    if not isinstance(geometry, dict):
        raise InputError("geometry must be a GeoJSON geometry object or null", source=where)
    try:
        return shapely.geometry.shape(geometry)
    except Exception as e:  # shapely raises several kinds for a malformed GeoJSON geometry
        raise InputError(f"geometry is not a GeoJSON geometry ({type(e).__name__}: {e})", source=where) from None


def _parts(feature, where: str) -> tuple[dict, object, bool]:
    """(properties, geometry, whether a geometry member was given) of a GeoJSON Feature body."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InputError('the body must be a GeoJSON Feature ({"type": "Feature", "geometry": ..., '
                         '"properties": {...}})', source=where)
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InputError("properties must be an object", source=where)
    if len(props) > MAX_PROPERTIES:
        raise InputError(f"{len(props):,} properties: a feature has at most {MAX_PROPERTIES}", source=where)
    return dict(props), feature.get("geometry"), "geometry" in feature


def _check_names(lay: Layer, props: dict, where: str) -> None:
    unknown = [k for k in props if k not in lay.kinds]
    if unknown:
        raise InputError(f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(map(repr, unknown))} "
                         f"(a {lay.name} feature has {', '.join(lay.kinds)})", source=where)


def _given_id(feature: dict, props: dict, where: str) -> str | None:
    ids = {str(v).strip() for v in (feature.get("id"), props.get("id")) if v is not None and str(v).strip()}
    if len(ids) > 1:
        raise InputError(f"the feature's id and its properties' id differ ({' vs '.join(sorted(ids))})", source=where)
    return ids.pop() if ids else None


def _store(conn: Connection, lay: Layer, props: dict, shape, crs: Crs, city: str, where: str, *,
           insert_only: bool) -> dict:
    if shape is not None and crs.flip:       # EPSG:4326 proper is latitude first
        shape = shapely.transform(shape, lambda c: c[:, ::-1])
    gdf = gpd.GeoDataFrame({k: [v] for k, v in props.items()}, geometry=[shape], crs=f"EPSG:{crs.srid}")
    try:
        rows = prepare(gdf, lay, source=lay.name, city_id=city)
        return store.upsert(conn, lay, rows, source=lay.name, insert_only=insert_only)
    except InputError as e:
        raise one_row_error(e, where) from None


def _answer(conn: Connection, lay: Layer, row_id: str) -> tuple[dict, str]:
    r = edits.row(conn, lay, row_id)
    return {"type": "Feature", "id": row_id, "geometry": r.geometry, "properties": r.properties}, r.etag


def _city(conn: Connection, props: dict, where: str) -> str:
    try:
        return store.resolve_city(conn, props.get("city_id"))
    except (InputError, NotFound) as e:
        raise InputError(str(e), source=where) from None


def create(conn: Connection, name: str, feature, *, content_crs: str | None = None) -> tuple[dict, str]:
    """Store one new feature; returns it as stored (GeoJSON, EPSG:4326) and its ETag."""
    lay = layer(name)
    props, geometry, _ = _parts(feature, f"the new {name} feature")
    rid = _given_id(feature, props, f"the new {name} feature")
    if rid is None:
        raise InputError(f"a new {name} feature needs an id (the feature's id or properties.id)")
    where = f"{name} {rid!r}"
    _check_names(lay, props, where)
    props["id"] = rid
    crs = parse_crs(conn, content_crs, "Content-Crs")
    shape = geometry_of(geometry, where)
    done = _store(conn, lay, props, shape, crs, _city(conn, props, where), where, insert_only=True)
    if not done["inserted"]:
        raise Conflict(f"{where} already exists: a POST makes a new feature (PUT or PATCH "
                       f"/collections/{name}/items/{rid} changes it)")
    return _answer(conn, lay, rid)


def _locked(conn: Connection, lay: Layer, row_id: str, if_match: str | None, verb: str) -> edits.Row:
    where = f"{lay.name} {row_id!r}"
    if not if_match or not if_match.strip():
        raise PreconditionRequired(f"{verb} {where} needs If-Match: the ETag it was read with "
                                   f"(GET /collections/{lay.name}/items/{row_id})")
    current = edits.row(conn, lay, row_id, lock=True)
    if current is None:
        raise NotFound(f"{where} does not exist")
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" not in tags and current.etag not in tags:
        raise Stale(f"{where} changed since it was read (its ETag is now {current.etag}); read it again")
    return current


def _keep_city(current: edits.Row, props: dict, where: str) -> str:
    city = current.properties.get("city_id")
    if props.get("city_id") not in (None, city):
        raise InputError(f"city_id cannot change (it is {city!r}); a feature stays in its city", source=where)
    return city


def _change_body(conn: Connection, lay: Layer, row_id: str, feature, content_crs: str | None, where: str):
    """A PUT's or PATCH's body, checked before the row is locked: (properties, geometry, whether
    a geometry was given, the body's CRS). Its id, if any, is the feature's (an id does not change)."""
    props, geometry, has_geometry = _parts(feature, where)
    rid = _given_id(feature, props, where)
    if rid not in (None, row_id):
        raise InputError(f"the body's id {rid!r} is not the feature's id {row_id!r} (an id does not change)",
                         source=where)
    _check_names(lay, props, where)
    return props, geometry, has_geometry, parse_crs(conn, content_crs, "Content-Crs")


def replace(conn: Connection, name: str, row_id: str, feature, *, if_match: str | None,
            content_crs: str | None = None) -> tuple[dict, str]:
    """Replace a feature whole (PUT): properties not given are cleared (the required ones must
    be given); the geometry is the one given."""
    lay = layer(name)
    where = f"{name} {row_id!r}"
    props, geometry, _, crs = _change_body(conn, lay, row_id, feature, content_crs, where)
    shape = geometry_of(geometry, where)
    current = _locked(conn, lay, row_id, if_match, "replacing")
    city = _keep_city(current, props, where)
    nullable = {c.name for c in lay.table.columns if c.nullable and c.name in lay.kinds}
    full = {**{c: None for c in nullable}, **props, "id": row_id, "city_id": city}
    _store(conn, lay, full, shape, crs, city, where, insert_only=False)
    return _answer(conn, lay, row_id)


def update(conn: Connection, name: str, row_id: str, patch, *, if_match: str | None,
           content_crs: str | None = None) -> tuple[dict, str]:
    """Change some properties and/or the geometry (PATCH, JSON merge patch: a property set to
    null is cleared, one left out is kept, the geometry changes only when given)."""
    lay = layer(name)
    where = f"{name} {row_id!r}"
    if not isinstance(patch, dict):
        raise InputError("the body must be a JSON object (a GeoJSON Feature or a merge patch of one)", source=where)
    props, geometry, has_geometry, crs = _change_body(conn, lay, row_id, {"type": "Feature", **patch},
                                                      content_crs, where)
    shape = geometry_of(geometry, where) if has_geometry else None
    current = _locked(conn, lay, row_id, if_match, "changing")
    city = _keep_city(current, props, where)
    if not has_geometry:      # the stored geometry, which is EPSG:4326 lon/lat whatever Content-Crs says
        shape, crs = geometry_of(current.geometry, where), Crs("", 4326, False)
    merged = {**current.properties, **props, "id": row_id, "city_id": city}
    _store(conn, lay, merged, shape, crs, city, where, insert_only=False)
    return _answer(conn, lay, row_id)


def remove(conn: Connection, name: str, row_id: str, *, if_match: str | None) -> None:
    """Delete a feature, unless rows depend on it (named in the refusal)."""
    lay = layer(name)
    _locked(conn, lay, row_id, if_match, "deleting")
    edits.delete(conn, lay, row_id)


def etag(conn: Connection, name: str, row_id: str) -> str | None:
    """The ETag a GET of the feature answers (None for collections not edited feature by feature)."""
    writable = edits.writable_layers()
    return edits.etag(conn, writable[name], row_id) if name in writable else None


def as_json(feature: dict) -> str:
    return json.dumps(feature, default=str)
