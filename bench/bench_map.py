"""The planner map at city size in headless Chromium (issue 13: first render under 3 s, the page
under 5 MB, no console error), cold and warm.

    .venv/bin/python bench/bench_map.py [--database-url URL] [--runs 3]

Against a store with the city loaded and an active plan (default: the store `make run` serves,
DATABASE_URL or .pianqu/env); it gets a planner user (revoked at the end) and its tile cache is
emptied for the cold run (the tiles render again on demand). Each run opens /map signed in
(Debian's chromium, 1400 x 900) and waits until every tile of the view is answered and the page is
drawn. Cold: a server started with PIANQU_WARM_TILES=0 on an empty cache. Warmed: a server that
warmed the opening view at its start (what `pianqu serve` does). Prints one Markdown table.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM_ARGS, chromium_path, sign_in, wait_for  # noqa: E402
from gis import db, tiles, users  # noqa: E402
from tests.servers import serve  # noqa: E402

READY = "window.pianquMap && window.pianquMap.ready && window.pianquMap.loading === 0"


def measure(base: str, key: str, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright
    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        page = b.new_page(viewport={"width": 1400, "height": 900})
        problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        t0 = time.monotonic()
        sign_in(page, base, key)
        wait_for(page, READY, 300)
        out.append({"run": "first, with the sign-in", "seconds": time.monotonic() - t0})
        # The first render proper: a browser with nothing cached but the session cookie opens /map.
        fresh = b.new_context(viewport={"width": 1400, "height": 900})
        fresh.add_cookies(page.context.cookies())
        first = fresh.new_page()
        first.on("pageerror", lambda e: problems.append(str(e)))
        t0 = time.monotonic()
        first.goto(base + "/map")
        wait_for(first, READY, 300)
        out.append({"run": "first open of /map (nothing cached, signed in)", "seconds": time.monotonic() - t0})
        fresh.close()
        for i in range(runs):
            t0 = time.monotonic()
            page.goto(base + "/map")
            wait_for(page, READY, 300)
            out.append({"run": f"opened again ({i + 1})", "seconds": time.monotonic() - t0})
        own = page.evaluate("() => performance.getEntriesByType('resource').filter(e => e.initiatorType !== 'fetch')"
                            ".reduce((s, e) => s + e.transferSize, 0) + performance.getEntriesByType('navigation')[0]"
                            ".transferSize")
        every = page.evaluate("() => performance.getEntriesByType('resource').reduce((s, e) => s + e.encodedBodySize, 0)")
        tiles_asked = page.evaluate("() => Object.values(window.pianquMap.tiles).reduce((s, t) => s + t.asked, 0)")
        for r in out:
            r.update(own_mb=own / 1e6, all_mb=every / 1e6, tiles=tiles_asked, console_errors=len(problems))
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from gis.config import database_url
    url = args.database_url or database_url()
    eng = db.engine(url)
    name = f"bench-map-{secrets.token_hex(3)}"
    with eng.begin() as conn:
        _, key = users.add(conn, name, "planner")
    rows = []
    try:
        with eng.begin() as conn:
            tiles.forget_all(conn)
        with serve(url) as base:
            rows += [{"cache": "cold", **r} for r in measure(base, key, args.runs)]
        with eng.begin() as conn:
            tiles.forget_all(conn)
        with serve(url, env={"PIANQU_WARM_TILES": "1"}) as base:
            t0 = time.monotonic()
            held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %(k)s "
                    "AND objid = hashtext('warm')::oid")
            with eng.connect() as conn:      # the warming worker takes its lock, then lets it go when done
                seen = False
                while time.monotonic() - t0 < 600:
                    now = conn.exec_driver_sql(held, {"k": tiles.LOCK_CLASS}).scalar()
                    conn.rollback()
                    if now:
                        seen = True
                    elif seen or time.monotonic() - t0 > 30:
                        break
                    time.sleep(0.5)
            warmed = time.monotonic() - t0
            rows += [{"cache": f"warmed at start ({warmed:.0f} s)", **r} for r in measure(base, key, args.runs)]
    finally:
        with eng.begin() as conn:
            users.revoke(conn, name)
    print("| tile cache | run | seconds to drawn | page's own MB | all MB | tiles | console errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['cache']} | {r['run']} | {r['seconds']:.2f} | {r['own_mb']:.2f} | {r['all_mb']:.2f} | "
              f"{r['tiles']} | {r['console_errors']} |")


if __name__ == "__main__":
    main()
