"""What a manager's outreach visits are drawn from, in the districts he holds: subscribers whose
broadband contract ends soon, subscribers connected lately, and the sites of open opportunity
alerts (new buildings, full boxes, areas outside coverage)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

# A subscriber is in a district through his box (or, of a split box, his distribution box).
_IN_DISTRICTS = ("JOIN district_members m ON m.box_id = s.box_id AND (m.dp_id IS NULL OR m.dp_id = s.dp_id) "
                 "AND m.district_id = ANY(:d)")
_COLUMNS = ("s.id, s.address, s.box_id, s.dp_id, m.district_id, s.broadband, s.iptv, s.voice, s.monthly_revenue, "
            "s.connected_since, s.contract_ends, ST_X(s.geometry) AS lon, ST_Y(s.geometry) AS lat")


def _listed(conn: Connection, districts: list[str], where: str, order: str, p: dict) -> tuple[int, list[dict]]:
    base = f"FROM subscribers s {_IN_DISTRICTS} WHERE {where}"
    p = {**p, "d": districts}
    n = conn.execute(text(f"SELECT count(*) {base}"), p).scalar()
    return n, [dict(r) for r in conn.execute(text(f"SELECT {_COLUMNS} {base} ORDER BY {order} LIMIT :n"), p).mappings()]


def contracts_ending(conn: Connection, districts: list[str], first: dt.date, last: dt.date, limit: int) -> tuple[int, list[dict]]:
    """Broadband subscribers whose contract ends in [first, last], soonest first; and how many."""
    return _listed(conn, districts, "s.broadband AND s.contract_ends BETWEEN :a AND :b", "s.contract_ends, s.id",
                   {"a": first, "b": last, "n": limit})


def connected_lately(conn: Connection, districts: list[str], first: dt.date, last: dt.date, limit: int) -> tuple[int, list[dict]]:
    """Subscribers connected in [first, last], newest first; and how many."""
    return _listed(conn, districts, "s.connected_since BETWEEN :a AND :b", "s.connected_since DESC, s.id",
                   {"a": first, "b": last, "n": limit})


def open_alert_sites(conn: Connection, districts: list[str], limit: int) -> list[dict]:
    """Open opportunity alerts on the districts' boxes, best first, with their place."""
    return [dict(r) for r in conn.execute(text("""
        SELECT a.id, a.kind, a.status, a.box_id, a.report_id, a.score, a.expected_lines, a.reason,
               ST_X(ST_PointOnSurface(a.geometry)) AS lon, ST_Y(ST_PointOnSurface(a.geometry)) AS lat
        FROM alerts a
        WHERE a.status IN ('new', 'acknowledged', 'planned')
          AND a.box_id IN (SELECT box_id FROM district_members WHERE district_id = ANY(:d))
        ORDER BY a.score DESC NULLS LAST, a.id LIMIT :n"""), {"d": districts, "n": limit}).mappings()]
