"""Feature edits (OGC API - Features Part 4, planners only) and each collection's JSON Schema
(Part 5, its `describedby`). The rules live in api.services.edits; this only translates."""
from __future__ import annotations

import json
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Body, Depends, Header, Path, Request, Response
from sqlalchemy import Connection

from api.services import edits as svc
from api.services import schemas
from gis.users import User

from ..deps import anyone, planner, read, write

router = APIRouter(tags=["features"])
Name = Annotated[str, Path(description="Collection id, e.g. boxes, subscribers.")]
Item = Annotated[str, Path(description="The feature's id.")]
IfMatch = Annotated[Optional[str], Header(description="The ETag the feature was read with (required).")]
ContentCrs = Annotated[Optional[str], Header(alias="Content-Crs",
                                             description="CRS of the body's geometry, e.g. "
                                                         "<http://www.opengis.net/def/crs/EPSG/0/3857> "
                                                         "(default CRS84, longitude first).")]
_EXAMPLE = {"type": "Feature", "id": "BX-NEW-1", "geometry": {"type": "Point", "coordinates": [112.97, 28.2]},
            "properties": {"office_id": "CO-01", "capacity": 600, "used": 0, "year_installed": 2026}}
Feature = Annotated[dict[str, Any], Body(description="A GeoJSON Feature.", examples=[_EXAMPLE],
                                          media_type="application/geo+json")]
_ERRORS = {404: {"description": "Unknown collection or feature"},
           405: {"description": "The collection is not edited feature by feature"},
           409: {"description": "The id exists, or rows depend on the feature"},
           412: {"description": "If-Match is stale"}, 422: {"description": "The feature breaks a rule"},
           428: {"description": "If-Match is missing"}}


def _crs(value: str | None) -> str | None:
    return value.strip().strip("<>") if value else None


def _feature(feature: dict, tag: str, status: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": tag, **({"Location": location} if location else {})}
    return Response(svc.as_json(feature), status_code=status, media_type=svc.MEDIA, headers=headers)


@router.post("/collections/{collectionId}/items", status_code=201, response_class=Response,
             summary="Add a feature (planners): checked by the rules of `pianqu import`",
             responses={201: {"content": {svc.MEDIA: {}}, "description": "The feature as stored"}, **_ERRORS})
def create(collectionId: Name, feature: Feature, request: Request, conn: Connection = Depends(write, scope="function"),
           user: User = Depends(planner), content_crs: ContentCrs = None):
    out, tag = svc.create(conn, collectionId, feature, content_crs=_crs(content_crs))
    location = f"{str(request.base_url).rstrip('/')}/collections/{collectionId}/items/{out['id']}"
    return _feature(out, tag, 201, location)


@router.put("/collections/{collectionId}/items/{item_id}", response_class=Response,
            summary="Replace a feature (planners; If-Match required)",
            responses={200: {"content": {svc.MEDIA: {}}}, **_ERRORS})
def replace(collectionId: Name, item_id: Item, feature: Feature, conn: Connection = Depends(write, scope="function"),
            user: User = Depends(planner), if_match: IfMatch = None, content_crs: ContentCrs = None):
    out, tag = svc.replace(conn, collectionId, item_id, feature, if_match=if_match, content_crs=_crs(content_crs))
    return _feature(out, tag)


@router.patch("/collections/{collectionId}/items/{item_id}", response_class=Response,
              summary="Change some properties or the geometry (planners; JSON merge patch; If-Match required)",
              responses={200: {"content": {svc.MEDIA: {}}}, **_ERRORS})
def update(collectionId: Name, item_id: Item,
           patch: Annotated[dict[str, Any], Body(media_type="application/merge-patch+json",
                                                 examples=[{"properties": {"used": 12}}])],
           conn: Connection = Depends(write, scope="function"), user: User = Depends(planner), if_match: IfMatch = None,
           content_crs: ContentCrs = None):
    out, tag = svc.update(conn, collectionId, item_id, patch, if_match=if_match, content_crs=_crs(content_crs))
    return _feature(out, tag)


@router.delete("/collections/{collectionId}/items/{item_id}", status_code=204, response_class=Response,
               summary="Delete a feature (planners; If-Match required; refused while rows depend on it)",
               responses=_ERRORS)
def remove(collectionId: Name, item_id: Item, conn: Connection = Depends(write, scope="function"), user: User = Depends(planner),
           if_match: IfMatch = None):
    svc.remove(conn, collectionId, item_id, if_match=if_match)
    return Response(status_code=204)


@router.get("/collections/{collectionId}/schema", response_class=Response,
            summary="The collection's JSON Schema (its fields, types, vocabularies, id and geometry)",
            responses={200: {"content": {"application/schema+json": {}}}})
def schema(collectionId: Name, request: Request, conn: Connection = Depends(read), user: User = Depends(anyone)):
    doc = schemas.schema(conn, collectionId, str(request.base_url).rstrip("/"))
    return Response(json.dumps(doc), media_type="application/schema+json")
