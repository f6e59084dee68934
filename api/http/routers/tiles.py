"""Vector tiles: `/tiles/{layer}/{z}/{x}/{y}.pbf` (Mapbox Vector Tiles made by PostGIS, from the
shared tile cache) and `/tiles/{layer}.json` (TileJSON 3.0.0), for every network layer and the
districts of a plan (`?plan=`, default the active plan)."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlalchemy import Connection

from api.services import tiles as svc
from gis.users import User

from ..deps import aread, anyone, anyone_async, own_manager, read

router = APIRouter(prefix="/tiles", tags=["tiles"])
Layer = Annotated[str, Path(description="Layer (collection id): subscribers, boxes, cables, districts, ...")]
PlanQ = Annotated[Optional[str], Query(max_length=200, description="districts: the plan (default: the active plan); "
                                                                  "other layers ignore it.")]


@router.get("/{layer}/{z}/{x}/{y}.pbf", response_class=Response,
            summary="A vector tile (MVT) of a layer; ETag, If-None-Match; 204 for an empty tile",
            responses={200: {"content": {svc.MEDIA: {}}, "description": "The tile (X-Tile-Cache: hit or miss)"},
                       204: {"description": "An empty tile: nothing of the layer there, or a zoom below the "
                                            "layer's minzoom (TileJSON)"},
                       304: {"description": "The client's copy (If-None-Match) is current"},
                       404: {"description": "Unknown layer or plan, or z/x/y outside the tile pyramid"}})
async def get_tile(request: Request, layer: Layer, z: Annotated[int, Path(description="Zoom, 0 to 22.")],
                   x: Annotated[int, Path(description="Column, 0 to 2^z-1.")],
                   y: Annotated[int, Path(description="Row from the north, 0 to 2^z-1.")],
                   user: User = Depends(anyone_async), aconn=Depends(aread), plan: PlanQ = None,
                   if_none_match: Annotated[Optional[str], Header(description="ETags the client holds.")] = None):
    # async, on the server's asyncio pool: a cached tile is two statements and no worker thread.
    t = await svc.get_tile(aconn, layer, z, x, y, plan=plan, etags=svc.if_none_match(if_none_match),
                           memory=request.app.state.tile_memory, manager=own_manager(user))
    # no-cache: a client may keep the tile but revalidates it, so an edit shows on the next request.
    headers = {"ETag": t.etag, "Cache-Control": "no-cache", "X-Tile-Cache": t.cache}
    if t.data is None:
        return Response(status_code=304, headers=headers)
    if not t.data:
        return Response(status_code=204, headers=headers)
    return Response(t.data, media_type=svc.MEDIA, headers=headers)


@router.get("/{layer}.json", summary="TileJSON 3.0.0 of a layer: tiles URL, zooms, bounds, fields")
def tilejson(layer: Layer, request: Request, user: User = Depends(anyone), conn: Connection = Depends(read),
             plan: PlanQ = None) -> dict:
    return svc.tilejson(conn, layer, str(request.base_url), plan=plan)
