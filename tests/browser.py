"""Headless Chromium for the page tests: Debian's `chromium` (installed by `make test`'s set-up,
never a browser download), driven by Playwright, started with the flags the brief names."""
from __future__ import annotations

import shutil
import time

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: `make test` installs it (PIANQU_BROWSER=1 "
                           "bash scripts/sysdeps.sh)")
    return path


def wait_for(page, js: str, timeout: float = 30.0):
    """Poll a JavaScript expression until it is truthy. (Playwright's wait_for_function evaluates
    a string with eval, which the pages' Content-Security-Policy forbids.)"""
    t0 = time.monotonic()
    while True:
        value = page.evaluate(f"() => {js}")
        if value:
            return value
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {js}")
        time.sleep(0.1)


def sign_in(page, base: str, key: str, path: str = "/map") -> None:
    page.goto(base + path)
    assert "/signin" in page.url
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")


def click_at(page, lat: float, lon: float, zoom: int = 17) -> None:
    """Centre the page's map (window.pianquMap.map) on a place and click there, as a person would."""
    page.evaluate(f"() => {{ window.pianquMap.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    time.sleep(0.3)
    x, y = page.evaluate(f"() => {{ const p = window.pianquMap.map.latLngToContainerPoint([{lat}, {lon}]); "
                         "const r = document.getElementById('map').getBoundingClientRect(); "
                         "return [p.x + r.left, p.y + r.top]; }")
    page.mouse.click(x, y)
