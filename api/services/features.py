"""The features service: OGC API - Features (Part 1 core, Part 2 CRS, Part 3 CQL2 filters) over
the stored layers.

It parses the standard's query parameters into a `gis.features.Query` (once, before any SQL,
with errors that name the parameter), and builds the documents: landing links, conformance,
collections with extent and CRS lists, pages of items with next/prev links, queryables.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from gis import cql
from gis import features as store
from gis.errors import InputError

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
# Parameters of an items request that are not attribute filters.
RESERVED = {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "after", "properties", "sortby", "f", "plan",
            "filter", "filter-lang", "filter-crs"}

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    # Part 3 and CQL2 (QGIS sends a filter to the server only when it sees filter, features-filter,
    # basic-cql2 and cql2-text; with the others it also sends LIKE/BETWEEN/IN, CASEI, S_INTERSECTS).
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
]
FILTER_LANGS = ("cql2-text",)


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    flip: bool      # EPSG:4326 proper is latitude first


def crs_list(conn: Connection) -> list[str]:
    return [CRS84, f"{EPSG}4326", f"{EPSG}3857", *(f"{EPSG}{s}" for s in store.metric_srids(conn))]


def parse_crs(conn: Connection, value: str | None, what: str = "crs") -> Crs:
    if value is None or value in (CRS84, "CRS84", "OGC:CRS84"):
        return Crs(CRS84, 4326, False)
    code = value.rsplit("/", 1)[-1] if value.startswith("http") else value.split(":")[-1]
    uri = f"{EPSG}{code}"
    if uri not in crs_list(conn):
        raise InputError(f"{what} {value!r} is not offered; use one of {', '.join(crs_list(conn))}")
    return Crs(uri, int(code), code == "4326")


def _bbox(value: str | None, crs: Crs) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        raise InputError(f"bbox {value!r}: expected four numbers minx,miny,maxx,maxy") from None
    if len(nums) == 6:   # with heights: drop them
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4:
        raise InputError(f"bbox {value!r}: expected four numbers minx,miny,maxx,maxy")
    if crs.flip:         # EPSG:4326 bbox is lat,lon
        nums = [nums[1], nums[0], nums[3], nums[2]]
    x0, y0, x1, y1 = nums
    if x0 > x1 or y0 > y1:
        raise InputError(f"bbox {value!r}: the lower corner must come first")
    if crs.srid == 4326 and not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise InputError(f"bbox {value!r}: longitudes must be within -180..180 and latitudes within -90..90")
    return x0, y0, x1, y1


def _instant(v: str, value: str) -> dt.datetime | None:
    if v in ("..", ""):
        return None
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"datetime {value!r}: expected an RFC 3339 instant or interval, e.g. "
                         "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z or 2026-10-01/..") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _datetime(value: str | None):
    if value is None:
        return None
    if "/" in value:
        a, b = value.split("/", 1)
        start, end = _instant(a, value), _instant(b, value)
        if start and end and end < start:
            raise InputError(f"datetime {value!r}: the interval ends before it starts")
        return start, end
    t = _instant(value, value)
    return t, t


def parse_query(conn: Connection, coll: store.Collection, params: dict[str, str]) -> tuple[store.Query, Crs]:
    """An items request's parameters as a Query, every one checked before any SQL runs."""
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise InputError("limit and offset must be whole numbers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit {limit}: expected 1 to {MAX_LIMIT:,}")
    if offset < 0:
        raise InputError(f"offset {offset}: expected 0 or more")
    out = parse_crs(conn, params.get("crs"))
    bbox_crs = parse_crs(conn, params.get("bbox-crs"), "bbox-crs")
    props = [p.strip() for p in params["properties"].split(",") if p.strip()] if "properties" in params else None
    sortby = []
    for s in (params.get("sortby") or "").split(","):
        s = s.strip()
        if s:
            desc = s.startswith("-")
            sortby.append((s.lstrip("+-"), desc))
    filters = {k: v for k, v in params.items() if k not in RESERVED}
    flt = _filter(conn, coll, params)
    q = store.Query(bbox=_bbox(params.get("bbox"), bbox_crs), bbox_srid=bbox_crs.srid, filters=filters,
                    time=_datetime(params.get("datetime")), properties=props, sortby=sortby, limit=limit,
                    offset=offset, srid=out.srid, flip=out.flip, plan=params.get("plan"), after=params.get("after"),
                    cql=flt)
    return q, out


def _filter(conn: Connection, coll: store.Collection, params: dict[str, str]) -> cql.Filter | None:
    """`filter` (CQL2 text) compiled against the collection's queryables; geometry literals in
    `filter-crs` (default CRS84) or their own EWKT SRID, one of the offered CRSs."""
    lang = params.get("filter-lang", "cql2-text")
    if lang not in FILTER_LANGS:
        raise InputError(f"filter-lang {lang!r} is not offered; use one of {', '.join(FILTER_LANGS)}")
    fcrs = parse_crs(conn, params.get("filter-crs"), "filter-crs")
    if "filter" not in params:
        return None
    srids = [parse_crs(conn, uri).srid for uri in crs_list(conn)]
    return cql.compile(params["filter"], coll, srid=fcrs.srid, flip=fcrs.flip, srids=srids)


def collection_doc(conn: Connection, coll: store.Collection, base: str) -> dict:
    href = f"{base}/collections/{coll.id}"
    return {"id": coll.id, "title": coll.title, "itemType": "feature", "extent": store.extent(conn, coll),
            "crs": crs_list(conn), "storageCrs": CRS84,
            "links": [{"rel": "self", "type": "application/json", "href": href},
                      {"rel": "items", "type": "application/geo+json", "href": f"{href}/items"},
                      {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
                       "href": f"{href}/queryables"},
                      {"rel": "describedby", "type": "application/schema+json", "href": f"{href}/schema"}]}


def collections_doc(conn: Connection, base: str) -> dict:
    return {"collections": [collection_doc(conn, c, base) for c in store.COLLECTIONS.values()],
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/collections"}]}


_SCHEMA = {"int": {"type": "integer"}, "float": {"type": "number"}, "bool": {"type": "boolean"},
           "date": {"type": "string", "format": "date"}, "timestamp": {"type": "string", "format": "date-time"},
           "text": {"type": "string"}}


def queryables(conn: Connection, coll: store.Collection, base: str) -> dict:
    """Part 3's queryables: every property a filter may name, with its JSON type (a filter naming
    another is refused: additionalProperties false), the geometry and the time marked by role."""
    props = {p: {"title": p, **_SCHEMA[k]} for p, k in coll.kinds.items()}
    props["id"]["x-ogc-role"] = "id"
    if coll.time:
        props[coll.time]["x-ogc-role"] = "primary-instant"
    gtype = store.geometry_type(conn, coll)
    props[cql.GEOMETRY] = {"title": "geometry", "format": f"geometry-{(gtype or 'any').lower()}",
                           "x-ogc-role": "primary-geometry"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{base}/collections/{coll.id}/queryables",
            "type": "object", "title": coll.title, "properties": props, "additionalProperties": False}


def items_page(conn: Connection, name: str, params: dict[str, str], base: str, *,
               manager: str | None = None) -> tuple[str, Crs]:
    """A page of features as GeoJSON text (the features array spliced in as PostGIS wrote it).
    `manager`: a manager's key, who sees only his districts' subscribers and tickets."""
    import json
    from urllib.parse import urlencode
    coll = store.collection(name)
    q, crs = parse_query(conn, coll, params)
    q.manager = manager
    page = store.items(conn, coll, q)
    href = f"{base}/collections/{name}/items"
    links = [{"rel": "self", "type": "application/geo+json", "href": f"{href}?{urlencode(params)}"}]
    if page.returned == q.limit and not q.sortby and not q.offset:
        # Keyset: the next page starts after the last id (as cheap deep in a layer as at its start).
        nxt = {k: v for k, v in params.items() if k != "offset"}
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": f"{href}?{urlencode({**nxt, 'after': page.last_id})}"})
    elif q.after is None and q.offset + page.returned < page.matched:
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": f"{href}?{urlencode({**params, 'offset': q.offset + q.limit})}"})
    if q.offset > 0:
        links.append({"rel": "prev", "type": "application/geo+json",
                      "href": f"{href}?{urlencode({**params, 'offset': max(q.offset - q.limit, 0)})}"})
    features, returned, matched, exact = page.features, page.returned, page.matched, page.exact
    head = {"type": "FeatureCollection", "numberReturned": returned, "numberMatched": matched,
            "timeStamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "links": links}
    if not exact:
        head["numberMatchedEstimated"] = True
    return json.dumps(head)[:-1] + ', "features": ' + features + "}", crs


def item_doc(conn: Connection, name: str, item_id: str, params: dict[str, str], *,
             manager: str | None = None) -> tuple[str, Crs]:
    coll = store.collection(name)
    crs = parse_crs(conn, params.get("crs"))
    q = store.Query(srid=crs.srid, flip=crs.flip, plan=params.get("plan"), manager=manager)
    return store.item(conn, coll, item_id, q), crs
