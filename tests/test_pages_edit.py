"""Editing districts in the browser (headless Chromium, the small demo's active plan): a box
selected on the map shows, before anything is saved, the new workload and deviation of the two
districts it would leave and join; the move is made; a move that would leave a district in pieces
is refused with the reason; undo and redo; the edit saved as a draft."""
from pathlib import Path

import pytest

from browser import click_at, sign_in, wait_for
from planning.partition import editing

pytestmark = pytest.mark.usefixtures("active_plan")



@pytest.fixture(scope="module")
def plan(engine, active_plan, http):
    from gis import plans as store_plans
    view = http("planner").get(f"/plans/{active_plan}/editing").json()
    with engine.connect() as conn:
        g = editing.plan_graph(store_plans.plan_units(conn, active_plan), view["target"], view["tolerance"])
    return view, g


def click_unit(page, unit):
    click_at(page, unit["lat"], unit["lon"])


def test_a_box_moved_on_the_map_changes_both_districts_and_a_broken_district_is_refused(
        browser, api_url, api_keys, plan, tmp_path):
    view, g = plan
    units = view["units"]
    # a border move the plan's rules allow, and a move the rules refuse (to a district not touched)
    good = next((u, units[j]["district"]) for i, u in enumerate(units) for j in view["neighbours"][i]
                if units[j]["district"] != u["district"]
                and editing.check_moves(g, {u["id"]: units[j]["district"]}, override_tolerance=True).ok)
    bad = next((u, c) for i, u in enumerate(units) for c in sorted({d["code"] for d in view["districts"]})
               if c != u["district"] and u["id"] != good[0]["id"]
               and c not in {units[j]["district"] for j in view["neighbours"][i]})
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, api_url, api_keys["planner"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    page.click("#edit-start")
    wait_for(page, "window.pianquMap.edit.ready")
    page.check("#edit-override")

    u, to = good
    click_unit(page, u)
    wait_for(page, "window.pianquMap.edit.selected.size === 1")
    page.select_option("#edit-to", to)
    wait_for(page, "window.pianquMap.edit.last && window.pianquMap.edit.last.ok")
    expect = editing.check_moves(g, {u["id"]: to}, override_tolerance=True).districts
    for code in (u["district"], to):
        row = page.inner_text(f"#edit-check tr[data-district='{code}']")
        assert f"{expect[code]['workload_before']:,.0f} → {expect[code]['workload']:,.0f}" in row, row
    assert "The move is allowed." in page.inner_text("#edit-check")
    page.click("#edit-move")
    wait_for(page, f"window.pianquMap.edit.moves[{u['id']!r}] === {to!r}")
    row = page.inner_text(f"#edit-districts tr[data-district='{to}']")
    assert f"{expect[to]['workload']:,.0f}" in row, row

    v, far = bad
    click_unit(page, v)
    wait_for(page, "window.pianquMap.edit.selected.size === 1")
    page.select_option("#edit-to", far)
    wait_for(page, "window.pianquMap.edit.last && window.pianquMap.edit.last.ok === false")
    assert "Refused" in page.inner_text("#edit-check") and "one piece" in page.inner_text("#edit-check")
    assert page.is_disabled("#edit-move")
    page.click("#edit-clear")

    page.click("#edit-undo")
    wait_for(page, "Object.keys(window.pianquMap.edit.moves).length === 0")
    page.click("#edit-redo")
    wait_for(page, "Object.keys(window.pianquMap.edit.moves).length === 1")
    page.screenshot(path=str(tmp_path / "edit.png"))
    page.click("#edit-save")
    said = wait_for(page, "document.getElementById('edit-out').textContent.startsWith('Saved') && "
                          "document.getElementById('edit-out').textContent")
    assert "draft" in said and problems == []
    ctx.close()


def test_a_rectangle_selects_the_boxes_in_it_and_the_edit_downloads_as_csv(browser, api_url, api_keys, plan):
    view, _ = plan
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, api_url, api_keys["planner"])
    wait_for(page, "window.pianquMap && window.pianquMap.ready")
    page.click("#edit-start")
    wait_for(page, "window.pianquMap.edit.ready")
    page.check("input[name=edit-mode][value=rectangle]")
    box = page.query_selector("#map").bounding_box()
    # a drag over the middle of the map: the boxes inside the rectangle, and only they, are selected
    x0, y0, x1, y1 = box["x"] + 300, box["y"] + 250, box["x"] + 700, box["y"] + 600
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    inside = page.evaluate(f"""() => {{ const m = window.pianquMap.map, r = document.getElementById('map')
        .getBoundingClientRect(); const a = m.containerPointToLatLng([{x0} - r.left, {y0} - r.top]),
        b = m.containerPointToLatLng([{x1} - r.left, {y1} - r.top]), B = L.latLngBounds(a, b);
        return window.pianquMap.edit.view.units.filter(u => B.contains([u.lat, u.lon])).length; }}""")
    selected = page.evaluate("() => window.pianquMap.edit.selected.size")
    assert inside > 1 and selected == inside
    with page.expect_download() as dl:
        page.click("#edit-csv")
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0] == "unit_id,box_id,district" and len(lines) == len(view["units"]) + 1
    ctx.close()
