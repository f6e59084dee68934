"""Work orders in the store: a ticket's row, its event log, and the row kept equal to the log
replayed (planning.workorders). Every write to a ticket happens under its row lock (`lock`), so
two clients acting on one ticket take turns; the log's key (ticket, seq) would refuse a second
"next step" even if they did not.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from sqlalchemy import Connection, text

from .errors import InputError, NotFound
from .holding import held_by, in_force

TICKET_FIELDS = ("id", "city_id", "kind", "category", "vip", "status", "paused", "subscriber_id", "box_id", "dp_id",
                 "cable_id", "district_id", "manager_id", "queue_id", "community_id", "first_responsible", "routing_reason",
                 "reported_at", "first_contact_at", "cleared_at", "contact_due", "clear_due", "contact_breached_at",
                 "clear_breached_at", "escalation", "cause", "severity", "note", "policy", "steps")
_SELECT = ", ".join(f"t.{c}" for c in TICKET_FIELDS) + ", ST_X(t.geometry) AS lon, ST_Y(t.geometry) AS lat"


# Policies change rarely and every intake reads one: each process keeps them this long.
POLICY_SECONDS = 10.0
_policies: dict = {}


def policy(conn: Connection, city: str, kind: str, vip: bool) -> dict:
    """policy_now(), kept for POLICY_SECONDS per process: a planner's change applies to the
    tickets made from then on, within that time."""
    import time
    key = (city, kind, vip)
    hit = _policies.get(key)
    if hit and time.monotonic() - hit[0] < POLICY_SECONDS:
        return dict(hit[1])
    got = policy_now(conn, city, kind, vip)
    _policies[key] = (time.monotonic(), got)
    return dict(got)


def policy_now(conn: Connection, city: str, kind: str, vip: bool) -> dict:
    """The clocks a new ticket of this kind and priority gets: seconds to contact and to clear,
    the working calendar (None: around the clock) and the city's time zone."""
    row = conn.execute(text(
        "SELECT p.contact_minutes, p.clear_minutes, p.calendar, c.timezone FROM ticket_policies p, cities c "
        "WHERE p.kind = :k AND p.priority = :p AND c.id = :c"), {"k": kind, "p": "vip" if vip else "normal",
                                                                 "c": city}).first()
    if row is None:
        raise NotFound(f"no clock policy for {kind} tickets ({'vip' if vip else 'normal'}) in city {city!r}")
    return {"contact_s": row.contact_minutes * 60, "clear_s": row.clear_minutes * 60, "calendar": row.calendar,
            "tz": row.timezone or "UTC"}


def insert(conn: Connection, t: dict, state, clocks: dict, events: list[dict]) -> str:
    """A new ticket (its id from the ticket sequence): its row, already equal to its first
    events replayed (`state`, `clocks`), and those events, in one statement."""
    c, k = clocks["contact"], clocks["clear"]
    log = [{"seq": i + 1, "at": e["at"].isoformat(), "action": e["action"], "actor": e["actor"],
            "status": e["status"], "manager_id": e["holder"],
            "details": {x: v for x, v in e.items() if x not in ("action", "at", "actor", "seq", "status", "holder")}}
           for i, e in enumerate(events)]
    return conn.execute(text("""
        WITH t AS (
            INSERT INTO fault_tickets (id, city_id, kind, category, vip, subscriber_id, box_id, dp_id, severity, note,
                                       reported_at, routing_reason, community_id, policy, geometry, status, manager_id,
                                       queue_id, district_id, first_responsible, contact_due, clear_due,
                                       contact_breached_at, clear_breached_at, escalation, steps)
            VALUES ('T' || lpad(nextval('ticket_number')::text, 8, '0'), :city_id, :kind, :category, :vip,
                    :subscriber_id, :box_id, :dp_id, :severity, :note, :reported_at, :routing_reason, :community_id,
                    CAST(:policy AS jsonb), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :status, :holder, :queue,
                    :district, :first, :contact_due, :clear_due, :cb, :kb, :level, :steps)
            RETURNING id),
        e AS (
            INSERT INTO ticket_events (ticket_id, seq, at, action, actor, status, manager_id, details)
            SELECT t.id, e.seq, e.at, e.action, e.actor, e.status, e.manager_id, e.details
            FROM t, jsonb_to_recordset(CAST(:log AS jsonb)) AS e(seq int, at timestamptz, action text, actor text,
                                                                  status text, manager_id text, details jsonb))
        SELECT id FROM t"""),
        {**t, "policy": json.dumps(t["policy"]), "status": state.status, "holder": state.holder, "queue": state.queue,
         "district": state.district, "first": state.first_responsible, "contact_due": c.due, "clear_due": k.due,
         "cb": c.breached_at, "kb": k.breached_at, "level": state.escalations[-1][1] if state.escalations else None,
         "steps": state.steps, "log": json.dumps(log, default=str)}).scalar_one()


def ticket(conn: Connection, ticket_id: str, lock: bool = False) -> dict:
    row = conn.execute(text(f"SELECT {_SELECT} FROM fault_tickets t WHERE t.id = :t"
                            + (" FOR UPDATE" if lock else "")), {"t": ticket_id}).mappings().first()
    if row is None:
        raise NotFound(f"ticket {ticket_id!r} does not exist")
    return dict(row)


def events(conn: Connection, ticket_id: str) -> list[dict]:
    """The ticket's history in order, each event as the lifecycle reads it (action, at, and its
    fields flattened) plus seq, actor and the holder after it."""
    out = []
    for r in conn.execute(text("SELECT seq, at, action, actor, status, manager_id, details FROM ticket_events "
                               "WHERE ticket_id = :t ORDER BY seq"), {"t": ticket_id}).mappings():
        out.append({**(r["details"] or {}), "seq": r["seq"], "at": r["at"], "action": r["action"],
                    "actor": r["actor"], "status": r["status"], "holder": r["manager_id"]})
    return out


def append(conn: Connection, ticket_id: str, seq: int, event: dict, status: str, holder: str | None) -> None:
    details = {k: v for k, v in event.items() if k not in ("action", "at", "actor", "seq", "status", "holder")}
    conn.execute(text("INSERT INTO ticket_events (ticket_id, seq, at, action, actor, status, manager_id, details) "
                      "VALUES (:t, :s, :at, :a, :who, :st, :m, CAST(:d AS jsonb))"),
                 {"t": ticket_id, "s": seq, "at": event["at"], "a": event["action"], "who": event["actor"],
                  "st": status, "m": holder, "d": json.dumps(details, default=str) if details else None})


def project(conn: Connection, ticket_id: str, state, clocks: dict) -> None:
    """The ticket's row made equal to its replayed state and clocks."""
    c, k = clocks["contact"], clocks["clear"]
    level = state.escalations[-1][1] if state.escalations else None
    conn.execute(text("""
        UPDATE fault_tickets SET status = :status, paused = :paused, manager_id = :holder, queue_id = :queue,
               district_id = :district, first_responsible = :first, first_contact_at = :contact_at,
               cleared_at = :cleared_at, contact_due = :contact_due, clear_due = :clear_due,
               contact_breached_at = :cb, clear_breached_at = :kb, escalation = :level, steps = :steps
        WHERE id = :t"""),
        {"t": ticket_id, "status": state.status, "paused": state.paused, "holder": state.holder, "queue": state.queue,
         "district": state.district, "first": state.first_responsible, "contact_at": state.contact_at,
         "cleared_at": state.cleared_at, "contact_due": c.due, "clear_due": k.due, "cb": c.breached_at,
         "kb": k.breached_at, "level": level, "steps": state.steps})


def check_category(conn: Connection, category: str | None) -> None:
    if category is None:
        return
    if conn.execute(text("SELECT 1 FROM complaint_categories WHERE id = :c"), {"c": category}).first() is None:
        known = conn.execute(text("SELECT string_agg(id, ', ' ORDER BY id) FROM complaint_categories")).scalar()
        raise InputError(f"unknown complaint category {category!r}; categories: {known}")


def category(conn: Connection, category_id: str) -> dict:
    row = conn.execute(text("SELECT id, name, causes, steps, reply_points, pitfalls, updated_by, updated_at "
                            "FROM complaint_categories WHERE id = :c"), {"c": category_id}).mappings().first()
    if row is None:
        raise NotFound(f"complaint category {category_id!r} does not exist")
    return dict(row)


def categories(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(text(
        "SELECT id, name, causes, steps, reply_points, pitfalls, updated_by, updated_at FROM complaint_categories "
        "ORDER BY id")).mappings()]


def put_category(conn: Connection, c: dict, by: str) -> dict:
    conn.execute(text("""
        INSERT INTO complaint_categories (id, name, causes, steps, reply_points, pitfalls, updated_by, updated_at)
        VALUES (:id, :name, :causes, :steps, :reply_points, :pitfalls, :by, now())
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, causes = excluded.causes, steps = excluded.steps,
            reply_points = excluded.reply_points, pitfalls = excluded.pitfalls, updated_by = excluded.updated_by,
            updated_at = excluded.updated_at"""), {**c, "by": by})
    return category(conn, c["id"])


def community_of_manager(conn: Connection, manager_id: str) -> str | None:
    return conn.execute(text("SELECT community_id FROM managers WHERE id = :m"), {"m": manager_id}).scalar()


def held_districts(conn: Connection, manager_id: str, at: dt.datetime) -> list[str]:
    """The districts of active plans the manager holds at `at`."""
    return list(conn.execute(text(held_by(":m", ":at")), {"m": manager_id, "at": at}).scalars())


# ---- tickets that came without a log (a file of past faults, the demo) ------------------------

def adoptable(conn: Connection, city: str) -> pd.DataFrame:
    """The city's tickets with no history yet, each with what its history needs: its times, the
    district of the active plan its box is in and the manager who held it when it was reported
    (else its community's queue), and its clocks' policy."""
    from .frames import frame
    from .tickets import BOX_OF_TICKET, DP_OF_TICKET
    df = frame(conn, f"""
        WITH t AS (
            SELECT t.id, t.kind, t.vip, t.cause, t.reported_at, t.first_contact_at, t.cleared_at,
                   {BOX_OF_TICKET} AS box_id, {DP_OF_TICKET} AS dp_id
            FROM fault_tickets t LEFT JOIN subscribers s ON s.id = t.subscriber_id
            LEFT JOIN distribution_points d ON d.id = t.dp_id
            WHERE t.city_id = %(c)s AND t.steps = 0),
        community AS (
            SELECT b.id AS box_id, (SELECT x.id FROM admin_areas x WHERE x.city_id = b.city_id AND x.level = 'community'
                                    ORDER BY x.geometry <-> b.geometry LIMIT 1) AS community_id
            FROM boxes b WHERE b.city_id = %(c)s)
        SELECT t.id, t.kind, t.vip, t.cause, t.reported_at, t.first_contact_at, t.cleared_at,
               m.district_id, a.manager_id, CASE WHEN a.manager_id IS NULL THEN c.community_id END AS queue_id,
               c.community_id,
               p.contact_minutes * 60 AS contact_s, p.clear_minutes * 60 AS clear_s, p.calendar
        FROM t
        LEFT JOIN LATERAL (SELECT m.district_id FROM district_members m
                           JOIN district_plans pl ON pl.id = m.plan_id AND pl.status = 'active' AND pl.city_id = %(c)s
                           WHERE m.box_id = t.box_id AND (m.dp_id IS NULL OR m.dp_id = t.dp_id)
                           ORDER BY m.dp_id NULLS FIRST LIMIT 1) m ON true
        LEFT JOIN district_assignments a ON a.district_id = m.district_id AND {in_force("t.reported_at")}
        LEFT JOIN community c ON c.box_id = t.box_id
        JOIN ticket_policies p ON p.kind = t.kind AND p.priority = CASE WHEN t.vip THEN 'vip' ELSE 'normal' END
        ORDER BY t.id""", {"c": city})
    for c in ("reported_at", "first_contact_at", "cleared_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def write_history(conn: Connection, events: pd.DataFrame, rows: pd.DataFrame, policies: pd.DataFrame) -> int:
    """The adopted tickets' logs (COPY) and their rows made equal to the logs replayed."""
    from .store import copy_frame
    # `details` is JSON text already (or a dict, from the per-ticket path).
    ev = events.assign(details=[d if d is None or isinstance(d, str) else json.dumps(d, default=str)
                                for d in events["details"]])
    copy_frame(conn, "ticket_events", ev, ["ticket_id", "seq", "at", "action", "actor", "status", "manager_id",
                                           "details"])
    conn.exec_driver_sql("CREATE TEMP TABLE adopted (id text, status text, manager_id text, queue_id text, "
                         "community_id text, "
                         "district_id text, first_responsible text, first_contact_at timestamptz, "
                         "cleared_at timestamptz, contact_due timestamptz, clear_due timestamptz, "
                         "contact_breached_at timestamptz, clear_breached_at timestamptz, escalation text, "
                         "steps int, policy jsonb) ON COMMIT DROP")
    r = rows.merge(policies, on="id")
    r["policy"] = [json.dumps(p) for p in r["policy"]]
    cols = ["id", "status", "manager_id", "queue_id", "community_id", "district_id", "first_responsible", "first_contact_at",
            "cleared_at", "contact_due", "clear_due", "contact_breached_at", "clear_breached_at", "escalation", "steps",
            "policy"]
    copy_frame(conn, "adopted", r, cols)
    conn.exec_driver_sql(f"""
        UPDATE fault_tickets t SET {", ".join(f"{c} = a.{c}" for c in cols if c != "id")}
        FROM adopted a WHERE t.id = a.id""")
    conn.exec_driver_sql("DROP TABLE adopted")
    return len(rows)
