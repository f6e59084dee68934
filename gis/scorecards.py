"""What a month's scorecards read from the store (planning.scorecard): the tickets reported in the
month with their clocks and who handled them, the call-backs, the faults of the 30 days before,
the inspections done and due, the subscribers connected, and the piece rates."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from .frames import frame
from .holding import in_force

# Who handled a ticket: whoever held it when it was (last) cleared, else whoever holds it now.
_TICKETS = """
    SELECT t.id, t.kind, t.vip, t.status, t.subscriber_id, t.reported_at, t.first_contact_at, t.cleared_at,
           t.contact_due, t.clear_due, t.contact_breached_at, t.clear_breached_at, t.steps, t.community_id, c.parent_id AS office_id,
           coalesce((SELECT e.manager_id FROM ticket_events e WHERE e.ticket_id = t.id AND e.action = 'clear'
                     ORDER BY e.seq DESC LIMIT 1), t.manager_id) AS manager_id,
           (SELECT e.details FROM ticket_events e WHERE e.ticket_id = t.id AND e.action = 'verify'
             ORDER BY e.seq DESC LIMIT 1) AS callback
    FROM fault_tickets t LEFT JOIN admin_areas c ON c.id = t.community_id
    WHERE t.city_id = %(c)s AND t.reported_at >= %(a)s AND t.reported_at < %(b)s AND t.steps > 0"""


def tickets(conn: Connection, city: str, start, end) -> pd.DataFrame:
    df = frame(conn, _TICKETS + " ORDER BY t.reported_at, t.id", {"c": city, "a": start, "b": end})
    cb = df.pop("callback") if len(df) else pd.Series([], dtype=object)
    reached = [isinstance(d, dict) and bool(d.get("reached")) for d in cb]
    df["satisfaction"] = [d.get("satisfaction") if r else None for d, r in zip(cb, reached)]
    df["checks"] = [d.get("checks") if r else None for d, r in zip(cb, reached)]
    df["satisfaction"] = pd.to_numeric(df["satisfaction"], errors="coerce")
    for c in ("reported_at", "first_contact_at", "cleared_at", "contact_due", "clear_due", "contact_breached_at",
              "clear_breached_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def faults_before(conn: Connection, city: str, start) -> pd.DataFrame:
    df = frame(conn, "SELECT t.id, t.kind, t.subscriber_id, t.reported_at FROM fault_tickets t WHERE t.city_id = %(c)s "
                     "AND t.kind = 'fault' AND t.reported_at >= %(a)s AND t.reported_at < %(b)s",
               {"c": city, "a": start - pd.Timedelta(days=30), "b": start})
    df["reported_at"] = pd.to_datetime(df["reported_at"], utc=True)
    return df


def inspections(conn: Connection, city: str, start, end) -> pd.DataFrame:
    return frame(conn, """
        SELECT i.manager_id, m.community_id, c.parent_id AS office_id, i.result
        FROM inspections i LEFT JOIN managers m ON m.id = i.manager_id LEFT JOIN admin_areas c ON c.id = m.community_id
        WHERE i.city_id = %(c)s AND i.at >= %(a)s AND i.at < %(b)s""", {"c": city, "a": start, "b": end})


def holdings(conn: Connection, city: str, at) -> pd.DataFrame:
    """Each manager holding a district of the active plan at `at`, with its boxes and
    distribution boxes to inspect (each at least once a month) and his community and office."""
    return frame(conn, f"""
        SELECT a.manager_id, m.community_id, c.parent_id AS office_id, a.district_id,
               (SELECT count(DISTINCT x.box_id) FROM district_members x WHERE x.district_id = a.district_id)
             + (SELECT count(*) FROM district_members x JOIN distribution_points d ON d.box_id = x.box_id
                 AND (x.dp_id IS NULL OR x.dp_id = d.id) WHERE x.district_id = a.district_id) AS objects
        FROM district_assignments a JOIN districts dd ON dd.id = a.district_id
        JOIN district_plans p ON p.id = dd.plan_id AND p.status = 'active' AND p.city_id = %(c)s
        JOIN managers m ON m.id = a.manager_id LEFT JOIN admin_areas c ON c.id = m.community_id
        WHERE {in_force("%(t)s")}""", {"c": city, "t": at})


def connected(conn: Connection, city: str, first, last, at) -> pd.DataFrame:
    """Subscribers connected in [first, last] with the manager of their district at `at`."""
    return frame(conn, f"""
        SELECT s.id, s.monthly_revenue, a.manager_id, mg.community_id, c.parent_id AS office_id
        FROM subscribers s
        JOIN district_plans p ON p.city_id = s.city_id AND p.status = 'active'
        JOIN district_members x ON x.plan_id = p.id AND x.box_id = s.box_id AND (x.dp_id IS NULL OR x.dp_id = s.dp_id)
        LEFT JOIN district_assignments a ON a.district_id = x.district_id AND {in_force("%(t)s")}
        LEFT JOIN managers mg ON mg.id = a.manager_id LEFT JOIN admin_areas c ON c.id = mg.community_id
        WHERE s.city_id = %(c)s AND s.connected_since BETWEEN %(a)s AND %(b)s""",
                 {"c": city, "a": first, "b": last, "t": at})


def rates(conn: Connection) -> dict:
    return dict(conn.execute(text("SELECT work, points FROM piece_rates")).all())
