"""Who owns which district, when, in the store: the active plan's districts with their current
manager, an assignment (closing the one it replaces), and the pairs a matching looks at.

`district_assignments` keeps the history: an assignment is never overwritten, only ended
(`valid_to`), and the exclusion constraint guarantees one manager per district at a time.
"""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from . import tiles
from .errors import Conflict, InputError, NotFound
from .holding import in_force
from .tickets import BOX_OF_TICKET, DP_OF_TICKET


def active_plan(conn: Connection, city: str) -> str:
    plan = conn.execute(text("SELECT id FROM district_plans WHERE city_id = :c AND status = 'active'"),
                        {"c": city}).scalar()
    if plan is None:
        raise NotFound(f"city {city!r} has no active district plan yet")
    return plan


def plan_of_city(conn: Connection, city: str, plan: str | None) -> str:
    """The plan named (it must be the city's), or the city's active plan."""
    if plan is None:
        return active_plan(conn, city)
    owner = conn.execute(text("SELECT city_id FROM district_plans WHERE id = :p"), {"p": plan}).scalar()
    if owner != city:
        raise NotFound(f"plan {plan!r} is not a plan of city {city!r}")
    return plan


def districts(conn: Connection, plan: str, at: dt.datetime | None = None) -> pd.DataFrame:
    """Every district of a plan with its figures and the manager who owns it at `at` (now)."""
    res = conn.execute(text(f"""
        SELECT d.code, d.id AS district_id, d.subscribers, d.workload,
               (d.totals->>'deviation')::float AS deviation, a.manager_id, m.name AS manager_name,
               a.valid_from, a.valid_to
        FROM districts d
        LEFT JOIN district_assignments a ON a.district_id = d.id AND {in_force(":at")}
        LEFT JOIN managers m ON m.id = a.manager_id
        WHERE d.plan_id = :p ORDER BY d.code"""), {"p": plan, "at": at or dt.datetime.now(dt.timezone.utc)})
    return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def district_id(conn: Connection, plan: str, code: str) -> str:
    did = conn.execute(text("SELECT id FROM districts WHERE plan_id = :p AND code = :c"),
                       {"p": plan, "c": code}).scalar()
    if did is None:
        raise NotFound(f"district {code!r} is not in plan {plan!r}")
    return did


def manager_of_city(conn: Connection, city: str, manager_id: str):
    row = conn.execute(text("SELECT id, city_id FROM managers WHERE id = :m"), {"m": manager_id}).first()
    if row is None or row.city_id != city:
        raise NotFound(f"manager {manager_id!r} is not a manager of city {city!r}")
    return row


def manager(conn: Connection, manager_id: str):
    row = conn.execute(text("SELECT id, name, phone, active, city_id, community_id FROM managers WHERE id = :m"),
                       {"m": manager_id}).first()
    if row is None:
        raise NotFound(f"manager {manager_id!r} does not exist")
    return row


def district_row(conn: Connection, district: str, lock: bool = False):
    row = conn.execute(text(
        "SELECT d.id, d.code, d.plan_id, p.city_id, p.status, d.subscribers, d.workload, "
        "(d.totals->>'deviation')::float AS deviation, (d.totals->>'revenue')::float AS revenue "
        "FROM districts d JOIN district_plans p ON p.id = d.plan_id WHERE d.id = :d"
        + (" FOR UPDATE OF d" if lock else "")), {"d": district}).first()
    if row is None:
        raise NotFound(f"district {district!r} does not exist")
    return row


def district_boxes(conn: Connection, district: str) -> list[dict]:
    """The boxes (or, of a split box, the distribution points) of a district, with their lines."""
    return [dict(r) for r in conn.execute(text(
        "SELECT m.box_id, m.dp_id, (SELECT count(*) FROM subscribers s WHERE s.box_id = m.box_id "
        "AND (m.dp_id IS NULL OR s.dp_id = m.dp_id)) AS subscribers FROM district_members m "
        "WHERE m.district_id = :d ORDER BY m.box_id, m.dp_id"), {"d": district}).mappings()]


def district_alerts(conn: Connection, district: str) -> list[dict]:
    """Open alerts on the district's boxes."""
    return [dict(r) for r in conn.execute(text(
        "SELECT a.id, a.kind, a.status, a.box_id, a.score FROM alerts a WHERE a.status IN "
        "('new', 'acknowledged', 'planned') AND a.box_id IN (SELECT box_id FROM district_members "
        "WHERE district_id = :d) ORDER BY a.score DESC NULLS LAST, a.id"), {"d": district}).mappings()]


def assign(conn: Connection, district: str, manager_id: str, start: dt.datetime, until: dt.datetime | None,
           by: str | None, note: str | None) -> dict:
    """Give a district its manager from `start`: the owner at that moment (if any, open-ended
    or ending later) is ended at `start`; an owner already set for a later period is a conflict."""
    ended = conn.execute(text(
        "UPDATE district_assignments SET valid_to = :s WHERE district_id = :d AND valid_from < :s "
        "AND (valid_to IS NULL OR valid_to > :s) RETURNING id, manager_id"), {"d": district, "s": start}).all()
    aid = f"AS-{secrets.token_hex(6)}"
    try:
        with conn.begin_nested():
            conn.execute(text(
                "INSERT INTO district_assignments (id, district_id, manager_id, valid_from, valid_to, assigned_by, "
                "note) VALUES (:id, :d, :m, :s, :u, :by, :note)"),
                {"id": aid, "d": district, "m": manager_id, "s": start, "u": until, "by": by, "note": note})
    except IntegrityError:
        later = conn.execute(text(
            "SELECT manager_id, valid_from FROM district_assignments WHERE district_id = :d AND valid_from >= :s "
            "ORDER BY valid_from LIMIT 1"), {"d": district, "s": start}).first()
        when = f" from {later.valid_from:%Y-%m-%d %H:%M %Z}" if later else ""
        raise Conflict(f"district {district!r} already has manager {later.manager_id if later else '?'!r}{when}; "
                       "end or change that assignment first") from None
    # The district's tiles show its manager: those of this plan go, in this transaction.
    g, plan = conn.execute(text("SELECT ST_AsBinary(geometry), plan_id FROM districts WHERE id = :d"),
                           {"d": district}).one()
    tiles.forget(conn, "districts", [bytes(g)] if g is not None else None, plan=plan)
    return {"assignment": aid, "district": district, "manager": manager_id, "valid_from": start,
            "valid_to": until, "ended": [{"assignment": e.id, "manager": e.manager_id} for e in ended]}


def matching_pairs(conn: Connection, plan: str, city: str) -> pd.DataFrame:
    """Every (district, active manager) pair with the distance from the manager's base to the
    district and whether the manager's community overlaps it: what an automatic matching weighs."""
    res = conn.execute(text("""
        SELECT d.id AS district_id, d.code, m.id AS manager_id,
               ST_Distance(ST_PointOnSurface(d.geometry)::geography, m.geometry::geography) AS distance_m,
               coalesce(ST_Intersects(c.geometry, d.geometry), false) AS same_community
        FROM districts d CROSS JOIN managers m
        LEFT JOIN admin_areas c ON c.id = m.community_id
        WHERE d.plan_id = :p AND m.city_id = :c AND m.active AND m.geometry IS NOT NULL
        ORDER BY d.code, m.id"""), {"p": plan, "c": city})
    return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def read_table(path: Path) -> pd.DataFrame:
    """A table without geometry (CSV, Parquet, or any GDAL format), every column as text."""
    import pyogrio
    if not path.exists():
        raise InputError("file not found", source=str(path))
    try:
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if suffix in (".parquet", ".geoparquet"):
            df = pd.read_parquet(path)
        else:
            df = pyogrio.read_dataframe(path, read_geometry=False)
    except Exception as e:  # pandas, Arrow and GDAL raise many types; all mean "cannot read this file"
        raise InputError(f"cannot read file: {e}", source=path.name) from None
    return pd.DataFrame(df.drop(columns=[c for c in ("geometry",) if c in df.columns])).astype("string")


def lock_district(conn: Connection, district: str):
    """The district's row, locked for the rest of the transaction (two reassignments queue)."""
    return district_row(conn, district, lock=True)


def history(conn: Connection, district: str) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT a.id, a.manager_id, m.name AS manager_name, a.valid_from, a.valid_to, a.assigned_by, a.note "
        "FROM district_assignments a JOIN managers m ON m.id = a.manager_id WHERE a.district_id = :d "
        "ORDER BY a.valid_from, a.id"), {"d": district}).mappings()]


def manager_load(conn: Connection, plan: str, manager_id: str, start: dt.datetime, until: dt.datetime | None,
                 other_than: str) -> int:
    """How many other districts of the plan the manager owns at some moment of [start, until)."""
    return int(conn.execute(text(
        "SELECT count(DISTINCT a.district_id) FROM district_assignments a JOIN districts d ON d.id = a.district_id "
        "WHERE d.plan_id = :p AND a.manager_id = :m AND a.district_id <> :d "
        "AND tstzrange(a.valid_from, a.valid_to) && tstzrange(:s, :u)"),
        {"p": plan, "m": manager_id, "d": other_than, "s": start, "u": until}).scalar())


def in_own_community(conn: Connection, district: str, manager_id: str) -> bool:
    return bool(conn.execute(text(
        "SELECT coalesce(ST_Intersects(c.geometry, d.geometry), false) FROM districts d, managers m "
        "LEFT JOIN admin_areas c ON c.id = m.community_id WHERE d.id = :d AND m.id = :m"),
        {"d": district, "m": manager_id}).scalar())


def district_figures(conn: Connection, plan: str, district: str | None = None) -> pd.DataFrame:
    """Per district of a plan: its boxes and open faults (tickets not cleared yet)."""
    # Open faults by the KPIs' rule of a ticket's box (gis.tickets.BOX_OF_TICKET), worked out for
    # the few open tickets first (MATERIALIZED): inlined, the planner joined every member with
    # every open ticket before testing the rule (250,000 rows, 60 ms on the city).
    res = conn.execute(text(f"""
        WITH members AS (
            SELECT m.district_id, m.box_id, m.dp_id FROM district_members m
            WHERE m.plan_id = :p AND (CAST(:d AS text) IS NULL OR m.district_id = :d)),
        open AS MATERIALIZED (
            SELECT {BOX_OF_TICKET} AS box_id, {DP_OF_TICKET} AS dp_id
            FROM fault_tickets t
            LEFT JOIN subscribers s ON s.id = t.subscriber_id
            LEFT JOIN distribution_points d ON d.id = t.dp_id
            WHERE t.city_id = (SELECT city_id FROM district_plans WHERE id = :p) AND t.cleared_at IS NULL
              AND t.kind = 'fault'),
        faults AS (
            SELECT m.district_id, count(*) AS open_faults FROM open o
            JOIN members m ON m.box_id = o.box_id AND (m.dp_id IS NULL OR m.dp_id = o.dp_id) GROUP BY 1)
        SELECT b.district_id, b.boxes, coalesce(f.open_faults, 0) AS open_faults
        FROM (SELECT district_id, count(DISTINCT box_id) AS boxes FROM members GROUP BY 1) b
        LEFT JOIN faults f USING (district_id)"""), {"p": plan, "d": district})
    return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def managers(conn: Connection, city: str) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT id, name, phone, community_id, active, ST_X(geometry) AS lon, ST_Y(geometry) AS lat "
        "FROM managers WHERE city_id = :c ORDER BY id"), {"c": city}).mappings()]


def manager_districts(conn: Connection, manager_id: str, at: dt.datetime | None = None) -> list[dict]:
    """The districts of an active plan the manager owns at `at` (now)."""
    return [dict(r) for r in conn.execute(text(
        "SELECT d.id, d.code, d.plan_id, d.subscribers, a.valid_from, a.valid_to FROM district_assignments a "
        "JOIN districts d ON d.id = a.district_id JOIN district_plans p ON p.id = d.plan_id AND p.status = 'active' "
        f"WHERE a.manager_id = :m AND {in_force(':t')} ORDER BY d.code"),
        {"m": manager_id, "t": at or dt.datetime.now(dt.timezone.utc)}).mappings()]
