"""Open tickets follow their district's owner: when a new plan is activated (the box's district
changes), when a district's manager changes, and when a dated stand-in begins or ends. Each move
is a `handover` event naming the old and the new holder and why; the clocks are carried over
unchanged (a handover is not a step of the loop, so it stops and restarts nothing).

A ticket someone chose to hold (`take`: from a queue, or as a colleague or stand-in) stays with
him; only its district is brought up to date.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from gis import workorders as store
from gis.tickets import BOX_OF_TICKET, DP_OF_TICKET
from gis.holding import in_force
from planning.workorders import clocks as clk, lifecycle as life

# Open tickets whose district under the active plan, or whose district's owner now, is not the
# one they are with. A few hundred open tickets in a city: one query.
_MOVED = f"""
    WITH t AS (
        SELECT t.id, t.city_id, t.manager_id, t.district_id, t.queue_id, t.community_id,
               {BOX_OF_TICKET} AS box_id, {DP_OF_TICKET} AS dp_id
        FROM fault_tickets t LEFT JOIN subscribers s ON s.id = t.subscriber_id
        LEFT JOIN distribution_points d ON d.id = t.dp_id
        WHERE t.status IN ('new', 'contacted', 'on_site', 'reopened') AND t.steps > 0
          AND (CAST(:c AS text) IS NULL OR t.city_id = :c))
    SELECT t.id, t.manager_id, t.district_id, m.district_id AS new_district, a.manager_id AS new_manager,
           t.community_id, dd.code AS new_code
    FROM t
    LEFT JOIN LATERAL (SELECT m.district_id FROM district_members m
                       JOIN district_plans p ON p.id = m.plan_id AND p.status = 'active' AND p.city_id = t.city_id
                       WHERE m.box_id = t.box_id AND (m.dp_id IS NULL OR m.dp_id = t.dp_id)
                       ORDER BY m.dp_id NULLS FIRST LIMIT 1) m ON true
    LEFT JOIN districts dd ON dd.id = m.district_id
    LEFT JOIN district_assignments a ON a.district_id = m.district_id AND {in_force(":now")}
    WHERE m.district_id IS DISTINCT FROM t.district_id OR a.manager_id IS DISTINCT FROM t.manager_id
    ORDER BY t.id"""


def follow_owners(conn: Connection, *, city: str | None = None, now: dt.datetime | None = None,
                  why: str = "the district's owner changed", actor: str = "pianqu") -> dict:
    """Hand every open ticket that is not with its district's owner now to that owner (or to its
    community's queue, when the district has none now). Returns how many moved."""
    now = now or dt.datetime.now(dt.timezone.utc)
    moved = kept = 0
    for r in conn.execute(text(_MOVED), {"c": city, "now": now}).mappings().all():
        t = store.ticket(conn, r["id"], lock=True)
        events = store.events(conn, r["id"])
        state = life.replay(events, r["id"])
        taken = _taken(events)
        # His by choice: he keeps it, and only the district is brought up to date.
        holder = t["manager_id"] if taken else r["new_manager"]
        queue = None if holder else t["community_id"]
        if (holder, r["new_district"], queue) == (t["manager_id"], t["district_id"], t["queue_id"]):
            kept += 1
            continue
        event = {"action": "handover", "at": now, "actor": actor, "manager_id": holder, "queue_id": queue,
                 "district_id": r["new_district"], "from_manager": t["manager_id"], "from_district": t["district_id"],
                 "reason": f"{why}: district {r['new_code'] or 'none'} -> {holder or 'queue of ' + str(queue)}"}
        state = life.apply(state, event, r["id"])
        store.append(conn, r["id"], state.steps, event, state.status, state.holder)
        store.project(conn, r["id"], state, clk.clocks(events + [event], t["policy"], now))
        moved += 1
    return {"moved": moved, "kept_by_choice": kept}


def _taken(events: list[dict]) -> bool:
    """Whether the ticket's latest change of holder was someone's `take`."""
    for e in reversed(events):
        if e["action"] == "take":
            return True
        if e["action"] in ("create", "handover"):
            return False
    return False
