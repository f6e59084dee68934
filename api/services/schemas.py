"""A JSON Schema per collection (OGC API - Features Part 5, the collection's `describedby`
link): what a feature's properties are, which are required, their vocabularies, and which one
is the id and the geometry. GDAL's OAPIF driver takes a layer's fields from it, and a client
validating a feature before a POST reads the same rules the server applies."""
from __future__ import annotations

from sqlalchemy import Connection

from gis import features as store
from gis.layers import LAYERS

_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "date": "string", "timestamp": "string",
          "text": "string"}
_FORMATS = {"date": "date", "timestamp": "date-time"}


def schema(conn: Connection, name: str, base: str) -> dict:
    coll = store.collection(name)
    lay = LAYERS.get(coll.table) if coll.id == coll.table else None
    nullable = {c.name for c in lay.table.columns if c.nullable} if lay is not None else set(coll.kinds) - {"id"}
    props = {}
    for prop, kind in coll.kinds.items():
        one = {"title": prop, "type": _TYPES[kind] if prop not in nullable else [_TYPES[kind], "null"]}
        if kind in _FORMATS:
            one["format"] = _FORMATS[kind]
        if lay is not None and prop in lay.vocabularies:
            one["enum"] = [*lay.vocabularies[prop], *([None] if prop in nullable else [])]
        if prop == "id":
            one["x-ogc-role"] = "id"
        props[prop] = one
    gtype = store.geometry_type(conn, coll)
    props["geometry"] = {"x-ogc-role": "primary-geometry", "format": f"geometry-{(gtype or 'any').lower()}"}
    required = [c for c in (lay.required if lay is not None else ("id",)) if c in coll.kinds]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base}/collections/{coll.id}/schema", "type": "object", "title": coll.title,
            "properties": props, "required": required}
