"""A replace that cannot lose the city, deletes that do not scan, and commands that leave
nothing running on the server when they are stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from gis import db, store
from tests.conftest import ROOT, SEED


def test_every_foreign_key_column_is_indexed(engine):
    # An unindexed foreign key makes each delete of a parent row scan the child table: deleting
    # a city's 730,000 cables then scanned the subscribers once per cable.
    with engine.connect() as conn:
        missing = conn.execute(text("""
            SELECT c.conrelid::regclass::text || '.' || string_agg(a.attname, ',' ORDER BY k.n)
            FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
              AND NOT EXISTS (   -- an index that leads with a column of the key serves its lookups
                  SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = ANY (c.conkey))
            GROUP BY c.conrelid, c.conname""")).scalars().all()
    assert missing == []


@pytest.fixture
def own_store(small_demo):
    """A database of its own holding the small demo (with the other work `pianqu demo-load` adds
    beside the faults), so a test may replace and kill freely."""
    from api.services.demo_work import add_other_work
    with db.scratch_database("pianqu_safety") as url:
        db.upgrade(url)
        eng = db.engine(url)
        with eng.begin() as tx:
            store.bulk_load(tx, small_demo.layers)
            add_other_work(tx, str(small_demo.layers["cities"]["id"].iat[0]), SEED)
        yield url, eng
        eng.dispose()


def _cli(url, *args, **kw):
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _counts(eng, city):
    with eng.connect() as conn:
        return store.counts(conn, city)


def _running(eng) -> list[str]:
    with eng.connect() as conn:
        # This database only: another pianqu on the same cluster (a benchmark, a second test run)
        # must not be taken for the command under test.
        return conn.execute(text("SELECT query FROM pg_stat_activity WHERE application_name = 'pianqu' "
                                 "AND state = 'active' AND pid <> pg_backend_pid() "
                                 "AND datname = current_database()")).scalars().all()


def _wait_for_copy(eng, proc, timeout=60.0):
    """Until the command is copying rows into the store (mid-load)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if any(q.lstrip().upper().startswith("COPY") for q in _running(eng)):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_replace_stopped_mid_load_leaves_the_old_city_whole_and_nothing_running(own_store, small_demo, sig):
    url, eng = own_store
    city = str(small_demo.layers["cities"]["id"].iat[0])
    before = _counts(eng, city)
    proc = _cli(url, "demo-load", "--size", "small", "--seed", str(SEED), "--replace", "--no-plan")
    assert _wait_for_copy(eng, proc), proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    if sig != signal.SIGKILL:
        assert "interrupted" in err
    # The statement the command gave up on ends on the server too (a kill within the 2 s check).
    t0 = time.monotonic()
    while _running(eng) and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert _running(eng) == []
    assert _counts(eng, city) == before


def test_a_replace_of_a_loaded_city_finishes_and_leaves_it_ready_with_managers(own_store, small_demo):
    url, eng = own_store
    city = str(small_demo.layers["cities"]["id"].iat[0])
    before = _counts(eng, city)
    t0 = time.monotonic()
    proc = _cli(url, "demo-load", "--size", "small", "--seed", str(SEED), "--replace")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 120
    assert _counts(eng, city) == before
    with eng.connect() as conn:
        plan = conn.execute(text("SELECT id FROM district_plans WHERE city_id = :c AND status = 'active'"),
                            {"c": city}).scalar()
        owners = conn.execute(text(
            "SELECT d.code, a.manager_id FROM districts d LEFT JOIN district_assignments a ON a.district_id = d.id "
            "AND a.valid_to IS NULL WHERE d.plan_id = :p"), {"p": plan}).all()
        managers = conn.execute(text("SELECT count(*) FROM managers WHERE city_id = :c AND active"),
                                {"c": city}).scalar()
    assert plan is not None
    assert len(owners) == managers and all(m is not None for _, m in owners)
    assert len({m for _, m in owners}) == managers   # one district each


def test_an_interrupt_whose_rollback_fails_is_still_one_line(run_cli, monkeypatch):
    """A signal in the middle of a COPY can leave the connection unable to roll back: the
    SQLAlchemy error that follows is the interrupt's, said as such (exit 128 + signal), never a
    'store refused' line or a traceback. (The server drops the transaction with the connection.)"""
    import api.cli
    from api.cli import summary as summary_cmd
    from sqlalchemy.exc import OperationalError

    def interrupted(*a, **k):
        api.cli._signalled.append(signal.SIGINT)
        raise OperationalError("ROLLBACK", {}, Exception("another command is already in progress"))
    monkeypatch.setattr(summary_cmd, "engine", interrupted)
    monkeypatch.setattr(api.cli, "_signalled", [])
    r = run_cli("summary")
    assert r.returncode == 130, (r.returncode, r.stderr)
    assert "interrupted" in r.stderr and "Traceback" not in r.stderr and "refused" not in r.stderr
