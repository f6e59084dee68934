"""`pianqu demo-data` and `pianqu demo-load`: the demo city's files and its fast load."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from gis.errors import InputError

from .common import engine, err, progress

DEMO_DIR = Path("data")
SIZES = ("small", "city")


def demo_dir(size: str, seed: int) -> Path:
    return DEMO_DIR / f"demo-{size}-{seed}"


def _check(size: str, seed: int) -> None:
    if size not in SIZES:
        raise InputError(f"--size {size!r}: expected small or city")
    if not 0 <= seed < 2 ** 32:
        raise InputError(f"--seed {seed}: expected 0 to {2 ** 32 - 1}")


def _generate(size: str, seed: int, target: Path):
    from gis.demo import generate
    with progress() as p:
        p.add_task(f"generating the {size} demo city (seed {seed})", total=None)
        t0 = time.perf_counter()
        city = generate(size=size, seed=seed)
        city.write(target)
    err.print(f"generated {size} demo city in {time.perf_counter() - t0:.1f} s -> {target}")
    return city


def demo_data(size: Annotated[str, typer.Option(help="small (~20,000 subscribers) or city (~700,000).")] = "small",
              seed: int = 7,
              out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder.")] = None,
              if_missing: Annotated[bool, typer.Option(help="Do nothing if the files exist.")] = False) -> None:
    """Generate a demo city's files (GeoParquet per layer + ground_truth.json) under data/."""
    _check(size, seed)
    target = out_dir or demo_dir(size, seed)
    if if_missing and (target / "manifest.json").is_file():
        err.print(f"demo data present: {target}")
        return
    _generate(size, seed, target)


def demo_load(size: str = "city", seed: int = 7,
              if_missing: Annotated[bool, typer.Option(help="Skip if this demo city is already loaded.")] = False,
              replace: Annotated[bool, typer.Option(help="Replace the demo city (one transaction: the old city "
                                                         "stays whole if the load fails).")] = False,
              plan: Annotated[bool, typer.Option(help="Leave the city with an active plan whose every district "
                                                      "has a manager.")] = True) -> None:
    """Load a demo city into the store (generating its files first if needed), fast path."""
    from gis import store
    from gis.demo import DemoCity
    import geopandas as gpd
    _check(size, seed)
    eng = engine()
    target = demo_dir(size, seed)
    have_files = (target / "manifest.json").is_file()
    city = None if have_files else _generate(size, seed, target)
    # The city's id from its one-row layer, so a second run decides without reading the rest.
    city_id = str(gpd.read_parquet(target / "cities.parquet")["id"].iat[0])
    with eng.connect() as conn:
        present = city_id in store.city_ids(conn)
    if present and if_missing and not replace:
        err.print(f"demo city {city_id!r} already loaded")
        _ready(eng, city_id, plan, seed)
        return
    if present and not replace:
        raise InputError(f"city {city_id!r} is already in the store; pass --replace to reload it")
    city = city or DemoCity.read(target)
    total = sum(len(g) for g in city.layers.values())
    seconds, last = {}, [time.perf_counter()]

    def tick(name, n):
        now = time.perf_counter()
        seconds[name], last[0] = now - last[0], now
        p.update(task, advance=n, description=f"loaded {name}")

    t0 = time.perf_counter()
    with progress() as p:
        task = p.add_task(f"loading {city_id}", total=total)
        with eng.begin() as conn:
            store.bulk_load(conn, city.layers, source=str(target), progress=tick,
                            replace=city_id if present else None)
    dt = time.perf_counter() - t0
    subs = len(city.layers["subscribers"])
    err.print(f"loaded {total:,} rows of {city_id} in {dt:.1f} s ({total / dt:,.0f} rows/s; "
              f"subscribers {subs / seconds['subscribers']:,.0f}/s)")
    _ready(eng, city_id, plan, seed)


def _ready(eng, city_id: str, plan: bool, seed: int) -> None:
    """The demo ready to use: an active plan, every district with its manager, the call centre's
    other work beside the faults, and every ticket stepped through the work-order loop (its
    history)."""
    from api.services import tickets
    from api.services.demo_work import add_other_work
    if plan:
        from api.services.districts import ensure_demo_plan
        t0 = time.perf_counter()
        with progress() as p:
            task = p.add_task("planning the demo's districts", total=None)
            res = ensure_demo_plan(eng, city_id, progress=lambda msg: p.update(task, description=msg))
        if res:
            err.print(f"active plan {res['plan']}: {res['districts']} districts (largest deviation "
                      f"{res['max_deviation']:.2%}), each with a manager ({res['in_own_community']} in their own "
                      f"community) in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with eng.begin() as conn:
        work = add_other_work(conn, city_id, seed)
        res = tickets.adopt(conn, city_id, actor="pianqu demo")
    if work:
        err.print("the call centre's other work: " + ", ".join(f"{n:,} {k}" for k, n in work.items()))
    if res["tickets"]:
        err.print(f"{res['tickets']:,} tickets stepped through the work-order loop ({res['events']:,} events) "
                  f"in {time.perf_counter() - t0:.1f} s")
