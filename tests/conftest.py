"""A real PostGIS for the tests: a database of their own, created and migrated for the session
and dropped after it, on the cluster `make test` started (or the server DATABASE_URL names)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from gis import db, store
from gis.config import database_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def db_url():
    base = make_url(database_url())
    name = f"pianqu_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        yield url
    finally:
        db.engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(db_url):
    eng = db.engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def tmp_city(engine):
    """A fresh empty city (`t-<hex>`, UTM 49N) that is deleted, with everything in it, afterwards."""
    city = f"t-{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cities (id, name, metric_crs) VALUES (:c, :c, 32649)"), {"c": city})
    yield city
    store.delete_city(engine, city)
