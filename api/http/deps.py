"""What a route depends on: a connection to the store (one per request, a transaction for a
write) and the caller, from a bearer key, with the roles that may do the thing."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from fastapi import Depends, Request
from sqlalchemy import Connection

from gis import sessions, users
from gis.users import User

from .problems import Problem


def engine(request: Request):
    return request.app.state.engine


def connection(request: Request) -> Iterator[Connection]:
    """The request's one connection: the key check and the route share it (FastAPI resolves a
    dependency once per request), so a request checks one connection out of the pool, not two."""
    with engine(request).connect() as conn:
        yield conn


def read(conn: Connection = Depends(connection)) -> Connection:
    return conn


def write(request: Request, conn: Connection = Depends(connection)) -> Iterator[Connection]:
    """The request's connection in a transaction, committed when the route returns and rolled
    back when it raises. (The key check may have read on it already: that read is ended first.)
    Routes take it as `Depends(write, scope="function")`: the commit then happens before the
    answer is sent, so a client that got its 201 reads its own write, and a failing commit is
    the client's error, not a log line after a success was already sent."""
    if conn.in_transaction():
        conn.commit()
    request.state.writing = True
    with conn.begin():
        yield conn


SESSION_COOKIE = "pianqu_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def credential(request: Request) -> tuple[str, str] | None:
    """("key", KEY) from `Authorization: Bearer KEY`, else ("session", TOKEN) from the sign-in
    page's cookie, else None. A write carried by the cookie must come from Pianqu's own pages
    (its Origin, or else its Referer, is this server): a browser sends the cookie with any
    site's form too (SameSite=Strict already stops most such posts; this stops the rest)."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return "key", key.strip()
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if request.method not in SAFE_METHODS:
        own = f"{request.url.scheme}://{request.url.netloc}"
        origin = request.headers.get("origin") or request.headers.get("referer") or ""
        if origin.rstrip("/") != own and not origin.startswith(own + "/"):
            raise Problem(403, f"a {request.method} signed in by the session cookie must come from this server's own "
                               f"pages (Origin {origin or 'missing'}, expected {own}); tools send "
                               "'Authorization: Bearer KEY'")
    return "session", token


def _needed(request: Request) -> tuple[str, str]:
    found = credential(request)
    if found is None:
        raise Problem(401, "this endpoint needs an API key: send 'Authorization: Bearer KEY' "
                           "(pianqu user add NAME --role ROLE makes one), or sign in at /signin",
                      {"WWW-Authenticate": "Bearer"})
    return found


def known_user(request: Request, user: User | None, kind: str) -> User:
    if user is None:
        what = "the API key is unknown or revoked" if kind == "key" else \
            "the session has ended (signed out, expired, or its key revoked): sign in again at /signin"
        raise Problem(401, what, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.user = user
    return user


def who(conn: Connection, kind: str, value: str) -> User | None:
    return users.by_key(conn, value) if kind == "key" else sessions.by_token(conn, value)


def caller(request: Request, conn: Connection = Depends(connection)) -> User:
    kind, value = _needed(request)
    if not conn.in_transaction():
        # The key's read in autocommit: one round trip, no BEGIN and COMMIT around it; the
        # route's own statements then begin as usual.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            user = who(conn, kind, value)
        finally:
            conn.commit()   # ends SQLAlchemy's own transaction object (the server has none open)
            conn.execution_options(isolation_level=conn.default_isolation_level)
    else:
        user = who(conn, kind, value)
    return known_user(request, user, kind)


async def aread(request: Request) -> AsyncIterator:
    """The request's psycopg AsyncConnection (autocommit) from the server's asyncio pool, for the
    async routes of the hot paths (tiles): no worker thread, no SQLAlchemy on the way."""
    async with request.app.state.apool.connection() as aconn:
        yield aconn


async def acaller(request: Request, aconn=Depends(aread)) -> User:
    """`caller` for async routes: the key or session checked on the request's async connection."""
    kind, value = _needed(request)
    user = await (users.by_key_async(aconn, value) if kind == "key" else sessions.by_token_async(aconn, value))
    return known_user(request, user, kind)


def own_manager(user: User) -> str | None:
    """The manager a key is, when it is a manager's (his districts bound what it sees); else None."""
    return user.manager_id if user.role == "manager" else None


def role(*allowed: str, via=caller):
    """A dependency that lets through only callers of these roles (403 for the others); `via`
    finds the caller (`acaller` in async routes)."""
    # async: a check of a value needs no worker thread (a sync dependency costs a hop through
    # the thread pool, the largest part of a cached tile's answer).
    async def check(user: User = Depends(via)) -> User:
        if user.role not in allowed:
            raise Problem(403, f"the role {user.role} may not do this (it needs the role {' or '.join(allowed)})")
        return user
    return check


# Every role reads; the call centre too (it finds the subscriber who calls: /lookup, /managers, the map).
anyone = role("planner", "manager", "analyst", "callcentre")
anyone_async = role("planner", "manager", "analyst", "callcentre", via=acaller)
planner = role("planner")
