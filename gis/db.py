"""Engines and migrations."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url, text

from .config import database_url

MIGRATIONS = Path(__file__).with_name("migrations")
POOL_SIZE, POOL_OVERFLOW = 20, 20
# The server checks every 2 s whether the client of a running statement is still there, so
# a command killed outright (not only Ctrl-C, which psycopg turns into a cancel) does not
# leave its statement running (PostgreSQL 14+).
CONNECT_ARGS = {"application_name": "pianqu", "options": "-c client_connection_check_interval=2000"}


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    # pool_size: the connections kept open between requests. Above it, SQLAlchemy opens and closes
    # a connection per checkout (a PostgreSQL backend started for one query, ~3 ms): 8 clients
    # in flight against the default of 5 cut the server's throughput by three.
    return create_engine(url or database_url(), pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                         connect_args=CONNECT_ARGS)


def async_pool(url: str | None = None):
    """An asyncio pool of psycopg connections in autocommit, for the server's hot paths (a cached
    tile is two statements and no transaction; SQLAlchemy and a worker thread would cost it more
    than the database does). Open it in the event loop that uses it (`await pool.open()`)."""
    from psycopg_pool import AsyncConnectionPool
    conninfo = make_url(url or database_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    # timeout: a request waits at most that long for a connection (then 503), not psycopg's 30 s.
    return AsyncConnectionPool(conninfo, min_size=1, max_size=POOL_SIZE, open=False, timeout=10,
                               kwargs={"autocommit": True, **CONNECT_ARGS})


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def schema_revision(conn) -> str | None:
    """The schema revision of the store a connection is on."""
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def scratch_database(prefix: str, url: str | None = None) -> Iterator[str]:
    """A new, empty database on the same server, dropped (even if in use) on exit; yields its URL.
    For tests and benchmarks, which must never write to the database `make run` serves."""
    base = make_url(url or database_url())
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def store_problem(e: Exception) -> str:
    """A failure of the store said in one line a person can act on (no SQL, no stack)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError
    orig = getattr(e, "orig", e)
    first = (str(orig).strip().splitlines() or [type(e).__name__])[0]
    if isinstance(e, OperationalError) and ("connect" in first or "Connection refused" in first):
        return f"cannot reach the store ({first}); is PostGIS running? (`make run` starts the local one)"
    if isinstance(e, ProgrammingError) and "does not exist" in first:
        try:
            from alembic.script import ScriptDirectory
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            now = current_revision()
        except Exception:  # the check itself failed: say what the store said
            return f"the store refused: {first}"
        if now != head:
            return f"the store's schema is at revision {now or 'none'}, the code needs {head}: run `pianqu db upgrade`"
    return f"the store refused: {first}"
