"""A real PostGIS for the tests: a database of their own, created and migrated for the session
and dropped after it, on the cluster `make test` started (or the server DATABASE_URL names)."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from sqlalchemy import text

from gis import db, store

from tests.servers import serve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def db_url():
    with db.scratch_database("pianqu_test") as url:
        db.upgrade(url)
        yield url


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
    with engine.begin() as tx:
        store.delete_city(tx, city)


SEED = 7


@pytest.fixture(scope="session")
def small_demo():
    """The files `make test` generated (data/demo-small-7), or a fresh generation."""
    from gis.demo import DemoCity, generate
    d = ROOT / "data" / f"demo-small-{SEED}"
    return DemoCity.read(d) if (d / "manifest.json").is_file() else generate(size="small", seed=SEED)


@pytest.fixture(scope="session")
def loaded_demo(engine, small_demo):
    """The small demo city loaded through the fast path, with the call centre's other work and
    every ticket given its log as `pianqu demo-load` does (api.services.demo_work,
    api.services.tickets.adopt); its id."""
    from api.services.demo_work import add_other_work
    from api.services.tickets import adopt
    city = str(small_demo.layers["cities"]["id"].iat[0])
    with engine.begin() as tx:
        store.bulk_load(tx, small_demo.layers)
        add_other_work(tx, city, 7)
        adopt(tx, city, actor="pianqu demo")
    yield city
    with engine.begin() as tx:
        store.delete_city(tx, city)


@pytest.fixture(scope="session")
def cli(db_url):
    """`pianqu ...` in a subprocess against the test database: cli("plan", "list") -> CompletedProcess."""
    env = {**os.environ, "DATABASE_URL": db_url, "COLUMNS": "200"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "api.cli", *map(str, args)], capture_output=True, text=True,
                              env=env)
    return run


@pytest.fixture(scope="session")
def on_a_terminal(db_url):
    """`pianqu ...` with its stdout on a pseudo-terminal (where commands print for people, not
    JSON): on_a_terminal("plan", "create", ...) -> what it printed."""
    import pty

    def run(*args) -> str:
        master, slave = pty.openpty()
        env = {**os.environ, "DATABASE_URL": db_url, "COLUMNS": "200", "TERM": "dumb"}
        p = subprocess.Popen([sys.executable, "-m", "api.cli", *map(str, args)], stdout=slave,
                             stderr=subprocess.PIPE, env=env, cwd=ROOT)
        os.close(slave)
        chunks = []
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not b:
                break
            chunks.append(b)
        p.wait()
        os.close(master)
        assert p.returncode == 0, p.stderr.read().decode()
        return b"".join(chunks).decode()
    return run


@pytest.fixture(scope="session")
def api_url(db_url, loaded_demo):
    """A real `pianqu serve` on loopback against the test database (the small demo loaded)."""
    with serve(db_url) as url:
        yield url


@pytest.fixture(scope="session")
def api_keys(engine, loaded_demo):
    """One key per role: {"planner": key, "analyst": key, "manager": key (manager SM-MG-001), "callcentre": key}."""
    from gis import users
    tag = secrets.token_hex(3)
    with engine.begin() as conn:
        return {role: users.add(conn, f"test-{role}-{tag}", role, "SM-MG-001" if role == "manager" else None)[1]
                for role in ("planner", "analyst", "manager", "callcentre")}


@pytest.fixture(scope="session")
def http(api_url, api_keys):
    """http("planner") -> an httpx.Client on the test server with that role's key; http(None): no key."""
    import httpx
    clients = []

    def client(role: str | None = "planner") -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_keys[role]}"} if role else {}
        c = httpx.Client(base_url=api_url, headers=headers, timeout=120)
        clients.append(c)
        return c
    yield client
    for c in clients:
        c.close()


@pytest.fixture
def run_cli(monkeypatch, capsys, engine):
    """`pianqu ...` in this process (the real `api.cli.main`, no interpreter start-up: milliseconds
    instead of seconds) against the test database: run_cli("plan", "list") -> CompletedProcess.
    Its stdout is not a terminal, as in a pipe."""
    import importlib
    import pkgutil
    import signal
    import api.cli
    from api.cli import main
    for m in pkgutil.iter_modules(api.cli.__path__):
        if m.name == "__main__":   # importing it would run the command
            continue
        mod = importlib.import_module(f"api.cli.{m.name}")
        if hasattr(mod, "engine"):
            monkeypatch.setattr(mod, "engine", lambda: engine)   # never the database `make run` serves

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["pianqu", *map(str, args)])
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            with pytest.raises(SystemExit) as e:
                main()
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
        c = capsys.readouterr()
        return subprocess.CompletedProcess(args, e.value.code or 0, c.out, c.err)
    return run


@pytest.fixture(scope="module")
def active_plan(engine, loaded_demo):
    """A fresh active plan of the small demo (4 districts, each with its manager), for a module
    that needs one (other modules activate plans of their own)."""
    from api.services import districts
    from api.services.plans import PlanParams, activate, create_plan
    res = create_plan(engine, loaded_demo, PlanParams(districts=4))
    activate(engine, res["plan"])
    districts.auto_assign(engine, loaded_demo, res["plan"])
    return res["plan"]


@pytest.fixture(scope="module")
def ticket_plan(active_plan, engine, loaded_demo):
    """active_plan, for a module that makes tickets: the tickets it made (ids T...) and the
    inspections it recorded are deleted after it, leaving the demo city as the modules that
    count its faults expect it."""
    yield active_plan
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM inspections WHERE city_id = :c"), {"c": loaded_demo})
        conn.execute(text("DELETE FROM fault_tickets WHERE city_id = :c AND id LIKE 'T%'"), {"c": loaded_demo})


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's, tests/browser.py) for the page tests, one per session."""
    from playwright.sync_api import sync_playwright

    from browser import CHROMIUM_ARGS, chromium_path
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, api_url):
    """A fresh page (1400 x 900) that records its console errors and warnings (`page.problems`)
    and every request to another host than the test server (`page.foreign`)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    pg.problems, pg.foreign = [], []
    pg.on("console", lambda m: m.type in ("error", "warning") and pg.problems.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on("request", lambda r: r.url.startswith(("http:", "https:", "ws:", "wss:")) and not r.url.startswith(api_url)
          and pg.foreign.append(r.url))
    yield pg
    ctx.close()
