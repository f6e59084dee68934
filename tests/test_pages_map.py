"""The planner map in headless Chromium against a real server with the small demo: signed in
through the form, it draws every layer from this server's own API (tiles asked and answered),
fetches nothing from another host, logs no console error, shows a legend for what is on, and the
search box says who owns an address."""
import io
import time

import pytest
from sqlalchemy import text

from browser import sign_in, wait_for

pytestmark = pytest.mark.usefixtures("active_plan", "alerts")


@pytest.fixture(scope="module")
def alerts(engine, loaded_demo):
    """The demo's opportunity alerts evaluated, so the map has alerts to show."""
    from api.services.alerts import evaluate_city
    evaluate_city(engine, loaded_demo, actor="test-pages")




def tiles(pg) -> dict:
    return pg.evaluate("() => window.pianquMap.tiles")


def test_the_planner_map_draws_every_layer_from_this_server_alone(page, api_url, api_keys, tmp_path):
    t0 = time.monotonic()
    sign_in(page, api_url, api_keys["planner"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready && window.pianquMap.loading === 0")
    first = time.monotonic() - t0
    on = tiles(page)
    for layer in ("admin_areas", "streets", "barriers", "districts", "cables", "boxes", "subscribers"):
        assert on[layer]["asked"] > 0 and on[layer]["answered"] == on[layer]["asked"], (layer, on[layer])
        assert on[layer]["failed"] == 0, (layer, on[layer])
    # every other overlay turned on in the layer control: its tiles or its GeoJSON/PNG arrive too
    for box in page.query_selector_all(".leaflet-control-layers-overlays input[type=checkbox]"):
        if not box.is_checked():
            box.check()
    wait_for(page, "window.pianquMap.loading === 0 && window.pianquMap.overlays['Hotspots (Gi*)'].getLayers()"
                   ".length > 0 && window.pianquMap.overlays['Fault heatmap'].getLayers().length > 0"
                   " && window.pianquMap.risk && window.pianquMap.risk.shown > 0", timeout=90)
    # the fault risk's riskiest boxes (GET /risk), one marker each
    risk = page.evaluate("() => window.pianquMap.risk")
    assert risk["shown"] == min(300, risk["of"]) and risk["of"] > 0
    assert page.evaluate("() => window.pianquMap.overlays['Fault risk'].getLayers().length") == risk["shown"]
    on = tiles(page)
    assert all(v["asked"] > 0 and v["failed"] == 0 and v["answered"] == v["asked"] for v in on.values()), on
    assert page.evaluate("() => window.pianquMap.errors") == []
    assert page.query_selector(".leaflet-image-layer") is not None             # the heatmap PNG
    assert page.evaluate("() => window.pianquMap.overlays['Alerts'].getLayers().length") > 0
    legend = {e.get_attribute("data-layer") for e in page.query_selector_all("#legend .legend-block")}
    assert {"Districts", "Boxes (utilisation)", "Cables", "Hotspots (Gi*)", "Alerts", "Fault heatmap",
            "Fault risk"} <= legend
    assert page.query_selector(".leaflet-control-scale") is not None
    labels = [e.text_content() for e in page.query_selector_all(".district-label")]
    assert len(labels) == 4 and all(" · " in t for t in labels)
    assert page.foreign == [] and page.problems == []
    # the page's own weight (scripts, styles, config; tiles and data excluded) and its first render
    own = page.evaluate("() => performance.getEntriesByType('resource').filter(e => e.initiatorType !== 'fetch')"
                        ".reduce((s, e) => s + e.transferSize, 0) + performance.getEntriesByType('navigation')[0]"
                        ".transferSize")
    assert own < 5_000_000
    assert first < 20          # generous on a loaded 2-core CI machine; the city's figure is in bench/
    shot = page.screenshot(path=str(tmp_path / "map.png"))
    from PIL import Image
    img = Image.open(io.BytesIO(shot)).convert("RGB").resize((140, 90))
    assert len(set(img.getdata())) > 200          # a drawn map, not a blank page


def test_the_search_box_says_who_owns_an_address(page, api_url, api_keys, engine, loaded_demo):
    with engine.connect() as conn:
        address, box = conn.execute(text("SELECT address, box_id FROM subscribers WHERE city_id = :c AND address "
                                         "IS NOT NULL ORDER BY id LIMIT 1"), {"c": loaded_demo}).one()
    sign_in(page, api_url, api_keys["analyst"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    page.fill("#search-q", address)
    page.click("#search button[type=submit]")
    said = wait_for(page, "document.getElementById('search-out').textContent.includes('district') && "
                          "document.getElementById('search-out').textContent")
    assert f"box {box}" in said and "district D" in said
    assert page.inner_text("#district-info").startswith("D")
    assert page.problems == [] and page.foreign == []
