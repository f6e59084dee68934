"""What a route depends on: a connection to the store (one per request, a transaction for a
write) and the caller, from a bearer key, with the roles that may do the thing."""
from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy import Connection

from gis import users
from gis.users import User

from .problems import Problem


def engine(request: Request):
    return request.app.state.engine


def _connection(request: Request) -> Iterator[Connection]:
    """The request's one connection: the key check and the route share it (FastAPI resolves a
    dependency once per request), so a request checks one connection out of the pool, not two."""
    with engine(request).connect() as conn:
        yield conn


def read(conn: Connection = Depends(_connection)) -> Connection:
    return conn


def write(request: Request, conn: Connection = Depends(_connection)) -> Iterator[Connection]:
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


def caller(request: Request, conn: Connection = Depends(_connection)) -> User:
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "this endpoint needs an API key: send 'Authorization: Bearer KEY' "
                           "(pianqu user add NAME --role ROLE makes one)", {"WWW-Authenticate": "Bearer"})
    if not conn.in_transaction():
        # The key's read in autocommit: one round trip, no BEGIN and COMMIT around it (a warm
        # tile is a few round trips in all); the route's own statements then begin as usual.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            user = users.by_key(conn, key.strip())
        finally:
            conn.commit()   # ends SQLAlchemy's own transaction object (the server has none open)
            conn.execution_options(isolation_level=conn.default_isolation_level)
    else:
        user = users.by_key(conn, key.strip())
    if user is None:
        raise Problem(401, "the API key is unknown or revoked", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.user = user
    return user


def role(*allowed: str):
    """A dependency that lets through only callers of these roles (403 for the others)."""
    # async: a check of a value needs no worker thread (a sync dependency costs a hop through
    # the thread pool, the largest part of a cached tile's answer).
    async def check(user: User = Depends(caller)) -> User:
        if user.role not in allowed:
            raise Problem(403, f"the role {user.role} may not do this (it needs the role {' or '.join(allowed)})")
        return user
    return check


anyone = role("planner", "manager", "analyst")
planner = role("planner")
