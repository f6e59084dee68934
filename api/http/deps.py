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


def read(request: Request) -> Iterator[Connection]:
    with engine(request).connect() as conn:
        yield conn


def write(request: Request) -> Iterator[Connection]:
    with engine(request).begin() as conn:
        yield conn


def caller(request: Request) -> User:
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "this endpoint needs an API key: send 'Authorization: Bearer KEY' "
                           "(pianqu user add NAME --role ROLE makes one)", {"WWW-Authenticate": "Bearer"})
    with engine(request).connect() as conn:
        user = users.by_key(conn, key.strip())
    if user is None:
        raise Problem(401, "the API key is unknown or revoked", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.user = user
    return user


def role(*allowed: str):
    """A dependency that lets through only callers of these roles (403 for the others)."""
    def check(user: User = Depends(caller)) -> User:
        if user.role not in allowed:
            raise Problem(403, f"the role {user.role} may not do this (it needs the role {' or '.join(allowed)})")
        return user
    return check


anyone = role("planner", "manager", "analyst")
planner = role("planner")
