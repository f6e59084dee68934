"""The tiles service: which tile is asked for (layer, z/x/y, plan), the tile itself with its ETag,
and the TileJSON 3.0.0 document a map (MapLibre, QGIS) reads to find the tiles.

An empty tile (nothing of the layer there, or a zoom below the layer's minzoom, where a
point-dense layer answers nothing rather than megabytes) is answered 204 No Content by the
router; MapLibre and QGIS draw nothing for it, as Martin's clients do.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from urllib.parse import quote

from sqlalchemy import Connection, text

from gis import features, tiles
from gis.errors import NotFound
from gis.tiles import MAX_ZOOM, Tile, TileLayer

MEDIA = "application/vnd.mapbox-vector-tile"


def layer_of(name: str) -> TileLayer:
    if name not in tiles.LAYERS:
        raise NotFound(f"tile layer {name!r} does not exist (layers: {', '.join(sorted(tiles.LAYERS))})")
    return tiles.LAYERS[name]


def check_tile(z: int, x: int, y: int) -> None:
    """z within 0..22, x and y within 0..2^z-1: else the tile does not exist (404)."""
    if not 0 <= z <= MAX_ZOOM:
        raise NotFound(f"zoom {z} is outside 0..{MAX_ZOOM}")
    top = 2 ** z - 1
    for name, v in (("x", x), ("y", y)):
        if not 0 <= v <= top:
            raise NotFound(f"tile {name}={v} is outside 0..{top} at zoom {z}")


def if_none_match(header: str | None) -> tuple[str, ...]:
    """The ETags of an If-None-Match header, compared weakly (RFC 9110: W/ does not matter)."""
    if not header:
        return ()
    return tuple(t.strip().removeprefix("W/") for t in header.split(",") if t.strip())


def _no_plan(plan: str) -> NotFound:
    return NotFound(f"plan {plan!r} does not exist")


class TileMemory:
    """The tiles one server worker answered last, with their ETags (least recently used out
    first, up to `max_bytes`). Never trusted alone: every request's cache look-up names the
    copy's ETag and answers the tile's current one, and its bytes only when they differ, so a
    copy is served only while it is still the shared cache's (an edit in any worker, committed,
    shows on the next request). What it saves is moving a hit's bytes out of PostgreSQL (TOAST,
    the socket, the driver): most of a large tile's hit. One event loop uses it: no lock."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.size = max_bytes, 0
        self._tiles: OrderedDict[tuple, tuple[str, bytes]] = OrderedDict()

    def get(self, key: tuple) -> tuple[str, bytes] | None:
        held = self._tiles.get(key)
        if held is not None:
            self._tiles.move_to_end(key)
        return held

    def put(self, key: tuple, etag: str, data: bytes) -> None:
        if len(data) > self.max_bytes // 8:     # one huge tile must not push out hundreds
            return
        old = self._tiles.pop(key, None)
        if old is not None:
            self.size -= len(old[1])
        self._tiles[key] = (etag, data)
        self.size += len(data)
        while self.size > self.max_bytes:
            self.size -= len(self._tiles.popitem(last=False)[1][1])


async def get_tile(aconn, layer: str, z: int, x: int, y: int, *, plan: str | None = None,
                   etags: tuple[str, ...] = (), memory: TileMemory | None = None, manager: str | None = None) -> Tile:
    """The tile (from the shared cache, or rendered and stored). `data` None: the client's copy,
    one of `etags`, is current (304); b"": an empty tile (204). `aconn`: a psycopg
    AsyncConnection in autocommit (gis.db.async_pool). `manager`: a manager's key, whose tiles
    of subscribers and tickets hold only his districts' (rendered for him, never cached)."""
    lay = layer_of(layer)
    check_tile(z, x, y)
    if manager is not None and lay.id in features.SCOPED:
        return await tiles.tile(aconn, lay.id, z, x, y, known=etags, any_etag="*" in etags, manager=manager)
    key = (lay.id, plan if lay.id == "districts" else None, z, x, y)
    held = memory.get(key) if memory is not None else None
    any_etag = "*" in etags
    out = await tiles.tile(aconn, lay.id, z, x, y, plan=plan, any_etag=any_etag,
                           known=etags + ((held[0],) if held else ()))
    if out is None:
        raise _no_plan(plan)
    if out.data is None and held is not None and not any_etag and out.etag not in etags:
        return Tile(held[1], out.etag, out.cache)   # the copy in memory is the cache's current tile
    if out.data and memory is not None:
        memory.put(key, out.etag, out.data)
    return out


def tilejson(conn: Connection, layer: str, base_url: str, *, plan: str | None = None) -> dict:
    """TileJSON 3.0.0: the tiles URL (absolute, `?plan=` carried), zooms, bounds, fields."""
    lay = layer_of(layer)
    coll = features.collection(lay.id)
    if lay.id != "districts":
        plan = None
    elif plan is not None and not conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM district_plans WHERE id = :p)"), {"p": plan}).scalar():
        raise _no_plan(plan)
    url = f"{base_url.rstrip('/')}/tiles/{quote(lay.id)}/{{z}}/{{x}}/{{y}}.pbf"
    if plan is not None:
        url += f"?plan={quote(plan, safe='')}"
    x0, y0, x1, y1 = features.extent(conn, coll)["spatial"]["bbox"][0]
    description = coll.title + (f" of plan {plan}" if plan else " of the active plan" if lay.id == "districts"
                                else "")
    if lay.note:
        description += f"; {lay.note}"
    return {
        "tilejson": "3.0.0", "name": lay.id, "description": description, "version": "1.0.0",
        "attribution": "Pianqu", "scheme": "xyz", "tiles": [url],
        "minzoom": lay.minzoom, "maxzoom": MAX_ZOOM, "bounds": [x0, y0, x1, y1],
        "center": [round((x0 + x1) / 2, 6), round((y0 + y1) / 2, 6), max(lay.minzoom, 12)],
        "vector_layers": [{"id": lay.id, "description": description, "minzoom": lay.minzoom, "maxzoom": MAX_ZOOM,
                           "fields": lay.fields()}],
    }



# ---- warming the opening view ------------------------------------------------------------------

# The layers the planner map opens with, warmed when the server starts, so the first planner of
# the day does not wait for every tile of the city to render (a city's opening view is about 70
# tiles cold: 10 s on 2 cores; warm, under 3 s).
WARM_LAYERS = ("admin_areas", "streets", "barriers", "districts", "cables", "boxes")
MAP_VIEW_PX = (1050, 810)       # the map's part of a 1400 x 900 screen (the side panel takes the rest)


def _mercator_y(lat: float) -> float:
    """0 at the top of the world, 1 at the bottom (Web Mercator)."""
    return (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2


def opening_zoom(bounds: list[list[float]], px: tuple[int, int] = MAP_VIEW_PX) -> int:
    """The zoom Leaflet's fitBounds gives `bounds` ([[south, west], [north, east]]) in `px`."""
    (s, w), (n, e) = bounds
    dx, dy = max((e - w) / 360, 1e-9), max(_mercator_y(s) - _mercator_y(n), 1e-9)
    return int(max(0, min(MAX_ZOOM, math.floor(min(math.log2(px[0] / (256 * dx)), math.log2(px[1] / (256 * dy)))))))


def tiles_covering(bounds: list[list[float]], z: int) -> list[tuple[int, int]]:
    (s, w), (n, e) = bounds
    k = 2 ** z
    x0, x1 = int((w + 180) / 360 * k), int((e + 180) / 360 * k)
    y0, y1 = int(_mercator_y(n) * k), int(_mercator_y(s) * k)
    return [(x, y) for x in range(max(x0, 0), min(x1, k - 1) + 1) for y in range(max(y0, 0), min(y1, k - 1) + 1)]


async def warm(apool, bounds: list[list[float]], *, layers=WARM_LAYERS, memory: TileMemory | None = None) -> int:
    """Render (into the shared cache) the tiles of the planner map's opening view of `bounds`,
    and the zoom below and above; returns how many tiles were asked for."""
    z0 = opening_zoom(bounds)
    n = 0
    for z in (z0, z0 - 1, z0 + 1):
        if z < 0:
            continue
        for x, y in tiles_covering(bounds, z):
            for layer in layers:
                async with apool.connection() as aconn:
                    await get_tile(aconn, layer, z, x, y, memory=memory)
                n += 1
    return n
