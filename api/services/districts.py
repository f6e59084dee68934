"""The districts service: which manager owns which district of a plan, and when.

Days are the city's own (`cities.timezone`): an assignment "from 2026-12-01" starts at midnight
in the city, not in UTC. One rule set for every door: the district must be in the plan, the
manager must be an active manager of the city, the period must not be empty, and a district has
one manager at a time (the one it replaces is ended when the new one starts).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sqlalchemy import Connection, Engine

from gis import assignments as store
from gis import store as gis_store
from gis import tickets as tickets_store
from gis import workorders
from gis.errors import InputError, PianquError
from gis.tickets import city_timezone
from gis.validate import Problems
from planning import kpi

from .values import jsonable

# The automatic matching: metres a manager would rather travel than leave his own community.
COMMUNITY_PENALTY_M = 20_000.0


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))


def list_districts(conn: Connection, city: str | None, plan: str | None = None) -> tuple[str, pd.DataFrame]:
    """(plan id, its districts with their current manager)."""
    city_id = gis_store.resolve_city(conn, city)
    plan_id = store.plan_of_city(conn, city_id, plan)
    return plan_id, store.districts(conn, plan_id)


class RuleBroken(PianquError):
    """An assignment a rule forbids; the message names the rule (HTTP 422, CLI exit 2)."""
    status = 422


@dataclass(frozen=True)
class AssignmentRules:
    """The rules a manager's assignment may not break, an operator's to set (gis.config reads
    PIANQU_MAX_DISTRICTS_PER_MANAGER and PIANQU_OWN_COMMUNITY_ONLY). An inactive manager is never
    assigned."""
    max_districts_per_manager: int | None = 2      # a stand-in for a holiday holds two at most
    own_community_only: bool = False

    @classmethod
    def from_config(cls) -> "AssignmentRules":
        from gis.config import assignment_rules
        return cls(**assignment_rules())


def _check_rules(conn: Connection, rules: AssignmentRules, plan: str, district: str, code: str, manager_id: str,
                 begin: dt.datetime, end: dt.datetime | None) -> None:
    m = store.manager(conn, manager_id)
    if not m.active:
        raise RuleBroken(f"rule 'active manager': manager {manager_id!r} ({m.name}) is not active and cannot be "
                         f"assigned district {code!r}")
    if rules.max_districts_per_manager is not None:
        held = store.manager_load(conn, plan, manager_id, begin, end, other_than=district)
        if held + 1 > rules.max_districts_per_manager:
            raise RuleBroken(f"rule 'at most {rules.max_districts_per_manager} districts per manager': manager "
                             f"{manager_id!r} already holds {held} other district{'s' if held != 1 else ''} of the "
                             f"plan in that period")
    if rules.own_community_only and not store.in_own_community(conn, district, manager_id):
        raise RuleBroken(f"rule 'own community only': district {code!r} lies outside manager {manager_id!r}'s "
                         "community department")


def _period(tz: str, code: str, start: dt.date | None, until: dt.date | None) -> tuple[dt.datetime, dt.datetime | None]:
    if start is not None and until is not None and until <= start:
        raise InputError(f"the assignment of district {code!r} ends ({until}) before it starts ({start})")
    begin = _local_midnight(start, tz) if start else dt.datetime.now(dt.timezone.utc)
    end = _local_midnight(until, tz) if until else None
    if end is not None and end <= begin:
        raise InputError(f"the assignment of district {code!r} would end ({until}) before it starts (now)")
    return begin, end


def assign(conn: Connection, city: str | None, code: str, manager_id: str, *, start: dt.date | None = None,
           until: dt.date | None = None, by: str | None = None, note: str | None = None,
           plan: str | None = None, rules: AssignmentRules | None = None) -> dict:
    """Give district `code` of the plan (default: the active one) to a manager from `start`
    (default: now) until the day `until` begins (default: open-ended)."""
    city_id = gis_store.resolve_city(conn, city)
    plan_id = store.plan_of_city(conn, city_id, plan)
    district = store.district_id(conn, plan_id, code)
    return _assign(conn, city_id, plan_id, district, code, manager_id, start, until, by, note,
                   rules or AssignmentRules.from_config())


def _assign(conn, city_id, plan_id, district, code, manager_id, start, until, by, note, rules) -> dict:
    begin, end = _period(city_timezone(conn, city_id), code, start, until)
    store.manager_of_city(conn, city_id, manager_id)
    _check_rules(conn, rules, plan_id, district, code, manager_id, begin, end)
    res = store.assign(conn, district, manager_id, begin, end, by, note)
    # Its open tickets follow the new owner now (a stand-in dated later: when the scan sees him begin).
    from .handover import follow_owners
    follow_owners(conn, city=city_id, why=f"district {code} reassigned", actor=by or "pianqu")
    return {**res, "plan": plan_id, "code": code, "city": city_id}


# ---- the managers' API ------------------------------------------------------------------------

def etag(conn: Connection, district: str) -> str:
    """The district's version: changes with every assignment made or ended."""
    rows = store.history(conn, district)
    raw = "|".join(f"{r['id']},{r['manager_id']},{r['valid_from']},{r['valid_to']}" for r in rows)
    return '"' + hashlib.sha1(f"{district}|{raw}".encode()).hexdigest()[:20] + '"'


# ---- this month's KPIs of every district ------------------------------------------------------

# A month's KPIs are kept per process for KPI_TTL_S seconds, keyed by the database, plan and
# month and checked on each use against gis.tickets.month_kpi_version (latest ticket, open
# tickets, last subscriber, the server's change counters): reading a month of a city's tickets
# and grouping 700,000 lines costs seconds, the check a millisecond; the lifetime bounds how
# long an edit the check cannot see (a ticket's contact time corrected) stays unseen.
KPI_TTL_S = 60.0
_KPI_CACHE: dict[tuple, tuple[tuple, float, dict]] = {}
KPI_FIELDS = [c for c in kpi.COLUMNS if c != "month"]


def kpi_month(conn: Connection, city: str, month: str | None) -> pd.Period:
    """The month asked ('YYYY-MM'), or the current one in the city's time zone."""
    if month is not None:
        return kpi.month_of(month)
    return pd.Period(dt.datetime.now(ZoneInfo(city_timezone(conn, city))).strftime("%Y-%m"), "M")


def plan_kpis(conn: Connection, city: str, plan: str, month: pd.Period) -> dict:
    """{"month", "districts": {district id: KPIs}, "city": KPIs} for the month: planning.kpi's
    figures (the rule of `pianqu faults kpi`), every district of the plan included."""
    key = (conn.engine.url.render_as_string(hide_password=True), plan, str(month))
    version = tickets_store.month_kpi_version(conn, city)
    hit = _KPI_CACHE.get(key)
    if hit is not None and hit[0] == version and time.monotonic() - hit[1] < KPI_TTL_S:
        return hit[2]
    tz = city_timezone(conn, city)
    t, lines = tickets_store.month_kpi_inputs(conn, city, plan, month, tz)
    table = kpi.kpis(t, lines, by="district_id", month=month, tz=tz, every_group=True)
    table["lines"] = table["lines"].round().astype("Int64")   # counted lines: whole numbers
    recs = {r["district_id"]: {k: jsonable(r[k]) for k in KPI_FIELDS} for r in table.to_dict("records")}
    out = {"month": str(month), "city": recs.pop(kpi.TOTAL, None), "districts": recs}
    if len(_KPI_CACHE) > 64:   # a few plans and months at a time; never unbounded
        _KPI_CACHE.clear()
    _KPI_CACHE[key] = (version, time.monotonic(), out)
    return out


def _no_kpis() -> dict:
    return {k: (0 if k == "tickets" else None) for k in KPI_FIELDS}


def district_list(conn: Connection, city: str | None, plan: str | None = None, month: str | None = None) -> dict:
    """Every district of the plan with its manager, figures, open faults and the month's KPIs
    (`kpi_month`: the month asked, default the current one in the city's time zone)."""
    plan_id, df = list_districts(conn, city, plan)
    city_id = gis_store.resolve_city(conn, city)
    kp = plan_kpis(conn, city_id, plan_id, kpi_month(conn, city_id, month))
    # A dict, not .loc per row: 140 label look-ups in a frame cost more than the queries.
    figs = store.district_figures(conn, plan_id).set_index("district_id").to_dict("index")
    rows = []
    for r in df.to_dict("records"):
        f = figs.get(r["district_id"])
        rows.append({"id": r["district_id"], "code": r["code"], "plan_id": plan_id, "manager_id": r["manager_id"],
                     "manager_name": r["manager_name"], "subscribers": int(r["subscribers"]),
                     "workload": float(r["workload"]), "deviation": jsonable(r["deviation"]),
                     "boxes": 0 if f is None else int(f["boxes"]), "open_faults": 0 if f is None else int(f["open_faults"]),
                     "kpis": kp["districts"].get(r["district_id"]) or _no_kpis()})
    return {"plan_id": plan_id, "kpi_month": kp["month"], "city_kpis": kp["city"] or _no_kpis(), "districts": rows}


def district_detail(conn: Connection, district: str, month: str | None = None, *, manager: str | None = None) -> dict:
    """One district. `manager`: a manager's key, who reads any district's figures and owner but
    the alerts only of the districts he holds (`alerts` is null for the others)."""
    d = store.district_row(conn, district)
    figs = store.district_figures(conn, d.plan_id, district)
    hist = store.history(conn, district)
    kp = plan_kpis(conn, d.city_id, d.plan_id, kpi_month(conn, d.city_id, month))
    now = dt.datetime.now(dt.timezone.utc)
    current = next((h for h in hist if h["valid_from"] <= now and (h["valid_to"] is None or h["valid_to"] > now)), None)
    return {"id": d.id, "code": d.code, "plan_id": d.plan_id, "plan_status": d.status, "city": d.city_id,
            "subscribers": int(d.subscribers), "workload": float(d.workload), "deviation": jsonable(d.deviation),
            "revenue": jsonable(d.revenue), "boxes": store.district_boxes(conn, district),
            "open_faults": int(figs["open_faults"].sum()) if len(figs) else 0,
            "kpi_month": kp["month"], "kpis": kp["districts"].get(d.id) or _no_kpis(),
            "alerts": store.district_alerts(conn, district) if manager is None
            or district in workorders.held_districts(conn, manager, now) else None,
            "manager": None if current is None else {k: current[k] for k in ("manager_id", "manager_name",
                                                                             "valid_from", "valid_to")},
            "manager_id": None if current is None else current["manager_id"],
            "history": hist, "etag": etag(conn, district)}


def set_manager(conn: Connection, district: str, manager_id: str, *, start: dt.date | None = None,
                until: dt.date | None = None, by: str | None = None, note: str | None = None,
                if_match: str | None = None, rules: AssignmentRules | None = None) -> dict:
    """(Re)assign a district, only if it is still the version the caller saw (`if_match`, its
    ETag): the row is locked first, so of two concurrent reassignments one wins and the other
    is told it is stale. Never a lost update."""
    d = store.lock_district(conn, district)
    current = etag(conn, district)
    if if_match is not None and if_match.strip() not in (current, "*"):
        raise Stale(f"district {d.code!r} changed since it was read (its ETag is now {current}); read it again")
    _assign(conn, d.city_id, d.plan_id, district, d.code, manager_id, start, until, by, note,
            rules or AssignmentRules.from_config())
    return district_detail(conn, district)


class Stale(PianquError):
    status = 412


COLUMNS = {"district": ("district", "district_code", "code"), "manager_id": ("manager_id", "manager"),
           "from": ("from", "valid_from", "start"), "until": ("until", "valid_to", "valid_until", "end"),
           "assigned_by": ("assigned_by", "by"), "note": ("note",)}


def import_assignments(engine: Engine, city: str | None, path: Path, *, plan: str | None = None) -> dict:
    """An `assignments` layer (district code, manager id, from, until): every row checked, then
    all applied in one transaction, in file order; one bad row and nothing is written."""
    df = store.read_table(path)
    source = path.name
    cols = {}
    for want, names in COLUMNS.items():
        found = [c for c in df.columns if str(c).strip().lower() in names]
        if found:
            cols[want] = found[0]
    missing = [c for c in ("district", "manager_id") if c not in cols]
    if missing:
        raise InputError(f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
                         f"(an assignments layer needs district, manager_id; from, until, assigned_by, note are "
                         f"optional)", source=source)
    if len(df) == 0:
        raise InputError("the file has no rows", source=source)
    get = {k: (df[c].str.strip().mask(df[c].str.strip() == "") if c else None) for k, c in cols.items()}
    probs = Problems(source, get["district"])
    days = {}
    for key in ("from", "until"):
        if key in get:
            parsed = pd.to_datetime(get[key], format="%Y-%m-%d", errors="coerce")
            probs.rows((get[key].notna() & parsed.isna()).to_numpy(),
                       lambda i, k=key: f"{k} {get[k].iat[i]!r} is not a day (YYYY-MM-DD)")
            days[key] = parsed
    for key in ("district", "manager_id"):
        probs.rows(get[key].isna().to_numpy(), f"{key} is missing")
    probs.raise_if_any()
    n = 0
    with engine.begin() as conn:
        for i in range(len(df)):
            def day(k):
                v = days[k].iat[i] if k in days else pd.NaT
                return None if pd.isna(v) else v.date()
            try:
                assign(conn, city, get["district"].iat[i], get["manager_id"].iat[i], start=day("from"),
                       until=day("until"), by=get["assigned_by"].iat[i] if "assigned_by" in get else None,
                       note=get["note"].iat[i] if "note" in get else None, plan=plan)
            except PianquError as e:
                raise InputError(str(e), source=source, row=i + 1) from None
            n += 1
    return {"layer": "assignments", "rows": len(df), "assigned": n}


def auto_assign(engine: Engine, city: str, plan: str, *, by: str = "pianqu demo",
                start: dt.datetime | None = None) -> dict:
    """Give every district of a plan a manager: the one-to-one matching (Hungarian algorithm)
    that keeps managers in their own community where it can and minimises the distance from
    each manager's base to his district. The districts are balanced already (within the plan's
    tolerance), so the workload each manager gets is fair by construction."""
    with engine.begin() as conn:
        pairs = store.matching_pairs(conn, plan, city)
        if pairs.empty:
            raise InputError(f"city {city!r} has no active managers with a base to assign")
        cost = pairs.pivot(index="district_id", columns="manager_id", values="distance_m")
        same = pairs.pivot(index="district_id", columns="manager_id", values="same_community")
        rows, cols = linear_sum_assignment(cost.to_numpy() + np.where(same.to_numpy(), 0.0, COMMUNITY_PENALTY_M))
        done = []
        for r, c in zip(rows, cols):
            store.assign(conn, cost.index[r], cost.columns[c], start or dt.datetime.now(dt.timezone.utc), None, by,
                         "automatic matching by community and distance")
            done.append((cost.index[r], cost.columns[c]))
        from .handover import follow_owners
        follow_owners(conn, city=city, why=f"managers assigned to plan {plan}", actor=by)
    return {"plan": plan, "districts": int(cost.shape[0]), "assigned": len(done),
            "in_own_community": int(sum(bool(same.loc[d, m]) for d, m in done))}


def ensure_demo_plan(engine: Engine, city: str, *, progress=None) -> dict | None:
    """The demo ready to use: an active plan with one district per active manager, every
    district with its manager. Nothing is done when the city already has an active plan."""
    from sqlalchemy import text
    from api.services.plans import PlanParams, activate, create_plan
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM district_plans WHERE city_id = :c AND status = 'active'"),
                        {"c": city}).first():
            return None
        k = conn.execute(text("SELECT count(*) FROM managers WHERE city_id = :c AND active AND geometry IS NOT NULL"),
                         {"c": city}).scalar()
        first = conn.execute(text("SELECT min(reported_at) FROM fault_tickets WHERE city_id = :c"), {"c": city}).scalar()
    if not k:
        return None
    plan = create_plan(engine, city, PlanParams(districts=int(k), name="demo plan: one district per manager"),
                       progress=progress, created_by="pianqu demo")
    activate(engine, plan["plan"])
    # The demo's managers have held their districts for the whole history, so its tickets are
    # theirs when they are stepped through the loop (api.services.tickets.adopt).
    return {**auto_assign(engine, city, plan["plan"], start=first), "max_deviation": plan["max_deviation"]}


def managers(conn: Connection, city: str | None) -> list[dict]:
    return store.managers(conn, gis_store.resolve_city(conn, city))


def manager(conn: Connection, manager_id: str) -> dict:
    m = store.manager(conn, manager_id)
    return {"id": m.id, "name": m.name, "phone": m.phone, "city": m.city_id, "community_id": m.community_id,
            "active": m.active, "districts": store.manager_districts(conn, manager_id)}


def manager_districts(conn: Connection, manager_id: str) -> list[dict]:
    store.manager(conn, manager_id)
    return store.manager_districts(conn, manager_id)
