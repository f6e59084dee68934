"""Fault tickets read from the store with their box, cable and district context."""
from __future__ import annotations

import pandas as pd
import pytest

from gis import tickets
from gis.errors import InputError


def test_tickets_in_a_window_carry_their_box_office_and_community(engine, loaded_demo, small_demo):
    with engine.connect() as conn:
        t = tickets.tickets(conn, loaded_demo, "2025-01-01", "2025-04-01")
        ctx = tickets.box_context(conn, loaded_demo)
        subs = tickets.lines(conn, loaded_demo)
    raw = small_demo.layers["fault_tickets"]
    local = pd.to_datetime(raw["reported_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    want = ((local >= pd.Timestamp("2025-01-01", tz="Asia/Shanghai"))
            & (local < pd.Timestamp("2025-04-01", tz="Asia/Shanghai"))).sum()
    assert len(t) == want > 0
    assert t["box_id"].notna().mean() > 0.99 and t["office_id"].notna().mean() > 0.99
    assert t["community_id"].notna().mean() > 0.99
    assert t.geometry.notna().all() and t.crs.to_epsg() == 4326
    assert set(t["cable_kind"].dropna()) <= {"trunk", "distribution", "drop"}
    assert ctx["lines"].sum() == len(subs) == len(small_demo.layers["subscribers"])


def test_an_empty_window_is_refused(engine, loaded_demo):
    with engine.connect() as conn:
        with pytest.raises(InputError, match="the window is empty"):
            tickets.tickets(conn, loaded_demo, "2025-04-01", "2025-01-01")


def test_the_ticket_range_and_lines_are_the_citys_local_days(engine, loaded_demo, small_demo):
    import datetime as dt
    with engine.connect() as conn:
        assert tickets.city_timezone(conn, loaded_demo) == "Asia/Shanghai"
        assert tickets.ticket_range(conn, loaded_demo) == (dt.date(2024, 11, 1), dt.date(2026, 10, 31))
        subs = tickets.lines(conn, loaded_demo)
    want = pd.to_datetime(small_demo.layers["subscribers"].set_index("id")["connected_since"])
    assert (subs.set_index("id")["connected_since"] == want.reindex(subs["id"])).all()


def test_a_line_of_a_split_box_takes_its_dps_district():
    ctx = pd.DataFrame({"box_id": ["B1", "B2", "B2"], "dp_id": [None, "D1", "D2"], "office_id": "O1",
                        "community_id": "C1", "district": ["A", "A", "B"], "manager_id": ["m1", "m1", "m2"],
                        "lines": [1, 2, 2]})
    rows = pd.DataFrame({"box_id": ["B1", "B2", "B2"], "dp_id": ["D9", "D1", "D2"]})
    got = tickets.with_context(rows, ctx)
    assert list(got["district"]) == ["A", "A", "B"] and list(got["manager_id"]) == ["m1", "m1", "m2"]
    assert (got["office_id"] == "O1").all()
