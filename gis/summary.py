"""A city's network at a glance, computed where the data is (one SQL round trip per figure)."""
from __future__ import annotations

from sqlalchemy import Connection, text

from .store import counts
from .tickets import city_timezone

_ON_TIME = ("SELECT round(100.0 * avg(({breach} IS NULL)::int), 1) || ' %' FROM fault_tickets "
            "WHERE city_id = :c AND kind = 'fault' AND steps > 0 AND ({stop} IS NOT NULL OR {breach} IS NOT NULL)")
_FIGURES = {
    "subscribers": "SELECT to_char(count(*), 'FM999,999,999') FROM subscribers WHERE city_id = :c",
    "boxes (mean utilisation)":
        "SELECT to_char(count(*), 'FM999,999') || ' (' || round(100 * avg(used::float / capacity)::numeric, 1) || ' %)' "
        "FROM boxes WHERE city_id = :c",
    "boxes above 85 % utilisation":
        "SELECT to_char(count(*) FILTER (WHERE used > 0.85 * capacity), 'FM999,999') FROM boxes WHERE city_id = :c",
    "cable km (trunk / distribution / drop)":
        "SELECT string_agg(round(km)::text, ' / ' ORDER BY k) FROM ("
        " SELECT CASE kind WHEN 'trunk' THEN 1 WHEN 'distribution' THEN 2 ELSE 3 END AS k,"
        "  sum(ST_Length(geometry::geography)) / 1000 AS km FROM cables WHERE city_id = :c GROUP BY kind) s",
    "fault tickets (from - to)":
        "SELECT to_char(count(*), 'FM999,999,999') || ' (' || (min(reported_at) AT TIME ZONE :tz)::date || ' - ' "
        "|| (max(reported_at) AT TIME ZONE :tz)::date || ')' FROM fault_tickets WHERE city_id = :c AND kind = 'fault'",
    "faults per 100 lines per month (last 12 months)":
        "SELECT round((100.0 * count(*) / 12 / NULLIF((SELECT count(*) FROM subscribers WHERE city_id = :c), 0))::numeric, 2) "
        "FROM fault_tickets WHERE city_id = :c AND kind = 'fault' AND reported_at > "
        "(SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c AND kind = 'fault') - interval '12 months'",
    # On time by each ticket's own clock, as its log stamped it (planning.workorders.clocks): of
    # the tickets judged (stopped, or breached), those never breached. The KPIs count the same.
    "contact on time (20-minute clock)": _ON_TIME.format(stop="first_contact_at", breach="contact_breached_at"),
    "cleared on time (24-hour clock, VIP 3 h)": _ON_TIME.format(stop="cleared_at", breach="clear_breached_at"),
    "construction reports (households expected)":
        "SELECT count(*) || ' (' || coalesce(sum(households), 0) || ')' FROM construction_reports WHERE city_id = :c",
}


def network_summary(conn: Connection, city: str) -> dict:
    """Counts and figures of a city; dates are its local days (`cities.timezone`)."""
    name, crs = conn.execute(text("SELECT name, metric_crs FROM cities WHERE id = :c"), {"c": city}).one()
    tz = city_timezone(conn, city)
    figures = {k: str(conn.execute(text(q), {"c": city, "tz": tz}).scalar() or "-") for k, q in _FIGURES.items()}
    return {"city": city, "name": name, "metric_crs": crs, "timezone": tz, "counts": counts(conn, city),
            "figures": figures}
