"""The plans service: partition a city's boxes into a draft plan, activate it, read plans back.

`create_plan` checks every parameter that costs nothing to check (the estimator's own checks,
run on the city's totals, and the names of columns, parents and plans) before the service
areas are built, so a wrong number is refused in a fraction of a second, not after the work.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
from sqlalchemy import Connection, Engine, text

from gis import plans as store_plans
from gis import store
from gis.errors import InputError, NotFound
from planning.partition import DistrictPartitioner, partition_units

WORKLOADS = ("subscribers", "revenue", "faults", "area_km2")   # the columns city_units gives
SLOW_KINDS = ("river", "rail", "motorway")


@dataclass
class PlanParams:
    districts: int | None = None
    target_size: float | None = None
    tolerance: float = 0.02
    weight: dict[str, float] | None = None          # {column: coefficient}; None: subscribers
    parent: str | None = None                       # communities | office_regions
    previous: str | None = None                     # a plan id to re-plan from
    limits: dict | None = None                      # {column: share | (min, max)}
    max_radius: float | None = None
    parent_counts: dict[str, int] | None = None
    slow_barriers: tuple[str, ...] = field(default_factory=tuple)
    name: str | None = None
    seed: int = 0


def _check(conn: Connection, city: str, p: PlanParams) -> tuple[int, str | None]:
    """Every cheap check, before any data is read; returns (districts, parent level)."""
    subs, boxes = conn.execute(text("SELECT count(*), count(DISTINCT box_id) FROM subscribers WHERE city_id = :c"),
                               {"c": city}).one()
    if not subs:
        raise NotFound(f"city {city!r} has no subscribers to plan for")
    level = store_plans.parent_level(p.parent)
    if isinstance(p.districts, int) and p.districts > 0:
        store_plans.check_district_count(p.districts, int(boxes))
    for what, cols in (("workload", p.weight or {}), ("limit", p.limits or {})):
        for col in cols:
            if col not in WORKLOADS:
                raise InputError(f"unknown {what} column {col!r}; a city's plan knows {', '.join(WORKLOADS)}")
    for col, coef in (p.weight or {}).items():
        if not (np.isfinite(coef) and coef > 0):
            raise InputError(f"the coefficient of workload column {col!r} must be a positive number, not {coef!r}")
    bad = set(p.slow_barriers) - set(SLOW_KINDS)
    if bad:
        raise InputError(f"unknown barrier kind {sorted(bad)[0]!r}; kinds: {', '.join(SLOW_KINDS)}")
    if p.parent_counts:
        if level is None:
            raise InputError("district counts per parent area need a parent (communities or office_regions)")
        known = set(conn.execute(text("SELECT id FROM admin_areas WHERE city_id = :c AND level = :l"),
                                 {"c": city, "l": level}).scalars())
        unknown = sorted(set(p.parent_counts) - known)
        if unknown:
            raise NotFound(f"{level} {unknown[0]!r} is not an area of city {city!r}")
    if p.previous is not None:
        row = conn.execute(text("SELECT city_id FROM district_plans WHERE id = :p"), {"p": p.previous}).first()
        if row is None or row.city_id != city:
            raise NotFound(f"plan {p.previous!r} is not a plan of city {city!r}")
    # The estimator's own parameter checks, on the city's totals: the same rule, said once.
    est = DistrictPartitioner(n_districts=p.districts, target_size=p.target_size, tolerance=p.tolerance,
                              max_radius=p.max_radius, limits=p.limits, parent_counts=p.parent_counts)
    if p.previous is not None and p.districts is None and p.target_size is None and not p.parent_counts:
        return 0, level  # a re-plan keeps the previous number, checked on the previous plan's labels
    k = est.check_params(total=float(subs), n_units=int(boxes))
    return k, level


def create_plan(engine: Engine, city: str | None, params: PlanParams,
                progress: Callable[[str], None] | None = None, created_by: str | None = None) -> dict:
    """Partition the city into districts and store the plan as a draft; returns its id and report."""
    say = progress or (lambda _msg: None)
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        k, level = _check(conn, city_id, params)
        total = conn.execute(text("SELECT count(*) FROM subscribers WHERE city_id = :c"), {"c": city_id}).scalar()
        # Only boxes larger than a district are split by distribution point.
        split = total / k * (1 + params.tolerance) if k else None
        say("building service areas")
        units, network = store_plans.city_units(conn, city_id, split_above=split, districts=k or None,
                                                slow=tuple(params.slow_barriers))
        if params.previous:
            units["previous"] = units["unit_id"].map(store_plans.previous_labels(conn, params.previous))
    say("partitioning")
    out_units, out_districts, report = partition_units(
        units, n_districts=params.districts, target_size=params.target_size, tolerance=params.tolerance,
        weight=params.weight, barriers=network, parent=level, previous="previous" if params.previous else None,
        limits=params.limits, max_radius=params.max_radius, parent_counts=params.parent_counts,
        random_state=params.seed, source=f"city {city_id}")
    say("saving the plan")
    plan_id = store_plans.save_plan(engine, city_id, out_units, out_districts, report, parameters=asdict(params),
                                    name=params.name, previous=params.previous, parent_level=level,
                                    created_by=created_by)
    return {"plan": plan_id, "city": city_id, "status": "draft", **report}


def activate(engine: Engine, plan_id: str) -> dict:
    return store_plans.activate_plan(engine, plan_id)


def summary(conn: Connection, plan_id: str) -> dict:
    return store_plans.plan_summary(conn, plan_id)


def list_plans(conn: Connection, city: str | None) -> list[dict]:
    return store_plans.list_plans(conn, store.resolve_city(conn, city))
