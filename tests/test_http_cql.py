"""CQL2 text filters (OGC API - Features Part 3) through the real server, each checked against the
same question asked of GeoPandas over the stored layer; bad filters answer a 4xx naming the problem,
and a filter is never SQL."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from gis import store
from tests.problems import every_feature

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
# A quadrilateral over the middle of the small demo (about a third of its boxes).
AREA = shapely.Polygon([(112.955, 28.185), (112.985, 28.183), (112.99, 28.21), (112.96, 28.205), (112.955, 28.185)])


@pytest.fixture(scope="module")
def layers(engine, loaded_demo):
    with engine.connect() as conn:
        return {n: store.read_layer(conn, n, loaded_demo)
                for n in ("boxes", "cables", "subscribers", "fault_tickets", "construction_reports")}


def _ids(client, layer, flt, **params):
    """The ids of every feature a filter selects (pages followed)."""
    feats, _ = every_feature(client, f"/collections/{layer}/items", **{"filter": flt, "limit": 10000, **params})
    return sorted(f["id"] for f in feats)


def _expect(df) -> list[str]:
    return sorted(df["id"])


CASES = [   # layer, CQL2 text, the same question in pandas
    ("boxes", "capacity > 400 AND used < 400", lambda d: d[(d.capacity > 400) & (d.used < 400)]),
    ("boxes", "id LIKE 'SM-BX-0001%'", lambda d: d[d.id.str.startswith("SM-BX-0001")]),
    ("boxes", "used * 4 > capacity * 3 OR year_installed - 1 < 1999",
     lambda d: d[(d.used * 4 > d.capacity * 3) | (d.year_installed - 1 < 1999)]),
    ("boxes", "NOT (capacity = 250 OR capacity = 500) AND (used > 300 OR used < 150)",
     lambda d: d[~d.capacity.isin([250, 500]) & ((d.used > 300) | (d.used < 150))]),
    ("boxes", f"S_INTERSECTS(geometry, {AREA.wkt})", lambda d: d[d.intersects(AREA)]),
    ("boxes", f"S_DISJOINT(geometry, {AREA.wkt}) AND capacity >= 300",
     lambda d: d[~d.intersects(AREA) & (d.capacity >= 300)]),
    ("cables", "kind IN ('trunk','distribution')", lambda d: d[d.kind.isin(["trunk", "distribution"])]),
    ("cables", "year_laid BETWEEN 1995 AND 2000 AND kind <> 'drop'",
     lambda d: d[d.year_laid.between(1995, 2000) & (d.kind != "drop")]),
    ("cables", "NOT (placement = 'aerial') AND kind NOT IN ('drop')",
     lambda d: d[d.placement.notna() & (d.placement != "aerial") & (d.kind != "drop")]),
    ("cables", f"S_WITHIN(geometry, {AREA.wkt}) AND kind = 'distribution'",
     lambda d: d[d.within(AREA) & (d.kind == "distribution")]),
    ("cables", "office_id IS NOT NULL", lambda d: d[d.office_id.notna()]),
    ("subscribers", "monthly_revenue > 150.5 AND broadband = TRUE AND iptv = FALSE",
     lambda d: d[(d.monthly_revenue > 150.5) & d.broadband & ~d.iptv]),
    ("subscribers", "iptv = voice AND id LIKE 'SM-S-00001__'",   # property = property; _ is one character
     lambda d: d[(d.iptv == d.voice) & d.id.str.match(r"^SM-S-00001..$")]),
    ("subscribers", ("connected_since >= DATE('2025-01-01') AND S_WITHIN(geometry, "
                     "POLYGON((112.96 28.19, 112.98 28.19, 112.98 28.2, 112.96 28.2, 112.96 28.19)))"),
     lambda d: d[(d.connected_since >= dt.date(2025, 1, 1)) & d.within(shapely.box(112.96, 28.19, 112.98, 28.2))]),
    ("fault_tickets", "T_AFTER(reported_at, TIMESTAMP('2026-01-01T00:00:00Z'))",
     lambda d: d[d.reported_at > pd.Timestamp("2026-01-01", tz="UTC")]),
    ("fault_tickets", "T_DURING(reported_at, INTERVAL('2025-03-01T00:00:00Z','2025-04-01T00:00:00Z')) AND severity = 3",
     lambda d: d[(d.reported_at > pd.Timestamp("2025-03-01", tz="UTC"))
                 & (d.reported_at < pd.Timestamp("2025-04-01", tz="UTC")) & (d.severity == 3)]),
    ("fault_tickets", "box_id IS NULL AND cable_id IS NULL AND vip = TRUE",
     lambda d: d[d.box_id.isna() & d.cable_id.isna() & d.vip]),
    ("fault_tickets", "T_BEFORE(reported_at, TIMESTAMP('2025-01-01T00:00:00Z')) OR cleared_at IS NULL",
     lambda d: d[(d.reported_at < pd.Timestamp("2025-01-01", tz="UTC")) | d.cleared_at.isna()]),
    ("construction_reports", "T_BEFORE(reported_on, DATE('2026-01-01')) AND households IS NULL",
     lambda d: d[(d.reported_on < dt.date(2026, 1, 1)) & d.households.isna()]),
]


@pytest.mark.parametrize("layer, flt, pick", CASES, ids=[f"{c[0]}: {c[1][:50]}" for c in CASES])
def test_cql2_filter_selects_what_geopandas_selects(http, layers, layer, flt, pick):
    df = layers[layer]
    expect = _expect(pick(df))
    assert 0 < len(expect) < len(df), "the case must tell something apart"
    assert _ids(http("analyst"), layer, flt) == expect


def test_filter_combines_with_bbox_and_attribute_filters(http, layers):
    d = layers["boxes"]
    x0, y0, x1, y1 = 112.95, 28.17, 112.99, 28.21
    expect = d[d.intersects(shapely.box(x0, y0, x1, y1)) & (d.office_id == "SM-OF-01") & (d.capacity > 300)]
    got = _ids(http(), "boxes", "capacity > 300", bbox=f"{x0},{y0},{x1},{y1}", office_id="SM-OF-01")
    assert 0 < len(expect) and got == _expect(expect)
    page = http().get("/collections/boxes/items", params={"filter": "capacity > 300", "limit": 3}).json()
    assert page["numberMatched"] == int((d.capacity > 300).sum())
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "filter=capacity" in nxt   # the next page keeps the filter


def test_filter_crs_reads_geometries_in_that_crs(http, layers):
    d = layers["boxes"]
    expect = _expect(d[d.intersects(AREA)])
    utm = Transformer.from_crs(4326, 32649, always_xy=True)
    in_utm = shapely.transform(AREA, lambda c: __import__("numpy").column_stack(utm.transform(c[:, 0], c[:, 1])))
    assert _ids(http(), "boxes", f"S_INTERSECTS(geometry, {in_utm.wkt})", **{"filter-crs": f"{EPSG}32649"}) == expect
    latlon = shapely.transform(AREA, lambda c: c[:, ::-1])   # EPSG:4326 proper: latitude first
    assert _ids(http(), "boxes", f"S_INTERSECTS(geometry, {latlon.wkt})", **{"filter-crs": f"{EPSG}4326"}) == expect
    assert _ids(http(), "boxes", f"S_INTERSECTS(geometry, SRID=32649;{in_utm.wkt})") == expect


def test_districts_filter_on_computed_properties(http, active_plan):
    client = http()
    every = client.get("/collections/districts/items", params={"plan": active_plan, "limit": 100}).json()["features"]
    props = pd.DataFrame([f["properties"] for f in every])
    median = float(props.subscribers.median())
    expect = sorted(props.loc[(props.subscribers > median) & props.manager_id.notna(), "id"])
    got = _ids(client, "districts", f"subscribers > {int(median)} AND manager_id IS NOT NULL", plan=active_plan)
    assert 0 < len(expect) < len(props) and got == expect
    some = props.manager_id.dropna().iloc[0]
    got = _ids(client, "districts", f"manager_id = '{some}' OR deviation > 1000", plan=active_plan)
    assert got == sorted(props.loc[props.manager_id == some, "id"])


def test_sql_injection_matches_nothing_and_the_table_stays(http, layers):
    client = http()
    for flt in ("id = 'x''; DROP TABLE boxes; --'", "id = 'x'' OR ''1''=''1'", "id LIKE '%'' OR 1=1 --'"):
        r = client.get("/collections/boxes/items", params={"filter": flt})
        assert r.status_code == 200, r.text
        assert r.json()["numberReturned"] == 0
    r = client.get("/collections/boxes/items", params={"filter": "id = 'x'; DROP TABLE boxes; --'"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/collections/boxes/items", params={"limit": 1}).json()["numberMatched"] == len(layers["boxes"])


BAD = [   # layer, a filter, what the answer's detail must say
    ("boxes", "capacity >", "not valid CQL2"),
    ("boxes", "capacity > 100 AND", "ends too early"),
    ("boxes", "capacity >> 3", "at character"),
    ("boxes", "colour = 'red'", "unknown property 'colour'"),
    ("boxes", "capacity > 'lots'", "type mismatch"),
    ("boxes", "capacity LIKE '1%'", "LIKE needs text"),
    ("boxes", "id LIKE 3", "LIKE pattern must be a text literal"),
    ("boxes", "T_AFTER(capacity, TIMESTAMP('2026-01-01T00:00:00Z'))", "need times"),
    ("boxes", "S_INTERSECTS(capacity, POINT(1 2))", "need geometries"),
    ("boxes", "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "not valid (Self-intersection"),
    ("boxes", "S_INTERSECTS(geometry, SRID=2000;POINT(1 2))", "SRID 2000 is not offered"),
    ("boxes", "S_INTERSECTS(geometry, POINT(1e999 1))", "out of range"),
    ("boxes", "geometry = POINT(1 2)", "S_EQUALS"),
    ("boxes", "SOUNDEX(id) = 'x'", "function SOUNDEX() is not offered"),
    ("boxes", "id LIKE 'x\\'", "ends with the escape character"),
    ("boxes", "capacity = 1 AND " * 700 + "capacity = 1", "characters"),   # FastAPI or gis.cql: either says it
    ("boxes", "capacity IN (" + ", ".join(["1"] * 1500) + ")", "at most 1,000"),
    ("boxes", "NOT (" * 45 + "capacity = 1" + ")" * 45, "deeper than"),
    ("boxes", "DATE('2026-13-01') < year_installed", "month must be"),
    ("fault_tickets", "T_DURING(reported_at, INTERVAL('2026-02-01T00:00:00Z','2026-01-01T00:00:00Z'))",
     "ends before it starts"),
    ("fault_tickets", "reported_at > 'yesterday'", "expected a timestamp"),
    ("fault_tickets", "vip > FALSE", "booleans are compared with = or <>"),
]


@pytest.mark.parametrize("layer, flt, says", BAD, ids=[b[2] for b in BAD])
def test_a_bad_filter_is_a_problem_naming_it(http, layer, flt, says):
    r = http().get(f"/collections/{layer}/items", params={"filter": flt})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert says in detail, detail
    if "unknown property" in says:
        assert "queryables: id, city_id" in detail and "geometry" in detail


def test_filter_lang_and_filter_crs_are_checked(http):
    r = http().get("/collections/boxes/items", params={"filter": "capacity > 1", "filter-lang": "cql-text"})
    assert r.status_code == 422 and "filter-lang" in r.json()["detail"]
    r = http().get("/collections/boxes/items", params={"filter": "capacity > 1", "filter-crs": f"{EPSG}2000"})
    assert r.status_code == 422 and "filter-crs" in r.json()["detail"] and "not offered" in r.json()["detail"]
    r = http().get("/collections/boxes/items", params={"filter": "capacity > 1", "filter-lang": "cql2-text"})
    assert r.status_code == 200
    assert http(None).get("/collections/boxes/items", params={"filter": "capacity > 1"}).status_code == 401


def test_conformance_declares_the_filter_classes_and_queryables_their_roles(http):
    conf = set(http("analyst").get("/conformance").json()["conformsTo"])
    for uri in ("ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/features-filter",
                "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/basic-cql2", "cql2/1.0/conf/advanced-comparison-operators",
                "cql2/1.0/conf/basic-spatial-functions", "cql2/1.0/conf/spatial-functions",
                "cql2/1.0/conf/temporal-functions", "cql2/1.0/conf/property-property",
                "cql2/1.0/conf/case-insensitive-comparison"):
        assert f"http://www.opengis.net/spec/{uri}" in conf
    q = http().get("/collections/fault_tickets/queryables").json()
    assert q["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    assert q["properties"]["reported_at"] == {"title": "reported_at", "type": "string", "format": "date-time",
                                              "x-ogc-role": "primary-instant"}
    assert q["additionalProperties"] is False


def test_casei_compares_without_case(http, layers):
    d = layers["boxes"]
    assert _ids(http(), "boxes", "CASEI(id) LIKE CASEI('sm-bx-0001%')") == _expect(d[d.id.str.startswith("SM-BX-0001")])


TOKENS = ["capacity", "used", "id", "office_id", "year_installed", "geometry", "colour", "=", "<>", "<", ">=", "+",
          "-", "*", "/", "0", "1", "-7", "2.5", "1e308", "99999999999999999999", "'SM-BX-0001'", "'%'", "'a''b'",
          "'\\'", "AND", "OR", "NOT", "(", ")", ",", "IN", "BETWEEN", "LIKE", "IS", "NULL", "TRUE",
          "CASEI(id)", "S_INTERSECTS", "S_WITHIN", "S_DISJOINT", "T_AFTER", "POINT(112.97 28.2)",
          "POLYGON((112.9 28.1, 113 28.1, 113 28.3, 112.9 28.1))", "BBOX(112.9, 28.1, 113, 28.3)",
          "TIMESTAMP('2026-01-01T00:00:00Z')", "DATE('2026-01-01')", "INTERVAL('2026-01-01T00:00:00Z','2026-02-01T00:00:00Z')"]


def test_any_filter_compiles_and_runs_or_is_an_input_error(engine, loaded_demo):
    """Whatever a client sends, the answer is rows or a PianquError (a 4xx), never a database error (a 500)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gis import cql, features
    from gis.errors import InputError
    boxes = features.collection("boxes")
    phrases = st.one_of(
        st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map(" ".join),
        st.tuples(st.sampled_from(["capacity", "used", "(used * 2)", "(capacity / used)", "(capacity - 1e300)"]),
                  st.sampled_from(["=", "<", ">="]), st.sampled_from(["0", "1.5", "-3", "1e308", "99999999999999999999999"])
                  ).map(" ".join),
        st.tuples(st.sampled_from(["'a'", "1", "2.5", "TRUE", "DATE('2026-01-01')", "POINT(1 1)", "CASEI('a')"]),
                  st.sampled_from(["IS NULL", "IS NOT NULL", "= 'a'", "IN ('a', 'b')", "<> 1", "LIKE 'a'"])).map(" ".join),
        st.text(max_size=40))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(phrases, min_size=1, max_size=3).map(" AND ".join))
    def check(text):
        try:
            flt = cql.compile(text, boxes, srids=(4326, 3857, 32649))
        except InputError:
            return
        with engine.connect() as conn:
            features.items(conn, boxes, features.Query(cql=flt, limit=5))
    check()
    for text in ("'a' IS NULL", "CASEI('a') = 'a'", "1 IN (1, 2.5)", "POINT(1 1) IS NULL", "INCLUDE", "EXCLUDE"):
        with engine.connect() as conn:   # literal against literal: every parameter has a type
            features.items(conn, boxes, features.Query(cql=cql.compile(text, boxes), limit=1))
