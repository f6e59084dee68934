"""OGC API - Features: /conformance, /collections, items and queryables of every network layer
and of the districts of a plan (the GIS clients' door: QGIS, GDAL's OAPIF driver)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import Connection

from api.services import edits
from api.services import features as svc
from gis.cql import MAX_CHARS as CQL_MAX
from gis.users import User

from ..deps import anyone, own_manager, read

router = APIRouter(tags=["features"])
GEOJSON = "application/geo+json"
# `collectionId`, the standard's own name for it: GDAL looks up the items path by it to read the
# page size (the `limit` maximum) from the OpenAPI document.
Name = Annotated[str, Path(description="Collection id, e.g. boxes, subscribers, districts.")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _geojson(body: str, crs: svc.Crs) -> Response:
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{crs.uri}>"})


@router.get("/conformance", summary="The conformance classes this server implements")
def conformance(user: User = Depends(anyone)) -> dict:
    return {"conformsTo": svc.CONFORMANCE}


@router.get("/collections", summary="Every collection with its extent and CRS list")
def collections(request: Request, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    return svc.collections_doc(conn, _base(request))


@router.get("/collections/{collectionId}", summary="One collection")
def collection(collectionId: Name, request: Request, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    from gis.features import collection as find
    return svc.collection_doc(conn, find(collectionId), _base(request))


@router.get("/collections/{collectionId}/queryables", summary="The properties a filter may use (JSON Schema)")
def queryables(collectionId: Name, request: Request, conn: Connection = Depends(read), user: User = Depends(anyone)):
    from gis.features import collection as find
    return Response(__import__("json").dumps(svc.queryables(conn, find(collectionId), _base(request))),
                    media_type="application/schema+json")


@router.get("/collections/{collectionId}/items", response_class=Response,
            summary="Features of a collection: bbox, datetime, attribute filters (?kind=trunk), CQL2 filter, "
                    "properties, sortby, crs; paged with next/prev links",
            responses={200: {"content": {GEOJSON: {}}}})
def items(collectionId: Name, request: Request, conn: Connection = Depends(read), user: User = Depends(anyone),
          limit: Annotated[int, Query(ge=1, le=svc.MAX_LIMIT, description="Page size.")] = svc.DEFAULT_LIMIT,
          offset: Annotated[int, Query(ge=0)] = 0,
          bbox: Annotated[Optional[str], Query(description="minx,miny,maxx,maxy (in bbox-crs, default CRS84)")] = None,
          bbox_crs: Annotated[Optional[str], Query(alias="bbox-crs")] = None,
          crs: Annotated[Optional[str], Query(description="Output CRS URI (see the collection's crs list).")] = None,
          datetime: Annotated[Optional[str], Query(description="Instant or interval (a/b, .. for open).")] = None,
          properties: Annotated[Optional[str], Query(description="Comma-separated properties to return.")] = None,
          sortby: Annotated[Optional[str], Query(description="e.g. -year_laid,id")] = None,
          plan: Annotated[Optional[str], Query(description="districts: the plan (default: the active ones).")] = None,
          filter: Annotated[Optional[str], Query(
              max_length=CQL_MAX, description="CQL2 text over the collection's queryables, e.g. "
              "capacity > 100 AND S_INTERSECTS(geometry, POLYGON((112.9 28.1, 113 28.1, 113 28.2, 112.9 28.1)))",
              examples=["kind IN ('trunk','distribution') AND year_laid BETWEEN 1990 AND 2000"])] = None,
          filter_lang: Annotated[Optional[Literal["cql2-text"]], Query(alias="filter-lang")] = None,
          filter_crs: Annotated[Optional[str], Query(
              alias="filter-crs", description="CRS of the filter's geometries (default CRS84).")] = None):
    body, out = svc.items_page(conn, collectionId, dict(request.query_params), _base(request),
                               manager=own_manager(user))
    return _geojson(body, out)


@router.get("/collections/{collectionId}/items/{item_id}", response_class=Response, summary="One feature",
            responses={200: {"content": {GEOJSON: {}}}})
def item(collectionId: Name, item_id: str, request: Request, conn: Connection = Depends(read), user: User = Depends(anyone),
         crs: Annotated[Optional[str], Query()] = None, plan: Annotated[Optional[str], Query()] = None):
    body, out = svc.item_doc(conn, collectionId, item_id, dict(request.query_params),
                             manager=own_manager(user))
    resp = _geojson(body, out)
    tag = edits.etag(conn, collectionId, item_id)     # the version a PUT/PATCH/DELETE names in If-Match
    if tag is not None:
        resp.headers["ETag"] = tag
    return resp
