"""The analysts' notebooks (notebooks/*.ipynb) run top to bottom on the small demo in a store of
their own, show real figures, are stored without outputs, and their maps (api.notebook_maps)
fetch nothing from another host."""
from __future__ import annotations

import base64
import html
import io
import os
import re
import time
from pathlib import Path

import folium
import geopandas as gpd
import nbformat
import pytest
import shapely
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from sqlalchemy import text

from api import notebook_maps as nm
from gis import db, store

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_district_balance", "02_fault_trends", "03_opportunities")
CELL_TIMEOUT_S = 300
RUN_LIMIT_S = 180   # each runs in ~10 s on the small demo; the bound leaves room for a busy machine


# ---- what a page fetches -------------------------------------------------------------------------

def fetched(page: str) -> list[str]:
    """Every URL the page would ask another host for, or any absolute URL at all, outside the
    inlined Leaflet (whose code names its home page in comments and in strings it never loads)."""
    js, css = nm.leaflet_assets()
    rest = page.replace(js, "").replace(css, "")
    found = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", rest, re.IGNORECASE)      # script, link, img
    found += re.findall(r"""url\(\s*["']?([^"')]+)""", rest)                            # CSS
    found = [u for u in found if not u.startswith(("data:", "#"))]
    return found + re.findall(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+[^\s\"'<>)]*", rest)   # anything else


def demo_map() -> folium.Map:
    """One of each kind of layer the notebooks use."""
    m = nm.offline_map(location=[28.2, 112.97], zoom_start=13)
    polys = gpd.GeoDataFrame({"code": ["D001", "D002"], "deviation": [0.01, -0.02]},
                             geometry=[shapely.box(112.90, 28.10, 112.95, 28.15), shapely.box(112.95, 28.10, 113.0, 28.15)],
                             crs=4326)
    nm.add_geojson(m, polys, name="districts", column="code", tooltip=["code", "deviation"])
    pts = gpd.GeoDataFrame({"kind": ["a", "b"]}, geometry=shapely.points([[112.92, 28.12], [112.97, 28.13]]), crs=4326)
    nm.add_points(m, pts, name="alerts", column="kind", popup=["kind"])
    folium.Marker([28.12, 112.93], tooltip="a default marker").add_to(m)
    import matplotlib.pyplot as plt
    import numpy as np
    buf = io.BytesIO()
    plt.imsave(buf, np.random.default_rng(0).random((4, 4)))
    nm.add_image(m, buf.getvalue(), [[28.10, 112.90], [28.15, 113.0]], name="heatmap")
    nm.add_legend(m, "district", {"D001": "#1f77b4", "D002": "#ff7f0e"})
    folium.LayerControl().add_to(m)
    return m


def test_offline_map_page_holds_leaflet_and_asks_no_other_host_for_anything():
    page = demo_map().get_root().render()
    js, css = nm.leaflet_assets()
    assert "Leaflet 1.9.4" in js and js in page and css in page   # Pianqu's vendored copy, inline
    assert fetched(page) == []
    assert "L.tileLayer" not in page                              # no base tiles at all
    assert "images/" not in css and "url(data:image/png;base64," in css   # the control images
    assert re.search(r'"iconUrl": "data:image/png;base64,', page)          # the default marker


def test_the_check_sees_what_folium_itself_would_fetch():
    page = folium.Map(location=[28.2, 112.97]).get_root().render()
    urls = fetched(page)
    assert any("leaflet.js" in u and u.startswith("https://") for u in urls)
    assert any("tile.openstreetmap.org" in u for u in urls)


def test_offline_map_refuses_online_tiles():
    with pytest.raises(nm.OfflineError, match="tiles"):
        nm.offline_map(tiles="OpenStreetMap")


def test_offline_map_refuses_a_plugin_that_loads_its_script_from_a_cdn():
    from folium.plugins import HeatMap
    m = nm.offline_map(location=[28.2, 112.97])
    HeatMap([[28.2, 112.97, 1.0]]).add_to(m)
    with pytest.raises(nm.OfflineError, match=r"loads https://\S+ from another host"):
        m.get_root().render()


def test_offline_map_refuses_awesome_marker_icons_it_cannot_draw():
    m = nm.offline_map(location=[28.2, 112.97])
    folium.Marker([28.2, 112.97], icon=folium.Icon(color="red", icon="info-sign")).add_to(m)
    with pytest.raises(nm.OfflineError, match="awesome-markers"):
        m.get_root().render()


def test_offline_map_renders_the_same_page_twice():
    m = demo_map()
    first, second = m.get_root().render(), m.get_root().render()
    js, _ = nm.leaflet_assets()
    assert second.count(js) == first.count(js) == 1


# ---- the notebooks ----------------------------------------------------------------------------

def execute(name: str, url: str, edit=None) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook (the venv's python3 kernel, in notebooks/) against the store at `url`."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if edit:
        edit(nb)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)            # the kernel inherits this process's environment
        mp.delenv("PIANQU_CITY", raising=False)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb, time.perf_counter() - t0


def tagged(nb, tag: str):
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r}"
    return cells[0]


def outputs(cell, mime: str) -> list[str]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


def printed(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def table_rows(cell) -> list[str]:
    """The row labels of the (last) DataFrame the cell shows."""
    table = outputs(cell, "text/html")[-1]
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.DOTALL)[1]
    return re.findall(r"<tr>\s*<th>([^<]*)</th>", body)


def assert_plot(cell) -> None:
    pngs = outputs(cell, "image/png")
    assert pngs and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def map_page(cell) -> str:
    """The page inside the map's output (folium shows it in an iframe's srcdoc)."""
    (shown,) = outputs(cell, "text/html")
    return html.unescape(re.search(r'srcdoc="([^"]*)"', shown)[1])


def assert_clean_run(nb, seconds: float) -> None:
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        assert c.execution_count is not None
        assert not [o for o in c.outputs if o.output_type == "error"]
        err = "".join(o["text"] for o in c.outputs if o.output_type == "stream" and o.name == "stderr")
        assert "Warning" not in err and "Error" not in err, err
    assert seconds < RUN_LIMIT_S


@pytest.fixture(scope="module")
def nb_store(small_demo):
    """A store of the notebooks' own (notebook 03 writes alerts), empty at first: notebook 01
    loads the small demo into it, as its first code cell does with an empty store. If that
    notebook fails, the demo is loaded here, so the other notebooks still run."""
    with db.scratch_database("pianqu_notebooks") as url:
        db.upgrade(url)
        eng = db.engine(url)
        try:
            first = execute("01_district_balance", url, edit=ask_five_districts)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:   # re-raised by the test of notebook 01
            first = e
        with eng.connect() as conn:
            loaded = store.city_ids(conn)
        if not loaded:
            from api.services.districts import ensure_demo_plan
            with eng.begin() as tx:
                store.bulk_load(tx, small_demo.layers)
            ensure_demo_plan(eng, str(small_demo.layers["cities"]["id"].iat[0]))
        yield {"url": url, "engine": eng, "first": first, "loaded_by_notebook": loaded}
        eng.dispose()


def ask_five_districts(nb) -> None:
    """The analyst's edit of the parameters cell: 5 districts instead of its 6."""
    cell = tagged(nb, "parameters")
    assert re.search(r"^K = 6\b", cell.source, re.MULTILINE)
    cell.source += "\nK = 5"


def test_district_balance_notebook_loads_the_demo_plans_five_districts_and_compares_plans(nb_store):
    if isinstance(nb_store["first"], Exception):
        raise nb_store["first"]
    nb, seconds = nb_store["first"]
    assert_clean_run(nb, seconds)
    assert nb_store["loaded_by_notebook"] == ["demo-small"]   # the empty store got the small demo
    with nb_store["engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM district_plans WHERE status = 'active'")).scalar() == 1
    codes = table_rows(tagged(nb, "balance"))
    assert codes == ["D001", "D002", "D003", "D004", "D005"]
    compare = outputs(tagged(nb, "compare"), "text/html")[0]
    assert "churn vs A" in compare and "polsby_popper_mean" in compare
    moves = tagged(nb, "moves")
    n = int(re.match(r"(\d+) units", printed(moves))[1])
    assert len(table_rows(moves)) == n
    assert_plot(tagged(nb, "deviation-plot"))
    page = map_page(tagged(nb, "map"))
    assert fetched(page) == [] and nm.leaflet_assets()[0] in page
    assert page.count('"district": "D00') >= 2 * 5   # both plans' districts are drawn


def test_fault_trends_notebook_shows_heatmaps_hotspots_emerging_classes_and_kpis(nb_store):
    nb, seconds = execute("02_fault_trends", nb_store["url"])
    assert_clean_run(nb, seconds)
    hot = int(re.search(r"(\d+) hot cells", printed(tagged(nb, "hotspots")))[1])
    assert hot > 0
    assert len(table_rows(tagged(nb, "hotspots"))) > 0                   # the boxes in hot cells
    emerging = outputs(tagged(nb, "emerging"), "text/html")
    assert re.search(r"<th>\w+ hot spot</th>", emerging[0])              # the classes counted
    assert re.search(r"<td>\w+ hot spot</td>", emerging[-1])             # and the cells of each
    assert len(table_rows(tagged(nb, "kpis"))) == 12                     # the city's last 12 months
    for tag in ("heatmap-plot", "patterns-plot", "kpi-plot", "cause-plot"):
        assert_plot(tagged(nb, tag))
    page = map_page(tagged(nb, "map"))
    assert fetched(page) == []
    assert page.count("data:image/png;base64,") >= 2 + 3   # the two overlays (+ Leaflet's own images)


def test_opportunities_notebook_ranks_alerts_within_the_budget_and_maps_them(nb_store):
    nb, seconds = execute("03_opportunities", nb_store["url"])
    assert_clean_run(nb, seconds)
    with nb_store["engine"].connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM alerts")).scalar()
    assert stored > 0                                  # the city had none: the notebook evaluated it
    assert f"{stored} alerts in city demo-small" in printed(tagged(nb, "alerts"))
    assert "all" in table_rows(tagged(nb, "value-by-kind"))
    ranked = tagged(nb, "ranked")
    spent, budget = (int(x.replace(",", "")) for x in re.search(r"for ([\d,]+) of ([\d,]+) CNY", printed(ranked)).groups())
    assert 0 < spent <= budget
    first_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", outputs(ranked, "text/html")[0], re.DOTALL)[1]
    assert "<td>build</td>" in first_row                 # the best alert is built first
    assert_plot(tagged(nb, "value-plot"))
    page = map_page(tagged(nb, "map"))
    assert fetched(page) == [] and "build first" in page


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.cells[0].cell_type == "markdown" and "DATABASE_URL" in nb.cells[0].source
    assert "demo-small-7" in code[0].source and "bulk_load" in code[0].source   # loads the demo if empty
    assert os.path.getsize(path) < 60_000
