"""The API's users in the store: make one (its key is shown once and never stored), find the
user a key belongs to, list, revoke.

A key is `pq_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is
compared in constant time (`hmac.compare_digest`). The secret is 256 random bits, so a fast hash
is as safe as a slow one and keeps every request's check to microseconds.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text

from .errors import Conflict, InputError, NotFound
from .models import ROLES


@dataclass(frozen=True)
class User:
    name: str
    role: str
    manager_id: str | None = None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add(conn: Connection, name: str, role: str, manager_id: str | None = None) -> tuple[User, str]:
    """A new user and its key (returned once; only its hash is kept)."""
    name = (name or "").strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise InputError(f"user name {name!r}: expected 1 to 100 characters without spaces")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "manager" and not manager_id:
        raise InputError(f"user {name!r}: a manager's key names the manager it is (a manager id)")
    if role != "manager" and manager_id:
        raise InputError(f"user {name!r}: only a manager's key names a manager")
    if manager_id and conn.execute(text("SELECT 1 FROM managers WHERE id = :m"), {"m": manager_id}).first() is None:
        raise NotFound(f"manager {manager_id!r} is not in the store")
    if conn.execute(text("SELECT 1 FROM api_users WHERE id = :n"), {"n": name}).first():
        raise Conflict(f"user {name!r} already exists")
    prefix, key = _new_key()
    conn.execute(text("INSERT INTO api_users (id, role, manager_id, key_prefix, key_hash) "
                      "VALUES (:n, :r, :m, :p, :h)"), {"n": name, "r": role, "m": manager_id, "p": prefix,
                                                       "h": _hash(key)})
    return User(name, role, manager_id), key


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"pq_{prefix}_{secrets.token_urlsafe(32)}"


def rotate(conn: Connection, name: str, role: str = "planner") -> str:
    """A new key for the user (made with `role` if it does not exist); the old key stops working."""
    prefix, key = _new_key()
    conn.execute(text(
        "INSERT INTO api_users (id, role, key_prefix, key_hash) VALUES (:n, :r, :p, :h) ON CONFLICT (id) DO UPDATE "
        "SET key_prefix = EXCLUDED.key_prefix, key_hash = EXCLUDED.key_hash, revoked_at = NULL"),
        {"n": name, "r": role, "p": prefix, "h": _hash(key)})
    return key


KEY_ROW = "SELECT id, role, manager_id, key_hash, revoked_at FROM api_users WHERE key_prefix = %(p)s"


def _prefix(key: str) -> str | None:
    parts = key.split("_", 2) if key else []
    return parts[1] if len(parts) == 3 and parts[0] == "pq" else None


def _verify(row, key: str) -> User | None:
    if row is None:
        return None
    name, role, manager_id, key_hash, revoked_at = row
    if not hmac.compare_digest(key_hash, _hash(key)) or revoked_at is not None:
        return None
    return User(name, role, manager_id)


def by_key(conn: Connection, key: str) -> User | None:
    """The live user a key belongs to, or None (unknown, malformed, revoked)."""
    prefix = _prefix(key)
    return None if prefix is None else _verify(conn.exec_driver_sql(KEY_ROW, {"p": prefix}).first(), key)


async def by_key_async(aconn, key: str) -> User | None:
    """by_key on a psycopg AsyncConnection (the server's hot paths)."""
    prefix = _prefix(key)
    if prefix is None:
        return None
    return _verify(await (await aconn.execute(KEY_ROW, {"p": prefix})).fetchone(), key)


def list_users(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT id AS name, role, manager_id, key_prefix, created_at, revoked_at FROM api_users ORDER BY id")).mappings()]


def revoke(conn: Connection, name: str) -> dict:
    row = conn.execute(text("UPDATE api_users SET revoked_at = coalesce(revoked_at, :t) WHERE id = :n "
                            "RETURNING revoked_at"), {"n": name, "t": dt.datetime.now(dt.timezone.utc)}).first()
    if row is None:
        raise NotFound(f"user {name!r} does not exist")
    return {"name": name, "revoked_at": row.revoked_at}
