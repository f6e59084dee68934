"""`pianqu plan`: district plans in the store (create a draft, activate, show, list)."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from . import common
from .common import CityOpt, JsonOpt, engine, out, print_json, progress, wants_json

app = typer.Typer(help="District plans in the store: create (draft), activate, show, list.", no_args_is_help=True)


@app.command("create")
def plan_create(city: CityOpt = None,
                districts: Annotated[Optional[int], typer.Option("--districts", help="Number of districts.")] = None,
                target_size: Annotated[Optional[float], typer.Option(help="Workload per district.")] = None,
                tolerance: float = 0.02,
                weight: Annotated[Optional[list[str]], typer.Option(help="subscribers, revenue, faults, area_km2 (COLUMN or COLUMN=COEF).")] = None,
                parent: Annotated[Optional[str], typer.Option(help="communities or office_regions.")] = None,
                previous: Annotated[Optional[str], typer.Option(help="Re-plan from this plan, moving little.")] = None,
                limit: Annotated[Optional[list[str]], typer.Option(help="Hold revenue, faults or area_km2 within limits: COLUMN=SHARE or COLUMN=MIN:MAX.")] = None,
                max_radius: Annotated[Optional[float], typer.Option(help="Metres: no box farther from its district's centre.")] = None,
                parent_count: Annotated[Optional[list[str]], typer.Option(help="AREA_ID=N: districts in that area (with --parent); repeatable.")] = None,
                slow_barriers: Annotated[Optional[str], typer.Option(help="Barrier kinds that only slow growth, e.g. motorway,rail.")] = None,
                name: Optional[str] = None, seed: int = 0, as_json: JsonOpt = False) -> None:
    """Partition the city's boxes into districts and save the plan as a draft."""
    from api.services.plans import PlanParams, create_plan
    params = PlanParams(districts=districts, target_size=target_size, tolerance=tolerance,
                        weight=common.weights(weight), parent=parent, previous=previous, limits=common.limits(limit),
                        max_radius=max_radius, parent_counts=common.counts(parent_count),
                        slow_barriers=tuple(x.strip() for x in (slow_barriers or "").split(",") if x.strip()),
                        name=name, seed=seed)
    with progress() as p:
        task = p.add_task("checking the request", total=None)
        res = create_plan(engine(), city, params, progress=lambda msg: p.update(task, description=msg))
    if wants_json(as_json):
        print_json(res)
        return
    out.print(f"[bold]{res['plan']}[/] (draft) for city {res['city']}: {res['n_districts']} districts, "
              f"largest deviation {res['max_deviation']:.2%} (mean {res['mean_deviation']:.2%}), "
              f"{res['non_contiguous']} not contiguous, Polsby-Popper {res['polsby_popper_mean']:.2f} mean / "
              f"{res['polsby_popper_min']:.2f} min" + (f", churn {res['churn']:.1%}" if "churn" in res else "")
              + f", {res['runtime_s']:.1f} s")
    out.print(f"next: pianqu plan show {res['plan']}  ·  pianqu plan activate {res['plan']}  ·  --json for the report")


@app.command("activate")
def plan_activate(plan_id: str) -> None:
    """Make a draft the city's active plan (the previous active plan is archived, atomically)."""
    import getpass
    from api.services.plans import activate
    print(json.dumps(activate(engine(), plan_id, actor=f"cli:{getpass.getuser()}")))


@app.command("show")
def plan_show(plan_id: str) -> None:
    """A plan's status, parameters, metrics and districts."""
    from gis import plans
    with engine().connect() as conn:
        s = plans.plan_summary(conn, plan_id)
    rep = s["report"] or {}
    out.print(f"[bold]{s['id']}[/] ({s['status']}) city {s['city_id']}, created {s['created_at']:%Y-%m-%d %H:%M}")
    for key in ("n_districts", "max_deviation", "mean_deviation", "non_contiguous", "polsby_popper_mean",
                "polsby_popper_min", "cut_edges", "churn", "runtime_s"):
        if key in rep:
            v = rep[key]
            out.print(f"  {key:20s} {v:.4f}" if isinstance(v, float) else f"  {key:20s} {v}")
    t = Table("district", "subscribers", "workload", "deviation", "Polsby-Popper")
    for d in s["districts"]:
        tot = d["totals"] or {}
        t.add_row(d["code"], f"{d['subscribers']:,}", f"{d['workload']:,.0f}", f"{tot.get('deviation', 0):+.2%}",
                  f"{tot.get('polsby_popper', 0):.2f}")
    out.print(t)


@app.command("list")
def plan_list(city: CityOpt = None) -> None:
    from gis import plans, store
    with engine().connect() as conn:
        rows = plans.list_plans(conn, store.resolve_city(conn, city))
    t = Table("plan", "status", "districts", "max deviation", "created")
    for r in rows:
        t.add_row(r["id"], r["status"], str(r["n_districts"]), f"{(r['max_deviation'] or 0):.2%}", f"{r['created_at']:%Y-%m-%d %H:%M}")
    out.print(t)
