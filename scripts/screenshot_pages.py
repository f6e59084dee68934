"""Screenshots of Pianqu's pages for the README, taken the way the tests open them (Debian's
headless chromium, signed in through the form):

    .venv/bin/python scripts/screenshot_pages.py --url http://127.0.0.1:8000 --key "$KEY" [--out data/]

Writes map-planner.png (the planner map with its layers on) and prints the first render's time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import CHROMIUM_ARGS, chromium_path, click_at, sign_in, wait_for  # noqa: E402


def edit_shot(page, path: Path) -> None:
    """The editing panel with one border box selected and a neighbouring district chosen."""
    page.uncheck("text=Hotspots (Gi*)")
    page.click("#edit-start")
    wait_for(page, "window.pianquMap.edit.ready", 60)
    # the first unit with a neighbour in another district, centred and clicked like a planner would
    unit = page.evaluate("""() => { const v = window.pianquMap.edit.view;
        for (let i = 0; i < v.units.length; i++) for (const j of v.neighbours[i])
          if (v.units[j].district !== v.units[i].district)
            return {lat: v.units[i].lat, lon: v.units[i].lon, to: v.units[j].district};
        return null; }""")
    if unit is None:
        print("no border unit found for the editing screenshot")
        return
    click_at(page, unit["lat"], unit["lon"], 16)
    wait_for(page, "window.pianquMap.edit.selected.size === 1", 30)
    page.select_option("#edit-to", unit["to"])
    wait_for(page, "window.pianquMap.edit.last", 30)
    time.sleep(0.5)
    page.screenshot(path=str(path))
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--key", required=True)
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--zoom", type=int, default=None, help="zoom the planner map shows (default: the city)")
    ap.add_argument("--edit", action="store_true", help="also the editing panel with a box selected "
                                                        "(map-editing.png; a planner's key)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        page = b.new_page(viewport={"width": 1400, "height": 860})
        t0 = time.monotonic()
        sign_in(page, args.url.rstrip("/"), args.key)
        wait_for(page, "window.pianquMap && window.pianquMap.ready && window.pianquMap.loading === 0", 120)
        print(f"planner map: first render {time.monotonic() - t0:.2f} s (sign-in included)")
        if args.zoom:
            page.evaluate(f"() => {{ window.pianquMap.map.setZoom({args.zoom}); }}")
            time.sleep(0.5)
            wait_for(page, "window.pianquMap.loading === 0", 120)
        page.check("text=Hotspots (Gi*)")
        wait_for(page, "window.pianquMap.overlays['Hotspots (Gi*)'].getLayers().length > 0", 120)
        time.sleep(0.5)
        args.out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out / "map-planner.png"))
        print(f"wrote {args.out / 'map-planner.png'}")
        if args.edit:
            edit_shot(page, args.out / "map-editing.png")
        b.close()


if __name__ == "__main__":
    main()
