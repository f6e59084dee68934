"""Generate and load the city-size demo; compare the load with GeoPandas' own `to_postgis`.

    .venv/bin/python bench/bench_demo.py [--size city] [--seed 7] [--peer-rows 200000]

Each step runs in a child process so its peak memory (max RSS) is its own. The load goes into
a throwaway database on the same server as the store, created and dropped here. Prints one
Markdown table (the README copies it) and writes bench/results/demo.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(fn, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    res = q.get()
    p.join()
    if isinstance(res, BaseException):
        raise res
    return res


def _child(q, fn, args):
    try:
        out = fn(*args)
        out["peak_mb"] = _peak_mb()
        q.put(out)
    except BaseException as e:  # hand the failure to the parent
        q.put(RuntimeError(f"{fn.__name__}: {e!r}"))


def generate_step(size: str, seed: int, out: str) -> dict:
    from gis.demo import generate
    t0 = time.perf_counter()
    city = generate(size=size, seed=seed)
    gen_s = time.perf_counter() - t0
    city.write(out)
    return {"seconds": gen_s, "write_seconds": time.perf_counter() - t0 - gen_s,
            "rows": {k: len(v) for k, v in city.layers.items()}}


def load_step(url: str, out: str) -> dict:
    from gis import db, store
    from gis.demo import DemoCity
    city = DemoCity.read(out)
    db.upgrade(url)
    eng = db.engine(url)
    times, last = {}, [time.perf_counter()]

    def tick(name, n):
        now = time.perf_counter()
        times[name] = now - last[0]
        last[0] = now

    t0 = time.perf_counter()
    with eng.begin() as tx:
        store.bulk_load(tx, city.layers, progress=tick)
    total = time.perf_counter() - t0
    return {"seconds": total, "per_layer": times, "rows": {k: len(v) for k, v in city.layers.items()}}


def peer_step(url: str, out: str, n: int) -> dict:
    """GeoPandas' to_postgis (SQLAlchemy executemany under the hood) on the same subscribers."""
    import geopandas as gpd
    from sqlalchemy import create_engine
    subs = gpd.read_parquet(Path(out) / "subscribers.parquet").head(n)
    eng = create_engine(url)
    t0 = time.perf_counter()
    subs.to_postgis("peer_subscribers", eng, if_exists="replace", index=False, chunksize=50_000)
    return {"seconds": time.perf_counter() - t0, "rows": len(subs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="city")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--peer-rows", type=int, default=200_000)
    a = ap.parse_args()

    from gis.db import scratch_database

    with scratch_database("pianqu_bench") as url, tempfile.TemporaryDirectory() as tmp:
        gen = _run(generate_step, a.size, a.seed, tmp)
        load = _run(load_step, url, tmp)
        peer = _run(peer_step, url, tmp, a.peer_rows) if a.peer_rows else None

    subs = load["rows"]["subscribers"]
    total_rows = sum(load["rows"].values())
    sub_rate = subs / load["per_layer"]["subscribers"]
    rows = [
        ("generate the demo city", f"{gen['seconds']:.1f} s", f"{gen['peak_mb']:,.0f} MB",
         f"{subs:,} subscribers, {load['rows']['boxes']:,} boxes, {load['rows']['fault_tickets']:,} tickets"),
        ("write its GeoParquet files", f"{gen['write_seconds']:.1f} s", "", ""),
        ("load all layers (one transaction, COPY)", f"{load['seconds']:.1f} s", f"{load['peak_mb']:,.0f} MB",
         f"{total_rows:,} rows, {total_rows / load['seconds']:,.0f} rows/s, "
         f"{subs / load['seconds']:,.0f} subscribers/s end to end"),
        ("  of which subscribers", f"{load['per_layer']['subscribers']:.1f} s", "",
         f"{sub_rate:,.0f} subscribers/s"),
    ]
    if peer:
        prate = peer["rows"] / peer["seconds"]
        rows.append((f"peer: GeoDataFrame.to_postgis ({peer['rows']:,} subscribers)", f"{peer['seconds']:.1f} s",
                     f"{peer['peak_mb']:,.0f} MB", f"{prate:,.0f} subscribers/s; Pianqu is {sub_rate / prate:.1f}x"))
    print(f"\n| step ({a.size}, seed {a.seed}) | time | peak memory | figures |\n|---|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\nper layer (s): " + ", ".join(f"{k} {v:.2f}" for k, v in load["per_layer"].items()))
    res_dir = ROOT / "bench" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / f"demo-{a.size}.json").write_text(json.dumps({"generate": gen, "load": load, "peer": peer}, indent=2))


if __name__ == "__main__":
    main()
