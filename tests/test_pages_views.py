"""The other views in headless Chromium: the plan comparison, the district page, the faults window
of the planner map, what an analyst's map leaves out, and the self-contained map file that
`pianqu map --out` writes (opened from disk, nothing fetched)."""
import re

import pytest

from browser import sign_in, wait_for

pytestmark = pytest.mark.usefixtures("active_plan")




@pytest.fixture(scope="module")
def second_plan(engine, loaded_demo):
    from api.services.plans import PlanParams, create_plan
    return create_plan(engine, loaded_demo, PlanParams(districts=5, seed=3))["plan"]


def test_the_plan_comparison_shows_both_plans_and_what_moves(page, api_url, api_keys, http, active_plan, second_plan):
    diff = http("analyst").get(f"/plans/{active_plan}/diff/{second_plan}").json()
    assert diff["units"], "two plans with 4 and 5 districts move some units"
    sign_in(page, api_url, api_keys["analyst"], f"/map/plans/{active_plan}/vs/{second_plan}")
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    assert page.evaluate("() => window.pianquMap.layers") == {"a": 4, "b": 5}
    rows = page.query_selector_all("#moved tr")
    assert len(rows) == len(diff["units"]) + 1
    assert f"{diff['totals']['subscribers_moved']:,}" in page.inner_text("#totals")
    metrics = page.inner_text("#metrics")
    assert active_plan in metrics and second_plan in metrics and "Polsby-Popper" in metrics
    assert page.problems == [] and page.foreign == []


def test_the_district_page_charts_its_months(page, api_url, api_keys, http, active_plan):
    d = http("analyst").get("/districts").json()["districts"][0]
    sign_in(page, api_url, api_keys["analyst"], f"/map/districts/{d['id']}")
    try:
        wait_for(page, "window.pianquMap && window.pianquMap.ready", 20)
    except AssertionError:
        raise AssertionError(f"not ready; the page said {page.problems}, {page.url}, {page.content()[:3000]}")
    assert page.evaluate("() => window.pianquMap.errors") == []
    months = page.evaluate("() => window.pianquMap.months")
    assert 12 <= months <= 24
    assert len(page.query_selector_all("#chart svg rect")) == months
    figures = page.inner_text("#figures")
    assert (d["manager_name"] or "none") in figures and f"{d['subscribers']:,}" in figures
    assert page.problems == [] and page.foreign == []


def test_the_faults_window_redraws_the_heatmap_and_hotspots(page, api_url, api_keys):
    sign_in(page, api_url, api_keys["analyst"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    page.fill("#fw-from", "2025-05-01")
    page.fill("#fw-to", "2025-10-31")
    page.check("#fw-rate")
    page.click("#faults-window button[type=submit]")
    said = wait_for(page, "document.getElementById('fw-out').textContent.includes(' to ') && "
                          "document.getElementById('fw-out').textContent", 60)
    assert said == "2025-05-01 to 2025-10-31"
    assert "from=2025-05-01&to=2025-10-31&rate=true" in page.evaluate("() => window.pianquMap.hotspotWindow")
    assert page.query_selector(".leaflet-image-layer") is not None
    assert page.problems == [] and page.foreign == []


def test_an_analysts_map_has_no_editing(page, api_url, api_keys):
    sign_in(page, api_url, api_keys["analyst"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    assert page.is_hidden("#edit-panel") and page.evaluate("() => window.pianquMap.edit === undefined")


def test_the_map_file_opens_from_disk_with_nothing_fetched(browser, run_cli, tmp_path, active_plan):
    out = tmp_path / "plan.html"
    r = run_cli("map", "--out", out, "--plan", active_plan)
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert not re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(?:https?:)?//', html)
    ctx = browser.new_context()
    pg = ctx.new_page()
    asked, problems = [], []
    pg.on("request", lambda q: asked.append(q.url))
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.goto(out.as_uri())
    wait_for(pg, "window.pianquMap && window.pianquMap.ready")
    assert len(pg.query_selector_all(".district-label")) == 4
    assert all(u.startswith(("file:", "data:", "blob:")) for u in asked), asked
    assert problems == []
    ctx.close()
    bad = run_cli("map", "--out", tmp_path / "plan.txt")
    assert bad.returncode == 2 and "HTML" in bad.stderr
