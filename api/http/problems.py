"""Every error as RFC 9457 problem+json: the project's errors (their family carries the status),
request validation, unknown routes and methods, and anything unexpected (a 500 that shows no
traceback to the client; the log has it)."""
from __future__ import annotations

import logging
from http import HTTPStatus

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import PianquError

MEDIA = "application/problem+json"
log = logging.getLogger("pianqu.http")


class Problem(Exception):
    """An HTTP answer that is not a record's error: 401, 403, 412, 428, 413..."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        self.status, self.detail, self.headers = status, detail, headers or {}


def problem(status: int, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {"type": f"https://pianqu.dev/problems/{status}", "title": title, "status": status, "detail": detail,
            **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def _where(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    kind = loc[0] if loc else ""
    name = ".".join(parts) or kind
    return f"{kind} parameter {name!r}" if kind in ("query", "path", "header") else f"field {name!r}"


def install(app: FastAPI) -> None:
    @app.exception_handler(PianquError)
    async def pianqu_error(request: Request, e: PianquError):
        return problem(e.status, str(e), **getattr(e, "members", {}))

    @app.exception_handler(Problem)
    async def http_problem(request: Request, e: Problem):
        return problem(e.status, e.detail, e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        errs = e.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        detail = f"{_where(first.get('loc', ()))}: {first.get('msg')}"
        if len(errs) > 1:
            detail += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
        return problem(422, detail, errors=[{"where": _where(x.get("loc", ())), "problem": x.get("msg")}
                                            for x in errs[:20]])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        detail = e.detail if isinstance(e.detail, str) and e.detail not in ("Not Found", "Method Not Allowed") \
            else (f"no such resource: {request.url.path}" if e.status_code == 404
                  else f"{request.method} is not allowed on {request.url.path}" if e.status_code == 405
                  else HTTPStatus(e.status_code).phrase)
        return problem(e.status_code, detail, getattr(e, "headers", None))

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def unreachable(request: Request, e: Exception):
        # the async routes' connection (gis.db.async_pool): the store is down or every connection busy
        log.warning("store unreachable on %s %s: %s", request.method, request.url.path, e)
        return problem(503, f"the store is not reachable: {type(e).__name__}", {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "the server met an unexpected error; it is logged")
