"""The tiles service: which tile is asked for (layer, z/x/y, plan), the tile itself with its ETag,
and the TileJSON 3.0.0 document a map (MapLibre, QGIS) reads to find the tiles.

An empty tile (nothing of the layer there, or a zoom below the layer's minzoom, where a
point-dense layer answers nothing rather than megabytes) is answered 204 No Content by the
router; MapLibre and QGIS draw nothing for it, as Martin's clients do.
"""
from __future__ import annotations

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


def get_tile(conn: Connection, layer: str, z: int, x: int, y: int, *, plan: str | None = None,
             etags: tuple[str, ...] = ()) -> Tile:
    """The tile (from the shared cache, or rendered and stored). `data` None: the client's copy,
    one of `etags`, is current (304); b"": an empty tile (204)."""
    lay = layer_of(layer)
    check_tile(z, x, y)
    out = tiles.tile(conn, lay.id, z, x, y, plan=plan, if_none_match=etags)
    if out is None:
        raise _no_plan(plan)
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

