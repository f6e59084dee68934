"""Editing a plan by hand (the map's editing panel and `POST /plans/{id}/edits`): the plan's unit
graph for the page, the check of a set of moves (new workload and deviation of each district
touched, contiguity, tolerance, locks), suggested moves, and saving the edit as a draft.

The rules are planning.partition.editing's; this layer reads the plan's saved units, and stores
the result: an edit of the active (or an archived) plan becomes a new draft whose previous plan
is it; an edit of a draft that was itself made by hand replaces that draft in place. A save names
the version it was made on (the plan's ETag, gis.plans.plan_version) and the district of every
unit as it saw them: when someone else saved over the plan meanwhile, the save is refused (409)
with the units whose district changed under it.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

from gis import plans as store_plans
from gis import store
from gis.errors import Conflict, InputError
from planning.partition import editing


MAX_MOVES = 100_000        # units in one request (a city has a few thousand)


def _loaded(conn: Connection, plan_id: str, *, geometry: bool = False):
    header = store_plans.plan_header(conn, plan_id)
    units = store_plans.plan_units(conn, plan_id, geometry=geometry)
    if len(units) == 0:
        raise Conflict(f"plan {plan_id!r} was made before plans kept their unit graph, so it cannot be edited by "
                       "hand: make a new plan (POST /plans or `pianqu plan create`) and edit that")
    report = header["report"] or {}
    target, tolerance = report.get("target"), report.get("tolerance")
    if not target or tolerance is None:
        raise Conflict(f"plan {plan_id!r} has no target workload or tolerance in its report")
    return header, units, editing.plan_graph(units, target, tolerance)


def _moves(moves: dict | None) -> dict[str, str]:
    moves = moves or {}
    if not isinstance(moves, dict):
        raise InputError("moves: expected an object {unit id: district code}")
    if len(moves) > MAX_MOVES:
        raise InputError(f"moves: {len(moves):,} units is more than {MAX_MOVES:,} in one request")
    return {str(u): str(c) for u, c in moves.items()}


def _locked(plan: editing.PlanGraph, locked) -> set[str]:
    locked = set(map(str, locked or ()))
    unknown = locked - set(plan.codes.tolist())
    if unknown:
        raise InputError(f"locked: district {sorted(unknown)[0]!r} is not in the plan")
    return locked


def editing_view(conn: Connection, plan_id: str) -> dict:
    """What the editing panel needs: every unit (id, box, district, workload, a point inside it),
    the unit graph (neighbour positions), the districts' figures, target, tolerance, version."""
    header, units, plan = _loaded(conn, plan_id, geometry=True)
    where = units.geometry.representative_point()
    loads = plan.loads()
    return {"plan_id": plan_id, "status": header["status"], "city": header["city_id"],
            "version": store_plans.plan_version(conn, plan_id), "target": plan.target, "tolerance": plan.tolerance,
            "units": [{"id": u, "box_id": b, "district": c, "workload": float(w), "lon": round(x, 6),
                       "lat": round(y, 6)}
                      for u, b, c, w, x, y in zip(plan.units, units["box_id"], plan.codes, plan.workload,
                                                  where.x, where.y)],
            "neighbours": plan.neighbours,
            "districts": [{"code": c, "workload": loads[c], "deviation": plan.deviation(loads[c])}
                          for c in sorted(loads)]}


def check(conn: Connection, plan_id: str, moves: dict, *, locked=(), override_tolerance: bool = False) -> dict:
    """The districts the moves touch, before and after, and whether the moves may be made."""
    _, _, plan = _loaded(conn, plan_id)
    res = editing.check_moves(plan, _moves(moves), locked=_locked(plan, locked), override_tolerance=override_tolerance)
    return {"ok": res.ok, "reason": res.reason, "moved": res.moved, "districts": res.districts}


def suggest(conn: Connection, plan_id: str, moves: dict | None = None, *, locked=()) -> list[dict]:
    """Moves that bring the districts outside the tolerance back within it, on the plan as edited
    so far (`moves` applied first)."""
    _, _, plan = _loaded(conn, plan_id)
    for unit, code in _moves(moves).items():
        plan.codes[plan.position(unit)] = code
    return editing.suggest_moves(plan, locked=_locked(plan, locked))


def save(conn: Connection, plan_id: str, moves: dict, *, base_version: str, base: dict | None = None, locked=(),
         override_tolerance: bool = False, name: str | None = None, by: str | None = None) -> dict:
    """Save the edit as a draft (see the module's docstring), in the caller's transaction."""
    moves = _moves(moves)
    header, units, plan = _loaded(conn, plan_id, geometry=True)
    conn.execute(text("SELECT 1 FROM district_plans WHERE id = :p FOR UPDATE"), {"p": plan_id})
    now = store_plans.plan_version(conn, plan_id)
    if base_version != now:
        seen = {str(u): str(c) for u, c in (base or {}).items()}
        changed = [{"unit": u, "was": seen[u], "now": c} for u, c in zip(plan.units, plan.codes)
                   if u in seen and seen[u] != c]
        e = Conflict(f"plan {plan_id!r} was saved by someone else since version {base_version}: "
                     f"{len(changed)} unit(s) changed district" + (f" ({', '.join(x['unit'] for x in changed[:5])}"
                                                                  f"{', ...' if len(changed) > 5 else ''})"
                                                                  if changed else "") + "; reload and edit again")
        e.members = {"changed": changed}   # the problem+json answer lists them
        raise e
    metric = units.to_crs(store.metric_crs(conn, header["city_id"]))
    out_units, districts, report = editing.edited_plan(metric, plan, moves, locked=_locked(plan, locked),
                                                       override_tolerance=override_tolerance)
    out_units["neighbours"] = plan.neighbours
    params = header.get("parameters") or {}
    in_place = header["status"] == "draft" and (params or {}).get("edited_from") is not None
    if in_place:
        store_plans.replace_plan(conn, plan_id, out_units, districts, report)
        new_id = plan_id
    else:
        new_id = store_plans.save_plan(conn, header["city_id"], out_units, districts, report,
                                       parameters={"edited_from": plan_id, "locked": sorted(set(map(str, locked))),
                                                   "target": plan.target, "tolerance": plan.tolerance},
                                       name=name, previous=plan_id, created_by=by)
    return {"plan": new_id, "edited_from": plan_id, "in_place": in_place,
            "version": store_plans.plan_version(conn, new_id), **report}
