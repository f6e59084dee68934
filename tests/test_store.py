"""The spatial model in PostGIS: round trips, constraints the database enforces, migrations."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import shapely
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from gis import db, store
from gis.errors import InputError
from gis.models import Base

from networks import tiny_network


def test_round_trip_keeps_every_layer_value(engine, tmp_city):
    layers = tiny_network(tmp_city)
    with engine.begin() as tx:
        counts = store.bulk_load(tx, layers)
    assert counts == {k: len(v) for k, v in layers.items() if k in counts} and len(counts) == len(layers)
    with engine.connect() as conn:
        for name, sent in layers.items():
            got = store.read_layer(conn, name, tmp_city).set_index("id").sort_index()
            sent = sent.set_index("id").sort_index()
            assert list(got.index) == list(sent.index), name
            assert got.crs.to_epsg() == 4326
            assert np.allclose(shapely.get_coordinates(got.geometry.to_numpy()),
                               shapely.get_coordinates(sent.geometry.to_numpy()), atol=1e-9), name
            for col in sent.columns.drop("geometry"):
                a, b = got[col], sent[col]
                if pd.api.types.is_datetime64_any_dtype(b):
                    b = pd.to_datetime(b, utc=isinstance(b.dtype, pd.DatetimeTZDtype))
                    a = pd.to_datetime(a, utc=isinstance(b.dtype, pd.DatetimeTZDtype))
                assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b], (name, col)


def _insert_box(conn, city, box_id, capacity, used, office=None):
    conn.execute(text(
        "INSERT INTO boxes (id, city_id, office_id, capacity, used, year_installed, geometry) "
        "VALUES (:id, :c, :o, :cap, :u, 2010, ST_SetSRID(ST_MakePoint(113, 28.2), 4326))"),
        {"id": box_id, "c": city, "o": office or f"{city}-O1", "cap": capacity, "u": used})


@pytest.fixture
def loaded(engine, tmp_city):
    with engine.begin() as tx:
        store.bulk_load(tx, tiny_network(tmp_city))
    return tmp_city


@pytest.mark.parametrize("capacity, used", [(100, 101), (0, 0), (100, -1)])
def test_database_rejects_box_capacity_violations(engine, loaded, capacity, used):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert_box(conn, loaded, f"{loaded}-BX", capacity, used)


def test_database_rejects_box_of_unknown_office(engine, loaded):
    with pytest.raises(IntegrityError, match="office_id"), engine.begin() as conn:
        _insert_box(conn, loaded, f"{loaded}-BX", 100, 10, office="nowhere")


def test_subscriber_box_must_be_its_distribution_points_box(engine, loaded):
    c = loaded
    with pytest.raises(IntegrityError, match="fk_subscribers_dp_box"), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO subscribers (id, city_id, dp_id, box_id, geometry) VALUES "
            "(:id, :c, :dp, :box, ST_SetSRID(ST_MakePoint(113, 28.2), 4326))"),
            {"id": f"{c}-SX", "c": c, "dp": f"{c}-D1", "box": f"{c}-B2"})  # D1 hangs off B1


@pytest.mark.parametrize("targets, reported, cleared, fragment", [
    ((None, None), "2026-10-01 10:00+08", None, "has_target"),
    (("S1", None), "2026-10-01 10:00+08", "2026-10-01 09:00+08", "cleared_after_report"),
])
def test_database_rejects_impossible_fault_tickets(engine, loaded, targets, reported, cleared, fragment):
    c = loaded
    sub, box = (f"{c}-{t}" if t else None for t in targets)
    with pytest.raises(IntegrityError, match=fragment), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO fault_tickets (id, city_id, subscriber_id, box_id, cause, reported_at, cleared_at, geometry) "
            "VALUES (:id, :c, :s, :b, 'drop', :r, :cl, ST_SetSRID(ST_MakePoint(113, 28.2), 4326))"),
            {"id": f"{c}-FX", "c": c, "s": sub, "b": box, "r": reported, "cl": cleared})


def test_only_one_active_plan_per_city(engine, loaded):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id, status) VALUES (:p, :c, 'active')"),
                     {"p": f"{loaded}-P1", "c": loaded})
    with pytest.raises(IntegrityError, match="uq_district_plans_active"), engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id, status) VALUES (:p, :c, 'active')"),
                     {"p": f"{loaded}-P2", "c": loaded})


def test_a_district_has_one_manager_at_a_time_and_keeps_history(engine, loaded):
    c = loaded
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district_plans (id, city_id) VALUES (:p, :c)"), {"p": f"{c}-P", "c": c})
        conn.execute(text("INSERT INTO districts (id, plan_id, code) VALUES (:d, :p, 'D01')"),
                     {"d": f"{c}-D01", "p": f"{c}-P"})
        for m in ("M1", "M2"):
            conn.execute(text("INSERT INTO managers (id, city_id, name) VALUES (:m, :c, :m)"), {"m": f"{c}-{m}", "c": c})
        conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from, valid_to) "
                          "VALUES (:a, :d, :m, '2025-01-01', '2026-01-01')"),
                     {"a": f"{c}-A1", "d": f"{c}-D01", "m": f"{c}-M1"})
        # A successor from the day the first one ends: allowed, history kept.
        conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from) "
                          "VALUES (:a, :d, :m, '2026-01-01')"),
                     {"a": f"{c}-A2", "d": f"{c}-D01", "m": f"{c}-M2"})
    with pytest.raises(IntegrityError, match="ex_district_assignments_one_owner"), engine.begin() as conn:
        conn.execute(text("INSERT INTO district_assignments (id, district_id, manager_id, valid_from) "
                          "VALUES (:a, :d, :m, '2026-06-01')"),
                     {"a": f"{c}-A3", "d": f"{c}-D01", "m": f"{c}-M1"})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM district_assignments WHERE district_id = :d"),
                            {"d": f"{c}-D01"}).scalar() == 2


def test_bulk_load_with_dangling_reference_writes_nothing(engine, tmp_city):
    layers = tiny_network(tmp_city)
    layers["subscribers"].loc[0, "dp_id"] = "no-such-dp"
    with pytest.raises(InputError, match="no-such-dp|fk_subscribers"):
        with engine.begin() as tx:
            store.bulk_load(tx, layers)
    with engine.connect() as conn:
        assert store.counts(conn, tmp_city)["boxes"] == 0
        assert store.counts(conn, tmp_city)["offices"] == 0


def test_geometries_are_4326_with_spatial_indexes(engine):
    insp = inspect(engine)
    with engine.connect() as conn:
        srids = {(t, c): s for t, c, s in conn.execute(text(
            "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")).all()}
    spatial = [t for t in Base.metadata.tables.values() if "geometry" in t.columns]
    assert spatial and all(srids[t.name, "geometry"] == 4326 for t in spatial)
    for t in spatial:
        idx = [i for i in insp.get_indexes(t.name) if i["column_names"] == ["geometry"]]
        assert idx, f"{t.name} has no spatial index"
    # The Web Mercator copies the tiles are cut from (gis.models._mercator): 3857, indexed too.
    mercator = [t.name for t in spatial if "geometry_3857" in t.columns]
    assert {"subscribers", "cables"} <= set(mercator)
    for name in mercator:
        assert srids[name, "geometry_3857"] == 3857
        assert [i for i in insp.get_indexes(name) if i["column_names"] == ["geometry_3857"]], name


def test_the_mercator_copy_follows_every_write_and_stays_out_of_reads(engine, tmp_city):
    layers = tiny_network(tmp_city)
    with engine.begin() as tx:
        store.bulk_load(tx, layers)
    with engine.connect() as conn:
        off = conn.execute(text(
            "SELECT max(ST_Distance(ST_Transform(geometry, 3857), geometry_3857)) FROM subscribers "
            "WHERE city_id = :c"), {"c": tmp_city}).scalar()
        read = store.read_layer(conn, "subscribers", tmp_city)
    assert off is not None and off < 1e-6
    assert "geometry_3857" not in read.columns and read.geometry.name == "geometry"


def test_deleting_a_city_removes_its_network(engine, tmp_city):
    with engine.begin() as tx:
        store.bulk_load(tx, tiny_network(tmp_city))
    with engine.begin() as tx:
        store.delete_city(tx, tmp_city)
    with engine.connect() as conn:
        assert sum(store.counts(conn, tmp_city).values()) == 0


def test_migrations_go_down_and_up_and_match_the_models(db_url):
    with db.scratch_database("pianqu_mig", db_url) as url:
        db.upgrade(url)
        eng = create_engine(url)
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_object": alembic_helpers.include_object})
            diff = compare_metadata(ctx, Base.metadata)
            tables = set(inspect(conn).get_table_names())
        # GeoAlchemy2's spatial indexes are reported by name only; anything else is drift.
        assert [d for d in diff if not (d[0] in ("add_index", "remove_index") and "geometry" in str(d))] == []
        assert set(Base.metadata.tables) <= tables
        db.downgrade(url, "base")
        with eng.connect() as conn:
            left = set(inspect(conn).get_table_names()) & set(Base.metadata.tables)
        assert left == set()
        db.upgrade(url)
        with eng.connect() as conn:
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
        eng.dispose()


def test_a_store_write_outside_a_transaction_is_refused(engine, tmp_city):
    """Every store write runs in its caller's transaction: on a connection with none open it
    would write rows its close rolls back without a word, so it is refused before it writes."""
    with engine.connect() as conn:
        with pytest.raises(RuntimeError, match="needs a transaction"):
            store.bulk_load(conn, tiny_network(tmp_city))
        with pytest.raises(RuntimeError, match="needs a transaction"):
            store.delete_city(conn, tmp_city)
