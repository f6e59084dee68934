"""File import and export: every format, any CRS, column mapping, and every class of bad input
rejected with a message that names the file, the row and the problem, writing nothing."""
from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import store
from gis.errors import InputError, NotFound
from gis.io import write_file
from gis.transfer import export_layer, import_file

from networks import UTM, X0, Y0, tiny_network


@pytest.fixture
def city(engine, tmp_city):
    with engine.begin() as tx:
        store.bulk_load(tx, tiny_network(tmp_city))
    return tmp_city


def new_boxes(city: str, n: int = 3, crs=UTM) -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame({
        "id": [f"{city}-NB{i}" for i in range(n)],
        "office_id": f"{city}-O1",
        "capacity": [400 + 100 * i for i in range(n)],
        "used": [100 + i for i in range(n)],
        "year_installed": 2020,
    }, geometry=[shapely.Point(X0 + 100 * i, Y0 - 300) for i in range(n)], crs=UTM)
    return g.to_crs(crs)


def box_count(engine, city) -> int:
    with engine.connect() as conn:
        return store.counts(conn, city)["boxes"]


def stored_boxes(engine, city) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return store.read_layer(conn, "boxes", city).set_index("id")


def write_csv_lonlat(gdf: gpd.GeoDataFrame, path) -> None:
    ll = gdf.to_crs(4326)
    df = pd.DataFrame(ll.drop(columns="geometry"))
    df["longitude"], df["latitude"] = ll.geometry.x, ll.geometry.y
    df.to_csv(path, index=False)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet", ".csv", ".shp"])
def test_import_each_format_then_reimport_updates_instead_of_duplicating(engine, city, tmp_path, suffix):
    boxes = new_boxes(city)
    path = tmp_path / f"boxes{suffix}"
    mapping = None
    if suffix == ".csv":
        write_csv_lonlat(boxes, path)
    else:
        write_file(boxes, path)
    if suffix == ".shp":  # dBase truncates names to 10 characters: map them back
        mapping = {"year_insta": "year_installed"}
    before = box_count(engine, city)
    with engine.begin() as tx:
        res = import_file(tx, "boxes", path, city=city, mapping=mapping)
    assert res["inserted"] == 3 and res["updated"] == 0
    assert box_count(engine, city) == before + 3
    got = stored_boxes(engine, city).loc[boxes["id"]]
    assert list(got["capacity"]) == [400, 500, 600]
    assert np.allclose(got.geometry.x, boxes.to_crs(4326).geometry.x, atol=1e-7)

    boxes["capacity"] = boxes["capacity"] + 50
    (write_csv_lonlat if suffix == ".csv" else write_file)(boxes, path)
    with engine.begin() as tx:
        res = import_file(tx, "boxes", path, city=city, mapping=mapping)
    assert res["inserted"] == 0 and res["updated"] == 3
    assert box_count(engine, city) == before + 3
    assert list(stored_boxes(engine, city).loc[boxes["id"], "capacity"]) == [450, 550, 650]


@pytest.mark.parametrize("crs", [UTM, 3857, 4490])  # UTM 49N, Web Mercator, CGCS2000
def test_import_reprojects_any_crs_to_lon_lat(engine, city, tmp_path, crs):
    boxes = new_boxes(city, crs=crs)
    path = tmp_path / "boxes.gpkg"
    write_file(boxes, path)
    with engine.begin() as tx:
        import_file(tx, "boxes", path, city=city)
    got = stored_boxes(engine, city).loc[boxes["id"]]
    expect = new_boxes(city, crs=4326)
    # CGCS2000 and WGS 84 agree to well under a metre: 1e-5 degrees is about a metre.
    assert np.allclose(got.geometry.x, expect.geometry.x, atol=1e-5)
    assert np.allclose(got.geometry.y, expect.geometry.y, atol=1e-5)


def test_csv_in_a_projected_crs_with_named_columns_and_mapping(engine, city, tmp_path):
    boxes = new_boxes(city)
    df = pd.DataFrame(boxes.drop(columns="geometry")).rename(columns={"capacity": "ports", "id": "box_no"})
    df["east"], df["north"] = boxes.geometry.x, boxes.geometry.y
    path = tmp_path / "boxes.csv"
    df.to_csv(path, index=False)
    with engine.begin() as tx:
        import_file(tx, "boxes", path, city=city, crs=f"EPSG:{UTM}", lon="east", lat="north",
                mapping={"ports": "capacity", "box_no": "id"})
    got = stored_boxes(engine, city).loc[boxes["id"]]
    assert list(got["capacity"]) == [400, 500, 600]
    assert np.allclose(got.geometry.y, boxes.to_crs(4326).geometry.y, atol=1e-7)


def test_export_round_trips_every_format(engine, city, tmp_path):
    for suffix in (".gpkg", ".geojson", ".parquet", ".csv", ".fgb"):
        path = tmp_path / f"subs{suffix}"
        with engine.connect() as tx:
            res = export_layer(tx, "subscribers", path, city=city)
        assert res["rows"] == 5 and path.exists()
        back = (gpd.read_parquet(path) if suffix == ".parquet" else
                pd.read_csv(path) if suffix == ".csv" else gpd.read_file(path))
        assert sorted(back["id"]) == sorted(f"{city}-S{i}" for i in range(1, 6))
        assert {"dp_id", "box_id", "monthly_revenue"} <= set(back.columns)


# ---- bad input: the error names file, row, id and problem; nothing is written ----------------

def _bad(city, mutate, n=3):
    g = new_boxes(city, n=n)
    out = mutate(g)
    return g if out is None else out


def _set(col, row, value):
    def f(g):
        g[col] = g[col].astype(object)
        g.loc[row, col] = value
    return f


def _geom(row, geom):
    def f(g):
        arr = g.geometry.to_numpy().copy()
        arr[row] = geom
        return g.set_geometry(gpd.GeoSeries(arr, crs=g.crs))
    return f


BAD = {
    "missing column": (lambda g: g.drop(columns=["capacity"]), None, "missing required column: capacity"),
    "empty geometry": (_geom(1, shapely.Point()), 2, "geometry is empty"),
    "wrong geometry type": (_geom(2, shapely.LineString([(X0, Y0), (X0 + 1, Y0 + 1)])), 3,
                            "geometry is a LineString, expected Point"),
    "duplicate id": (_set("id", 2, None), None, None),  # replaced below
    "used above capacity": (_set("used", 0, 10_000), 1, "used exceeds capacity"),
    "not a number": (_set("capacity", 1, "lots"), 2, "capacity 'lots' is not an integer"),
    "unknown office": (_set("office_id", 1, "OF-NOWHERE"), 2, "office_id 'OF-NOWHERE' is not in offices"),
    "year out of range": (_set("year_installed", 2, 1066), 3, "year_installed must be between 1950 and 2100"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_box_rows_are_rejected_by_row_with_nothing_written(engine, city, tmp_path, case):
    mutate, row, fragment = BAD[case]
    if case == "duplicate id":
        def mutate(g):
            g.loc[2, "id"] = g.loc[0, "id"]
        row, fragment = 3, f"id {city}-NB0 is duplicated (first at row 1)"
    g = _bad(city, mutate)
    path = tmp_path / "boxes.gpkg"
    write_file(g, path)
    before = box_count(engine, city)
    with pytest.raises(InputError) as ei:
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)
    msg = str(ei.value)
    assert msg.startswith("boxes.gpkg"), msg
    assert fragment in msg, msg
    if row is not None:
        assert f"row {row}" in msg and f"(id {g['id'].iat[row - 1]})" in msg, msg
    assert box_count(engine, city) == before


def test_invalid_polygon_is_named_with_its_reason(engine, city, tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])
    g = gpd.GeoDataFrame({"id": ["CR-A", "CR-B"], "kind": "residential", "stage": "planned",
                          "households": [120, 80], "reported_on": "2026-10-01"},
                         geometry=[shapely.box(X0, Y0, X0 + 50, Y0 + 50), bowtie], crs=UTM)
    path = tmp_path / "permits.geojson"
    write_file(g, path)
    with pytest.raises(InputError, match=r"permits.geojson row 2 \(id CR-B\): geometry is invalid: Self-intersection"):
        with engine.begin() as tx:
            import_file(tx, "construction", path, city=city)
    with engine.connect() as conn:
        assert store.counts(conn, city)["construction_reports"] == 1  # only the tiny network's own


def test_coordinates_outside_the_crs_are_rejected(engine, city, tmp_path):
    g = new_boxes(city)
    # Metres labelled as degrees: the classic wrong-CRS mistake.
    g = g.set_crs(4326, allow_override=True)
    path = tmp_path / "boxes.gpkg"
    write_file(g, path)
    with pytest.raises(InputError, match=r"row 1 .*outside the area of use of EPSG:4326"):
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)


def test_coordinates_outside_a_projected_crs_area_are_rejected(engine, city, tmp_path):
    g = new_boxes(city, crs=4326).set_crs(2193, allow_override=True)  # New Zealand TM, lon/lat numbers
    path = tmp_path / "boxes.gpkg"
    write_file(g, path)
    with pytest.raises(InputError, match=r"outside the area of use of EPSG:2193"):
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)


def test_unreadable_and_missing_files(engine, city, tmp_path):
    junk = tmp_path / "boxes.gpkg"
    junk.write_bytes(b"this is not a geopackage")
    with pytest.raises(InputError, match=r"^boxes.gpkg: cannot read file"):
        with engine.begin() as tx:
            import_file(tx, "boxes", junk, city=city)
    with pytest.raises(InputError, match="file not found"):
        with engine.begin() as tx:
            import_file(tx, "boxes", tmp_path / "nope.gpkg", city=city)


def test_file_without_crs_needs_one(engine, city, tmp_path):
    g = new_boxes(city, crs=4326)
    path = tmp_path / "boxes.parquet"
    g.set_crs(None, allow_override=True).to_parquet(path)
    with pytest.raises(InputError, match="no coordinate reference system") as e:
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)
    assert "--" not in str(e.value)   # the store speaks no door's options (the HTTP API raises it too)
    with engine.begin() as tx:
        import_file(tx, "boxes", path, city=city, crs="EPSG:4326")
    assert box_count(engine, city) == 5


def test_the_cli_names_the_option_that_fixes_an_import(cli, city, tmp_path):
    g = new_boxes(city, crs=4326)
    path = tmp_path / "boxes.parquet"
    g.set_crs(None, allow_override=True).to_parquet(path)
    r = cli("import", "boxes", str(path), "--city", city)
    assert r.returncode == 2 and "no coordinate reference system" in r.stderr and "[--crs]" in r.stderr
    path = tmp_path / "boxes.gpkg"
    g.drop(columns=["capacity"]).to_file(path)
    r = cli("import", "boxes", str(path), "--city", city)
    assert r.returncode == 2 and "missing required column: capacity" in r.stderr and "[--map" in r.stderr


def test_vocabulary_violation_names_allowed_values(engine, city, tmp_path):
    g = gpd.GeoDataFrame({"id": ["CX1"], "kind": ["backbone"], "medium": ["fibre"], "capacity": [24], "used": [3],
                          "placement": ["aerial"], "year_laid": [2001]},
                         geometry=[shapely.LineString([(X0, Y0), (X0 + 10, Y0)])], crs=UTM)
    path = tmp_path / "cables.gpkg"
    write_file(g, path)
    with pytest.raises(InputError, match="kind 'backbone' is not one of trunk, distribution, drop"):
        with engine.begin() as tx:
            import_file(tx, "cables", path, city=city)


def test_subscriber_whose_box_differs_from_its_dps_box_is_rejected(engine, city, tmp_path):
    g = gpd.GeoDataFrame({"id": ["SX1", "SX2"], "dp_id": [f"{city}-D1", f"{city}-D1"],
                          "box_id": [f"{city}-B1", f"{city}-B2"]},
                         geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + 5, Y0)], crs=UTM)
    path = tmp_path / "subs.gpkg"
    write_file(g, path)
    with pytest.raises(InputError, match=r"row 2 \(id SX2\): box_id .* differs from the box of its distribution point"):
        with engine.begin() as tx:
            import_file(tx, "subscribers", path, city=city)
    with engine.connect() as conn:
        assert store.counts(conn, city)["subscribers"] == 5


def test_many_good_rows_and_one_bad_write_nothing(engine, city, tmp_path):
    g = new_boxes(city, n=500)
    g.loc[437, "used"] = -4
    path = tmp_path / "boxes.parquet"
    g.to_parquet(path)
    with pytest.raises(InputError, match=r"row 438 .*used must not be negative"):
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)
    assert box_count(engine, city) == 2


def test_unknown_layer_and_unknown_city(engine, city, tmp_path):
    path = tmp_path / "boxes.gpkg"
    write_file(new_boxes(city), path)
    with pytest.raises(InputError, match="unknown layer 'boxen'"):
        with engine.begin() as tx:
            import_file(tx, "boxen", path, city=city)
    with pytest.raises(NotFound, match="city 'atlantis' is not in the store"):
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city="atlantis")


def test_a_cities_layer_gets_its_utm_zone(engine, tmp_path):
    outline = shapely.MultiPolygon([shapely.box(X0, Y0, X0 + 5000, Y0 + 5000)])
    g = gpd.GeoDataFrame({"id": ["zz-city"], "name": ["株洲"]}, geometry=[outline], crs=UTM)
    path = tmp_path / "cities.geojson"
    write_file(g, path)
    try:
        with engine.begin() as tx:
            import_file(tx, "cities", path)
        with engine.connect() as conn:
            assert store.metric_crs(conn, "zz-city") == 32649
    finally:
        with engine.begin() as tx:
            store.delete_city(tx, "zz-city")


def test_cli_reports_bad_input_on_one_line_and_exits_2(engine, cli, city, tmp_path):
    g = new_boxes(city)
    g.loc[1, "used"] = 9999
    path = tmp_path / "boxes.geojson"
    write_file(g, path)
    r = cli("import", "boxes", path, "--city", city)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "boxes.geojson row 2" in lines[0] and "used exceeds capacity" in lines[0], r.stderr
    assert box_count(engine, city) == 2
    ok = cli("import", "boxes", path, "--city", city, "--map", "nope=used")
    assert ok.returncode == 2 and "column mapping names columns the file does not have: nope" in ok.stderr


# ---- geometry GEOS refuses, and every problem of a file listed ------------------------------

def _polygon_wkb(ring) -> bytes:
    """A WKB polygon with the ring exactly as given, closed or not (shapely would close it)."""
    import struct
    out = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring))
    return out + b"".join(struct.pack("<dd", x, y) for x, y in ring)


def _write_areas_with_raw_rings(path, rings) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyogrio.raw
    ids = np.array([f"A{i + 1}" for i in range(len(rings))], dtype=object)
    wkb = np.array([_polygon_wkb(r) for r in rings], dtype=object)
    fields = [ids, np.array(["community"] * len(rings), dtype=object), ids]
    if path.suffix == ".parquet":  # write a good file, then swap in the raw WKB
        gpd.GeoDataFrame({"id": ids, "level": "community", "name": ids},
                         geometry=[shapely.box(0, 0, 1, 1)] * len(rings), crs=4326).to_parquet(path)
        t = pq.read_table(path)
        t = t.set_column(t.schema.get_field_index("geometry"), "geometry", pa.array(list(wkb), pa.binary()))
        pq.write_table(t.replace_schema_metadata(pq.read_schema(path).metadata), path)
    else:
        pyogrio.raw.write(str(path), wkb, fields, ["id", "level", "name"], geometry_type="Polygon",
                          crs="EPSG:4326", driver={".geojson": "GeoJSON", ".gpkg": "GPKG",
                                                   ".shp": "ESRI Shapefile"}[path.suffix])


LON, LAT = 112.95, 28.2
SQUARE = [(LON, LAT), (LON + 0.01, LAT), (LON + 0.01, LAT + 0.01), (LON, LAT + 0.01), (LON, LAT)]
UNCLOSED = [(LON + 0.02, LAT), (LON + 0.03, LAT), (LON + 0.03, LAT + 0.01), (LON + 0.02, LAT + 0.01)]
TWO_POINTS = [(LON + 0.04, LAT), (LON + 0.04, LAT)]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".parquet"])
def test_unclosed_ring_is_named_by_row_like_any_invalid_geometry(engine, city, tmp_path, suffix):
    path = tmp_path / f"areas{suffix}"
    _write_areas_with_raw_rings(path, [SQUARE, UNCLOSED, SQUARE, TWO_POINTS])
    with engine.connect() as conn:
        before = store.counts(conn, city)["admin_areas"]
    with pytest.raises(InputError) as ei:
        with engine.begin() as tx:
            import_file(tx, "areas", path, city=city)
    assert str(ei.value) == (f"areas{suffix} row 2 (id A2): geometry is invalid: ring is not closed "
                             "(and 1 more problem, listed below)")
    assert ei.value.problems[1] == f"areas{suffix} row 4 (id A4): geometry is invalid: ring has only 2 points"
    with engine.connect() as conn:
        assert store.counts(conn, city)["admin_areas"] == before


def test_cli_says_only_the_row_error_for_an_unclosed_ring(engine, cli, city, tmp_path):
    path = tmp_path / "areas.geojson"
    _write_areas_with_raw_rings(path, [SQUARE, UNCLOSED])
    r = cli("import", "areas", path, "--city", city)
    assert r.returncode == 2
    # No RuntimeWarning from GDAL, no traceback: the one error line.
    assert r.stderr.strip() == "error: areas.geojson row 2 (id A2): geometry is invalid: ring is not closed", r.stderr


def test_two_problems_say_one_more_problem(engine, city, tmp_path):
    g = new_boxes(city)
    g.loc[0, "used"], g.loc[2, "used"] = 9999, -1
    path = tmp_path / "boxes.gpkg"
    write_file(g, path)
    with pytest.raises(InputError) as ei:
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)
    assert str(ei.value).endswith("(and 1 more problem, listed below)"), str(ei.value)
    assert len(ei.value.problems) == 2


def test_every_bad_row_is_a_problem_line_with_each_kind_of_mistake_first(engine, city, tmp_path):
    g = new_boxes(city, n=30)
    g.loc[0:24, "used"] = 9999          # 25 rows: used exceeds capacity
    g.loc[28, "year_installed"] = 1066  # and one of another kind, last in the file
    path = tmp_path / "boxes.gpkg"
    write_file(g, path)
    with pytest.raises(InputError) as ei:
        with engine.begin() as tx:
            import_file(tx, "boxes", path, city=city)
    probs = ei.value.problems
    assert len(probs) == 26 and str(ei.value).endswith("(and 25 more problems, listed below)")
    assert sum("used exceeds capacity" in p for p in probs) == 25
    assert "row 29" in probs[3] and "year_installed" in probs[3]  # within the first lines a console shows
    assert sorted(int(p.split(" row ")[1].split(" ")[0]) for p in probs if "used" in p) == list(range(1, 26))


def test_cli_lists_twenty_problems_and_counts_the_rest(engine, cli, city, tmp_path):
    g = new_boxes(city, n=25)
    g["used"] = 9999 + np.arange(25)  # 25 distinct bad rows
    path = tmp_path / "boxes.geojson"
    write_file(g, path)
    r = cli("import", "boxes", path, "--city", city)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == (f"error: boxes.geojson row 1 (id {city}-NB0): used exceeds capacity "
                        "(and 24 more problems, listed below)"), lines[0]
    assert len(lines) == 21
    assert all(ln.startswith(f"  boxes.geojson row {i + 2} (id {city}-NB{i + 1}): used exceeds capacity")
               for i, ln in enumerate(lines[1:20]))
    assert lines[20] == "  ... and 5 more problems"
    assert box_count(engine, city) == 2
