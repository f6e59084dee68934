"""The landing page and the health check: the only answers without a key."""
from __future__ import annotations

from fastapi import APIRouter, Request

from gis.db import schema_revision

from ..problems import problem

router = APIRouter(tags=["home"])


@router.get("/", summary="Landing page")
def landing(request: Request) -> dict:
    base = str(request.base_url).rstrip("/")
    return {"title": "Pianqu", "description": "Outside-plant network and field districts: the HTTP API.",
            "links": [{"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                       "href": f"{base}/openapi.json", "title": "the OpenAPI document"},
                      {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs", "title": "the API's pages"},
                      {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                      {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
                      {"rel": "health", "type": "application/json", "href": f"{base}/health"}]}


@router.get("/health", summary="Is the server up and the store reachable")
def health(request: Request):
    try:
        with request.app.state.engine.connect() as conn:
            rev = schema_revision(conn)
    except Exception as e:  # any failure to reach the store means "not healthy"
        return problem(503, f"the store is not reachable: {type(e).__name__}")
    return {"status": "ok", "schema": rev}
