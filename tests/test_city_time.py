"""A city lives in its own time: windows, months, summaries and imported cities follow
`cities.timezone`, not UTC."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from api.services.faults import scorecard
from gis import store
from gis import tickets as store_tickets
from gis.errors import InputError
from gis.summary import network_summary
from gis.transfer import import_file
from planning.kpi import TOTAL, kpis

from networks import tiny_network

def city_on(engine, city, tz, local_time):
    """The tiny network in a city on `tz`'s time, its first ticket at `local_time` there and
    its second in September."""
    layers = tiny_network(city)
    at = pd.Timestamp(local_time, tz=tz)
    layers["fault_tickets"].loc[0, ["reported_at", "first_contact_at", "cleared_at"]] = [
        at, at + pd.Timedelta(minutes=10), at + pd.Timedelta(hours=3)]
    layers["fault_tickets"].loc[1, "reported_at"] = pd.Timestamp("2026-09-15 10:00", tz=tz)   # out of the way
    with engine.begin() as conn:
        conn.execute(text("UPDATE cities SET timezone = :tz WHERE id = :c"), {"c": city, "tz": tz})
    with engine.begin() as tx:
        store.bulk_load(tx, layers)
    return city


@pytest.fixture
def changsha(engine, tmp_city):
    return city_on(engine, tmp_city, "Asia/Shanghai", "2026-11-01 07:00")   # 2026-10-31 23:00 UTC


@pytest.mark.parametrize("tz, local_time, month, day", [
    ("Asia/Shanghai", "2026-11-01 07:00", "2026-11", "2026-11-01"),      # still October in UTC
    ("America/New_York", "2026-10-31 20:00", "2026-10", "2026-10-31"),   # November in UTC and in Changsha
])
def test_a_ticket_counts_in_its_citys_local_month_and_day(engine, tmp_city, tz, local_time, month, day):
    city = city_on(engine, tmp_city, tz, local_time)
    k = scorecard(engine, city, "office", month)
    assert list(k["office_id"]) == [f"{city}-O1", TOTAL]
    assert (k["tickets"] == 1).all() and (k["lines"] == 5).all() and k["fault_rate"].iat[0] == pytest.approx(20.0)
    assert k["repair_24h"].iat[0] == 1.0 and k["contact_20min"].iat[0] == 1.0
    with engine.connect() as conn:
        assert store_tickets.city_timezone(conn, city) == tz
        d = pd.Timestamp(day)
        got = store_tickets.tickets(conn, city, d.date(), (d + pd.Timedelta(days=1)).date())   # local days
        assert list(got["id"]) == [f"{city}-F1"]
        assert len(store_tickets.tickets(conn, city, (d - pd.Timedelta(days=1)).date(), d.date())) == 0


def test_seven_on_the_first_in_changsha_is_the_month_before_in_utc(engine, changsha):
    with engine.connect() as conn:
        t = store_tickets.tickets(conn, changsha, "2026-11-01", "2026-11-02")
    assert str(kpis(t, pd.Series({f"{changsha}-O1": 5}), by="office_id", tz="Asia/Shanghai")["month"].iat[0]) == "2026-11"
    assert str(kpis(t, pd.Series({f"{changsha}-O1": 5}), by="office_id", tz="UTC")["month"].iat[0]) == "2026-10"


def test_an_unknown_stored_time_zone_is_refused_naming_the_city(engine, changsha):
    with engine.begin() as conn:
        conn.execute(text("UPDATE cities SET timezone = 'Mars/Olympus' WHERE id = :c"), {"c": changsha})
    with pytest.raises(InputError, match=f"city '{changsha}' has an unknown time zone 'Mars/Olympus'"):
        scorecard(engine, changsha, "office", None)


def test_the_summary_gives_the_small_demos_ticket_range_in_local_days(engine, loaded_demo):
    with engine.connect() as conn:
        s = network_summary(conn, loaded_demo)
    assert s["timezone"] == "Asia/Shanghai"
    assert s["figures"]["fault tickets (from - to)"].endswith("(2024-11-01 - 2026-10-31)")


def test_monthly_kpis_of_the_demo_bucket_by_local_month(engine, loaded_demo, small_demo):
    k = scorecard(engine, loaded_demo, "office", None)
    city = k[k["office_id"] == TOTAL].set_index("month")["tickets"]
    local = pd.to_datetime(small_demo.layers["fault_tickets"]["reported_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    want = local.dt.tz_localize(None).dt.to_period("M").value_counts().sort_index()
    assert str(city.index.min()) == "2024-11" and str(city.index.max()) == "2026-10"
    assert city.to_dict() == want.to_dict()


def _city_file(tmp_path, name, lon, lat, **cols):
    outline = shapely.MultiPolygon([shapely.box(lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2)])
    path = tmp_path / f"{name}.gpkg"
    gpd.GeoDataFrame({"id": [name], "name": [name], **cols}, geometry=[outline], crs=4326).to_file(path)
    return path


def _timezone(engine, city):
    with engine.connect() as conn:
        return conn.execute(text("SELECT timezone FROM cities WHERE id = :c"), {"c": city}).scalar()


def test_a_city_imported_without_a_time_zone_gets_its_outlines(engine, tmp_path):
    cities = {"tz-changsha": (112.94, 28.23, "Asia/Shanghai"), "tz-berlin": (13.40, 52.52, "Europe/Berlin")}
    try:
        for city, (lon, lat, _) in cities.items():
            with engine.begin() as tx:
                import_file(tx, "cities", _city_file(tmp_path, city, lon, lat))
        assert {c: _timezone(engine, c) for c in cities} == {c: v[2] for c, v in cities.items()}
        with engine.begin() as tx:
            import_file(tx, "cities", _city_file(tmp_path, "tz-berlin", 13.40, 52.52, timezone=["Europe/Paris"]))
        assert _timezone(engine, "tz-berlin") == "Europe/Paris"        # a given zone is kept
    finally:
        for city in cities:
            with engine.begin() as tx:
                store.delete_city(tx, city)


def test_an_unknown_time_zone_name_is_a_row_named_error_and_nothing_is_written(engine, tmp_path):
    path = _city_file(tmp_path, "tz-nowhere", 112.94, 28.23, timezone=["Asia/Changsha"])
    with pytest.raises(InputError, match=r"tz-nowhere.gpkg row 1 \(id tz-nowhere\): timezone 'Asia/Changsha' is not "
                                         "a known IANA time zone"):
        with engine.begin() as tx:
            import_file(tx, "cities", path)
    with engine.connect() as conn:
        assert "tz-nowhere" not in store.city_ids(conn)
