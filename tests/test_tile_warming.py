"""`pianqu serve` renders the planner map's opening tiles when it starts (PIANQU_WARM_TILES, on by
default), so the first planner of the day does not wait for the city's tiles to render."""
import time

from sqlalchemy import text

from api.services.tiles import WARM_LAYERS, opening_zoom, tiles_covering
from gis import mapdata, tiles
from tests.servers import serve


def test_the_opening_tiles_are_in_the_cache_soon_after_the_server_starts(db_url, engine, loaded_demo):
    with engine.begin() as conn:
        tiles.forget_all(conn)
        bounds = mapdata.city_bounds(conn, loaded_demo)
    z = opening_zoom(bounds)
    want = set(tiles_covering(bounds, z))
    assert 0 < len(want) <= 64
    try:
        with serve(db_url, env={"PIANQU_WARM_TILES": "1"}):
            deadline = time.monotonic() + 120
            while True:
                with engine.connect() as conn:
                    got = conn.execute(text("SELECT layer, x, y FROM tile_cache WHERE z = :z"), {"z": z}).all()
                layers = {g.layer for g in got}
                if set(WARM_LAYERS) - {"districts"} <= layers or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        assert set(WARM_LAYERS) - {"districts"} <= layers, layers      # districts: only when a plan is active
        assert {(g.x, g.y) for g in got} <= want                        # the opening view, nothing else
    finally:
        with engine.begin() as conn:
            tiles.forget_all(conn)


def test_the_opening_zoom_is_leaflets_fit(loaded_demo):
    # a box 0.3 degrees wide at 28 N fills 1,050 x 810 px at zoom 11 (it would overflow at 12)
    b = [[28.05, 112.80], [28.35, 113.15]]
    assert opening_zoom(b) == 11
    assert opening_zoom([[28.19, 112.97], [28.20, 112.98]]) == 16
