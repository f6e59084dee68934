"""Work orders at city size, through a real `pianqu serve` on loopback:

1. intake and routing: POST /tickets by subscriber, N in flight; tickets per second, p50/p95, and
   every ticket checked against the owner read straight from the tables;
2. 32 clients racing on the same tickets: every accepted step in the history exactly once, the
   refused ones 409;
3. today's inspection rounds of every manager of the city (the service, then over HTTP).

    .venv/bin/python bench/bench_tickets.py [CITY_DATABASE_URL] [--workers 2]  (default: /tmp/city_url)

The tickets it makes are deleted at the end. Prints one Markdown table.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import text  # noqa: E402

from gis import db, users  # noqa: E402
from gis.users import User  # noqa: E402
from tests.servers import serve  # noqa: E402

INTAKE = 6000
CONCURRENCY = 8
RACERS = 32
RACE_TICKETS = 40
SEED = 0


def _post_all(base, key, bodies, concurrency):
    """Through the lean client (bench/raw_http.py): httpx's own CPU would be most of what is measured."""
    import json
    from urllib.parse import urlparse
    from raw_http import load
    lat, answers, secs = asyncio.run(load("127.0.0.1", urlparse(base).port,
                                          [("POST", path, body) for path, body in bodies], concurrency, key))
    return secs, lat, [(code, json.loads(body)) for code, body in answers]


def _owners(conn, subscribers):
    rows = conn.execute(text("""
        SELECT s.id, a.manager_id FROM subscribers s
        JOIN district_plans p ON p.city_id = s.city_id AND p.status = 'active'
        LEFT JOIN district_members m ON m.plan_id = p.id AND m.box_id = s.box_id AND (m.dp_id IS NULL OR m.dp_id = s.dp_id)
        LEFT JOIN district_assignments a ON a.district_id = m.district_id AND a.valid_from <= now()
             AND (a.valid_to IS NULL OR a.valid_to > now())
        WHERE s.id = ANY(:s)"""), {"s": list(subscribers)}).all()
    return dict(rows)


def main(city_url: str, workers: int) -> None:
    eng = db.engine(city_url)
    rng = random.Random(SEED)
    with eng.begin() as conn:
        city = conn.execute(text("SELECT id FROM cities ORDER BY id LIMIT 1")).scalar()
        subs = conn.execute(text("SELECT id FROM subscribers TABLESAMPLE SYSTEM (5) REPEATABLE (0) LIMIT :n"),
                            {"n": INTAKE}).scalars().all()
        tag = f"{rng.randrange(10**6):06d}"
        _, cc = users.add(conn, f"bench-cc-{tag}", "callcentre")
        _, pl = users.add(conn, f"bench-planner-{tag}", "planner")
        first = conn.execute(text("SELECT coalesce(max(id), 'T') FROM fault_tickets WHERE id LIKE 'T%'")).scalar()
    owners = _owners(eng.connect(), subs)
    rows = []
    try:
        with serve(city_url, env={"PIANQU_SCAN_SECONDS": "0"}, args=("--workers", str(workers))) as base:
            import httpx
            # warm the workers' pools and the plan's pages
            _post_all(base, cc, [("/tickets", {"subscriber_id": s}) for s in subs[:100]], 4)
            secs, lat, out = _post_all(base, cc, [("/tickets", {"subscriber_id": s}) for s in subs[100:]], CONCURRENCY)
            ok = [b for code, b in out if code == 201]
            right = sum(b["manager_id"] == owners.get(b["subscriber_id"]) for b in ok)
            rows.append(("intake by subscriber (POST /tickets)", len(out), f"{len(out) / secs:,.0f} tickets/s",
                         f"{np.percentile(lat, 50) * 1000:.1f}", f"{np.percentile(lat, 95) * 1000:.1f}",
                         f"{len(ok):,} created, {right:,} to the right manager"))

            # 32 clients, each step on each of RACE_TICKETS tickets several times over
            ids = [b["id"] for b in ok[:RACE_TICKETS]]
            holders = {b["id"]: b["manager_id"] for b in ok[:RACE_TICKETS]}
            keys = {}
            with eng.begin() as conn:
                for m in set(holders.values()):
                    keys[m] = users.add(conn, f"bench-mgr-{m}-{tag}", "manager", m)[1]
            steps = [("contact", {}), ("arrive", {}), ("clear", {"cause_found": "drop", "work_done": "fixed"})]
            plan = [(ids[i % len(ids)], *steps[(i // len(ids)) % 3]) for i in range(len(ids) * 3 * 4)]
            rng.shuffle(plan)

            async def race():
                sem = asyncio.Semaphore(RACERS)
                clients = {m: httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {k}"}, timeout=60)
                           for m, k in keys.items()}

                async def one(tid, action, body):
                    async with sem:
                        r = await clients[holders[tid]].post(f"/tickets/{tid}/{action}", json=body)
                        return tid, action, r.status_code
                t0 = time.perf_counter()
                res = await asyncio.gather(*(one(*p) for p in plan))
                for c in clients.values():
                    await c.aclose()
                return time.perf_counter() - t0, res
            secs, res = asyncio.run(race())
            codes = [c for *_, c in res]
            lost = dup = 0
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {pl}"}, timeout=60) as c:
                for tid in ids:
                    hist = c.get(f"/tickets/{tid}").json()["history"]
                    done = [h["action"] for h in hist if h["action"] in ("contact", "arrive", "clear")]
                    accepted = sum(1 for t, _, code in res if t == tid and code == 200)
                    lost += max(0, accepted - len(done))
                    dup += max(0, len(done) - accepted) + (len(done) - len(set(done)))
                    assert [h["seq"] for h in hist] == list(range(1, len(hist) + 1))
            rows.append((f"{RACERS} clients racing on {len(ids)} tickets", len(res), f"{len(res) / secs:,.0f} steps/s",
                         "", "", f"{codes.count(200)} accepted, {codes.count(409)} refused (409), "
                                 f"{len(codes) - codes.count(200) - codes.count(409)} other; lost {lost}, duplicated {dup}"))

            # rounds of every manager today: the service, then over HTTP one after another
            from api.services import rounds
            with eng.connect() as conn:
                rounds.round_of(conn, User("bench", "planner"), conn.execute(text(
                    "SELECT id FROM managers WHERE city_id = :c ORDER BY id LIMIT 1"), {"c": city}).scalar())  # network
                t0 = time.perf_counter()
                all_rounds = rounds.rounds_of_city(conn, User("bench", "planner"), city)
                secs = time.perf_counter() - t0
            stops = [r["due"] for r in all_rounds]
            rows.append(("today's rounds, every manager (service)", len(all_rounds), f"{secs:.1f} s in all", "", "",
                         f"{sum(stops):,} stops, {np.mean(stops):.1f} per round, "
                         f"{np.mean([r['length_m'] for r in all_rounds]) / 1000:.1f} km mean"))
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {pl}"}, timeout=120) as c:
                mids = [r["manager_id"] for r in all_rounds]
                c.get(f"/managers/{mids[0]}/rounds")
                lat = []
                t0 = time.perf_counter()
                for m in mids:
                    t1 = time.perf_counter()
                    assert c.get(f"/managers/{m}/rounds").status_code == 200
                    lat.append(time.perf_counter() - t1)
                secs = time.perf_counter() - t0
            rows.append(("today's rounds, every manager (GET /managers/{id}/rounds)", len(mids), f"{secs:.1f} s in all",
                         f"{np.percentile(lat, 50) * 1000:.0f}", f"{np.percentile(lat, 95) * 1000:.0f}", ""))
    finally:
        with eng.begin() as conn:
            conn.execute(text("DELETE FROM fault_tickets WHERE id LIKE 'T%' AND id > :f"), {"f": first})
            conn.execute(text("DELETE FROM api_users WHERE id LIKE :t"), {"t": f"bench-%-{tag}"})
        eng.dispose()
    print(f"\nWork orders on {city} ({len(subs):,} subscribers sampled), `pianqu serve --workers {workers}`, "
          f"{CONCURRENCY} requests in flight for intake\n")
    print("| case | requests | throughput | p50 ms | p95 ms | checked |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print("| " + " | ".join(str(x) if not isinstance(x, int) else f"{x:,}" for x in r) + " |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?", default=None)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    main(a.url or Path("/tmp/city_url").read_text().strip(), a.workers)
