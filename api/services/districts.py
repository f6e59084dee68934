"""The districts service: which manager owns which district of a plan, and when.

Days are the city's own (`cities.timezone`): an assignment "from 2026-12-01" starts at midnight
in the city, not in UTC. One rule set for every door: the district must be in the plan, the
manager must be an active manager of the city, the period must not be empty, and a district has
one manager at a time (the one it replaces is ended when the new one starts).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sqlalchemy import Connection, Engine

from gis import assignments as store
from gis import store as gis_store
from gis.errors import InputError, PianquError
from gis.tickets import city_timezone
from gis.validate import Problems

# The automatic matching: metres a manager would rather travel than leave his own community.
COMMUNITY_PENALTY_M = 20_000.0


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))


def list_districts(conn: Connection, city: str | None, plan: str | None = None) -> tuple[str, pd.DataFrame]:
    """(plan id, its districts with their current manager)."""
    city_id = gis_store.resolve_city(conn, city)
    plan_id = store.plan_of_city(conn, city_id, plan)
    return plan_id, store.districts(conn, plan_id)


def assign(conn: Connection, city: str | None, code: str, manager_id: str, *, start: dt.date | None = None,
           until: dt.date | None = None, by: str | None = None, note: str | None = None,
           plan: str | None = None) -> dict:
    """Give district `code` of the plan (default: the active one) to a manager from `start`
    (default: now) until the day `until` begins (default: open-ended)."""
    city_id = gis_store.resolve_city(conn, city)
    tz = city_timezone(conn, city_id)
    if start is not None and until is not None and until <= start:
        raise InputError(f"the assignment of district {code!r} ends ({until}) before it starts ({start})")
    plan_id = store.plan_of_city(conn, city_id, plan)
    district = store.district_id(conn, plan_id, code)
    store.manager(conn, city_id, manager_id)
    begin = _local_midnight(start, tz) if start else dt.datetime.now(dt.timezone.utc)
    end = _local_midnight(until, tz) if until else None
    if end is not None and end <= begin:
        raise InputError(f"the assignment of district {code!r} would end ({until}) before it starts (now)")
    res = store.assign(conn, district, manager_id, begin, end, by, note)
    return {**res, "plan": plan_id, "code": code, "city": city_id}


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


def auto_assign(engine: Engine, city: str, plan: str, *, by: str = "pianqu demo") -> dict:
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
            store.assign(conn, cost.index[r], cost.columns[c], dt.datetime.now(dt.timezone.utc), None, by,
                         "automatic matching by community and distance")
            done.append((cost.index[r], cost.columns[c]))
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
    if not k:
        return None
    plan = create_plan(engine, city, PlanParams(districts=int(k), name="demo plan: one district per manager"),
                       progress=progress, created_by="pianqu demo")
    activate(engine, plan["plan"])
    return {**auto_assign(engine, city, plan["plan"]), "max_deviation": plan["max_deviation"]}
