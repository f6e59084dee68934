"""The plans service: partition a city's boxes into a draft plan, activate it, read plans back,
their districts as GeoJSON, and what changes between two plans.

`create_plan` checks every parameter that costs nothing to check (the estimator's own checks,
run on the city's totals, and the names of columns, parents and plans) before the service
areas are built, so a wrong number is refused in a fraction of a second, not after the work.
`check_params` is that check alone, for a door that runs the work later (a background job).
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
# The steps `create_plan` reports through `progress`, in order, with the rough share of the
# whole run done when each begins (the city-size demo, 148 districts: 11 s of service areas,
# 8 s of partition, well under a second to save).
BUILDING, PARTITIONING, SAVING = "building service areas", "partitioning", "saving the plan"
STEPS = {BUILDING: 0.0, PARTITIONING: 0.55, SAVING: 0.97}


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


def check_params(conn: Connection, city: str | None, params: PlanParams) -> dict:
    """Every cheap check of a plan request (the city, the counts, the columns, the parents,
    the previous plan, the estimator's own parameter rules), without building anything;
    raises the error `create_plan` would raise, else returns {city, districts, parent_level}."""
    city_id = store.resolve_city(conn, city)
    k, level = _check(conn, city_id, params)
    return {"city": city_id, "districts": k or None, "parent_level": level}


def _check(conn: Connection, city: str, p: PlanParams) -> tuple[int, str | None]:
    """Every cheap check, before any data is read; returns (districts, parent level)."""
    subs, boxes = conn.execute(text("SELECT count(*), count(DISTINCT box_id) FROM subscribers WHERE city_id = :c"),
                               {"c": city}).one()
    if not subs:
        raise NotFound(f"city {city!r} has no subscribers to plan for")
    level = store_plans.parent_level(p.parent)
    if p.districts is None and p.target_size is None and not p.parent_counts and p.previous is None:
        raise InputError("say how many districts: a number of districts, a workload per district (target size), "
                         "or district counts per parent area")
    if p.districts is not None and p.target_size is not None:
        raise InputError("give a number of districts or a workload per district (target size), not both")
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
    # A re-plan keeping the previous count gets None (0 here): that count is known from the
    # previous plan's labels, its other parameters are checked all the same.
    est = DistrictPartitioner(n_districts=p.districts, target_size=p.target_size, tolerance=p.tolerance,
                              max_radius=p.max_radius, limits=p.limits, parent_counts=p.parent_counts,
                              previous="previous" if p.previous is not None else None)
    k = est.check_params(total=float(subs), n_units=int(boxes))
    return k or 0, level


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
        say(BUILDING)
        units, network = store_plans.city_units(conn, city_id, split_above=split, districts=k or None,
                                                slow=tuple(params.slow_barriers))
        if params.previous:
            units["previous"] = units["unit_id"].map(store_plans.previous_labels(conn, params.previous))
    say(PARTITIONING)
    out_units, out_districts, report = partition_units(
        units, n_districts=params.districts, target_size=params.target_size, tolerance=params.tolerance,
        weight=params.weight, barriers=network, parent=level, previous="previous" if params.previous else None,
        limits=params.limits, max_radius=params.max_radius, parent_counts=params.parent_counts,
        random_state=params.seed, source=f"city {city_id}", graph=True)
    say(SAVING)
    with engine.begin() as conn:
        plan_id = store_plans.save_plan(conn, city_id, out_units, out_districts, report, parameters=asdict(params),
                                        name=params.name, previous=params.previous, parent_level=level,
                                        created_by=created_by)
    return {"plan": plan_id, "city": city_id, "status": "draft", **report}


def activate(engine: Engine, plan_id: str, *, actor: str = "pianqu") -> dict:
    """Make a draft the city's active plan; the old one stays active if anything is wrong. Open
    tickets follow their box's district in the new plan to its owner, in the same transaction."""
    from .handover import follow_owners
    with engine.begin() as conn:
        res = store_plans.activate_plan(conn, plan_id)
        res["tickets"] = follow_owners(conn, city=res["city"], why=f"plan {plan_id} activated", actor=actor)
        return res


def summary(conn: Connection, plan_id: str) -> dict:
    return store_plans.plan_summary(conn, plan_id)


def list_plans(conn: Connection, city: str | None) -> list[dict]:
    return store_plans.list_plans(conn, store.resolve_city(conn, city))


def districts_geojson(conn: Connection, plan_id: str) -> dict:
    """The plan's districts as a GeoJSON FeatureCollection (EPSG:4326): id = the district's id,
    properties code, subscribers, workload, deviation and the manager who owns it now."""
    return {"type": "FeatureCollection", "plan_id": plan_id, "features": store_plans.district_features(conn, plan_id)}


def diff(conn: Connection, plan_a: str, plan_b: str) -> dict:
    """What changes from plan a to plan b of one city: every unit (a box, or box/dp where either
    plan splits the box) whose district code differs, with its subscribers; the totals; and both
    plans' metrics."""
    a, b = (store_plans.plan_header(conn, p) for p in (plan_a, plan_b))
    if a["city_id"] != b["city_id"]:
        raise InputError(f"plan {plan_a!r} is a plan of city {a['city_id']!r} and plan {plan_b!r} of city "
                         f"{b['city_id']!r}: only plans of one city can be compared")
    units = store_plans.changed_units(conn, plan_a, plan_b)
    # The monthly fault load that moves with each unit: its box's, shared by subscribers when the
    # unit is one distribution point of a split box.
    rates = store_plans.box_fault_rates(conn, a["city_id"])
    for u in units:
        share = u.pop("box_subscribers")
        u["faults_per_month"] = round(float(rates.get(u["box_id"], 0.0)) * (u["subscribers"] / share if share else 0), 3)
    total = store_plans.city_subscribers(conn, a["city_id"])
    moved = sum(u["subscribers"] for u in units)
    return {"city": a["city_id"], "a": _metrics(a), "b": _metrics(b),
            "totals": {"units_moved": len(units), "boxes_moved": len({u["box_id"] for u in units}),
                       "subscribers_moved": moved, "subscribers": total,
                       "revenue_moved": round(sum(u["revenue"] for u in units), 2),
                       "faults_per_month_moved": round(sum(u["faults_per_month"] for u in units), 3),
                       "share": round(moved / total, 6) if total else 0.0},
            "units": units}


METRICS = ("n_districts", "max_deviation", "mean_deviation", "within_tolerance", "non_contiguous",
           "polsby_popper_mean", "polsby_popper_min", "cut_edges", "churn", "runtime_s")


def _metrics(plan: dict) -> dict:
    rep = plan.get("report") or {}
    return {"id": plan["id"], "name": plan["name"], "status": plan["status"],
            **{k: rep[k] for k in METRICS if k in rep}}
