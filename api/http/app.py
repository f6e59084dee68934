"""The app factory: `create_app()` gives the ASGI app `pianqu serve` runs."""
from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from . import problems
from .routers import alerts, districts, edits, faults, features, home, jobs, lookup, managers, plans, reports, tiles

MAX_BODY = 2_000_000

TAGS = [{"name": "home", "description": "Landing page and health (no key needed)."},
        {"name": "features", "description": "OGC API - Features: every network layer and the districts of a plan."},
        {"name": "districts", "description": "Districts of the active plan and their managers (the managers' API)."},
        {"name": "managers", "description": "District account managers."}]


def create_app(engine: Engine | None = None) -> FastAPI:
    from gis.db import engine as default_engine
    app = FastAPI(title="Pianqu", version="0.1.0", openapi_tags=TAGS,
                  description="Outside-plant network and field districts: the HTTP API. Every endpoint but `/` "
                              "and `/health` needs `Authorization: Bearer KEY` (`pianqu user add`).")
    app.state.engine = engine or default_engine()
    problems.install(app)

    @app.middleware("http")
    async def body_limit(request, call_next):
        # Nothing Pianqu takes is bigger than a few hundred kB (a report, a plan request); a larger
        # body is refused before it is read.
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return problems.problem(413, f"the request body is larger than {MAX_BODY // 1_000_000} MB")
        return await call_next(request)
    for r in (home, features, edits, lookup, districts, managers, plans, jobs, faults, alerts, reports, tiles):
        app.include_router(r.router)
    return app
