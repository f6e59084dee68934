"""Browser sessions of the map pages: a person signs in once with an API key and gets a session
cookie; the pages and the API then take the cookie as they take the key.

A session is a random token (`ps_` and 256 bits) whose SHA-256 is stored, never the token
itself, as with keys. It ends after SESSION_HOURS (PIANQU_SESSION_HOURS, default 12), at sign-out,
or the moment its user's key is revoked or rotated (the session names the key prefix it was
opened with, and every check joins the user's live key).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Connection, text

from . import users
from .config import number_setting
from .users import User

PREFIX = "ps_"
SESSION_ROW = ("SELECT u.id, u.role, u.manager_id FROM api_sessions s JOIN api_users u ON u.id = s.user_id "
               "AND u.key_prefix = s.key_prefix AND u.revoked_at IS NULL "
               "WHERE s.token_hash = %(h)s AND s.expires_at > now()")


def session_hours() -> float:
    return number_setting("PIANQU_SESSION_HOURS", 12, "hours", low=0, high=24 * 30, above_low=True)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: Connection, key: str) -> tuple[User, str, dt.datetime] | None:
    """A new session for the live user of `key`: (user, token, expires_at), or None for an
    unknown, malformed or revoked key. Also clears that user's ended sessions."""
    user = users.by_key(conn, key)
    if user is None:
        return None
    token = PREFIX + secrets.token_urlsafe(32)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=session_hours())
    conn.execute(text("DELETE FROM api_sessions WHERE user_id = :u AND expires_at <= now()"), {"u": user.name})
    conn.execute(text("INSERT INTO api_sessions (token_hash, user_id, key_prefix, expires_at) "
                      "VALUES (:h, :u, :p, :t)"),
                 {"h": _hash(token), "u": user.name, "p": key.split("_", 2)[1], "t": until})
    return user, token, until


def _user(row) -> User | None:
    return None if row is None else User(*row)


def by_token(conn: Connection, token: str) -> User | None:
    """The user of a live session, or None (unknown, ended, its key revoked or rotated)."""
    if not token.startswith(PREFIX):
        return None
    return _user(conn.exec_driver_sql(SESSION_ROW, {"h": _hash(token)}).first())


async def by_token_async(aconn, token: str) -> User | None:
    """by_token on a psycopg AsyncConnection (the server's hot paths)."""
    if not token.startswith(PREFIX):
        return None
    return _user(await (await aconn.execute(SESSION_ROW, {"h": _hash(token)})).fetchone())


def end(conn: Connection, token: str) -> bool:
    """Sign-out: the session is gone (True if there was one)."""
    return conn.execute(text("DELETE FROM api_sessions WHERE token_hash = :h"), {"h": _hash(token)}).rowcount > 0
