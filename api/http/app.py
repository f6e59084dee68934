"""The app factory: `create_app()` gives the ASGI app `pianqu serve` runs."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from . import problems
from .pages import STATIC
from .routers import (alerts, categories, complaints, districts, edits, faults, features, home, jobs, lookup,
                      managers, maps, outreach, plan_edits, plans, queues, reports, risk, rounds, scorecards, signin,
                      ticket_settings, tickets, tiles)

MAX_BODY = 2_000_000

TAGS = [{"name": "home", "description": "Landing page and health (no key needed)."},
        {"name": "features", "description": "OGC API - Features: every network layer and the districts of a plan."},
        {"name": "districts", "description": "Districts of the active plan and their managers (the managers' API)."},
        {"name": "managers", "description": "District account managers."},
        {"name": "tickets", "description": "Work orders: intake, routing to the district's manager, the loop's steps "
                                           "and clocks."}]


class BodyLimit:
    """Refuses a body over MAX_BODY (413) from its Content-Length, before it is read: nothing
    Pianqu takes is bigger than a few hundred kB (a report, a feature, a plan request). Plain
    ASGI, not Starlette's BaseHTTPMiddleware, which costs every request a task and a stream
    (about a millisecond here, the price of a cached tile's whole lookup)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            size = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
                response = problems.problem(413, f"the request body is larger than {MAX_BODY // 1_000_000} MB")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """Each worker's asyncio pool (the async routes') and its tiles in memory."""
    # One thread per worker for the numeric libraries (BLAS, OpenMP): the server's parallelism
    # is its workers and their requests. Left at one per core, the pools that scikit-learn's
    # OpenMP brings in fought the workers for the two cores: intake fell from 515 to 280
    # tickets a second (bench/bench_tickets.py).
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    from api.services.tiles import TileMemory
    from gis.config import tile_memory_bytes, warm_tiles
    from gis.db import async_pool
    app.state.apool = async_pool(app.state.engine.url.render_as_string(hide_password=False))
    app.state.tile_memory = TileMemory(tile_memory_bytes())
    await app.state.apool.open(wait=False)
    warming = asyncio.create_task(_warm(app)) if warm_tiles() else None
    scanning = asyncio.create_task(_scan_clocks(app))
    try:
        yield
    finally:
        if warming is not None:
            warming.cancel()
        scanning.cancel()
        await app.state.apool.close()


SCAN_EVERY_S = float(os.environ.get("PIANQU_SCAN_SECONDS", "60"))


async def _scan_clocks(app: FastAPI) -> None:
    """The tickets' clock scan on a schedule (api.services.tickets.scan), by one worker at a time
    (a transaction advisory lock: a worker that finds it taken skips that round). A failure is
    logged and the next round runs; the scan before every step and the clocks read on every
    answer do not wait for it."""
    import anyio
    from api.services.tickets import scan
    from gis.tiles import LOCK_CLASS
    from sqlalchemy import text
    log = logging.getLogger("pianqu.scan")

    def once():
        with app.state.engine.begin() as conn:
            if conn.execute(text("SELECT pg_try_advisory_xact_lock(:k, hashtext('scan'))"), {"k": LOCK_CLASS}).scalar():
                res = scan(conn)
                if res["escalations"]:
                    log.info("clock scan: %d escalations on %d open tickets", res["escalations"], res["tickets"])
    while SCAN_EVERY_S > 0:
        try:
            await anyio.to_thread.run_sync(once)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("the clock scan failed: %s", e)
        await asyncio.sleep(SCAN_EVERY_S)


async def _warm(app: FastAPI) -> None:
    """The planner map's opening tiles of every city rendered into the shared cache, by one worker
    (a session advisory lock elects it); a failure is logged, never raised."""
    import anyio
    from api.services.tiles import warm
    from gis.tiles import LOCK_CLASS
    from gis import mapdata, store
    log = logging.getLogger("pianqu.warm")
    try:
        def cities():
            with app.state.engine.connect() as conn:
                return [(c, mapdata.city_bounds(conn, c)) for c in store.city_ids(conn)]
        async with app.state.apool.connection() as lock:
            got = await (await lock.execute("SELECT pg_try_advisory_lock(%(k)s, hashtext('warm'))",
                                            {"k": LOCK_CLASS})).fetchone()
            if not got[0]:
                return
            t0 = time.perf_counter()
            for city, bounds in await anyio.to_thread.run_sync(cities):
                n = await warm(app.state.apool, bounds, memory=app.state.tile_memory)
                log.info("warmed %d tiles of %s in %.1f s", n, city, time.perf_counter() - t0)
            await lock.execute("SELECT pg_advisory_unlock(%(k)s, hashtext('warm'))", {"k": LOCK_CLASS})
    except asyncio.CancelledError:
        raise
    except Exception as e:   # warming is a courtesy: the tiles render on demand anyway
        log.warning("warming the tiles stopped: %s", e)


def create_app(engine: Engine | None = None) -> FastAPI:
    from gis.db import engine as default_engine
    app = FastAPI(title="Pianqu", version="0.1.0", openapi_tags=TAGS, lifespan=lifespan,
                  description="Outside-plant network and field districts: the HTTP API. Every endpoint but `/` "
                              "and `/health` needs `Authorization: Bearer KEY` (`pianqu user add`).")
    app.state.engine = engine or default_engine()
    problems.install(app)

    app.add_middleware(BodyLimit)
    for r in (home, features, edits, lookup, districts, managers, plan_edits, plans, jobs, faults, alerts, reports,
              tickets, queues, categories, complaints, ticket_settings, rounds, outreach, scorecards, risk, tiles,
              signin, maps):
        app.include_router(r.router)
    # The pages' scripts, styles and icons (Leaflet and VectorGrid vendored with their licences):
    # library code and page code, no data, so they need no key (the sign-in page uses them).
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
