"""GET /lookup at city size: p50/p95 of each kind of lookup through a real HTTP client to a
`pianqu serve` on a free loopback port, and of the service function alone.

    .venv/bin/python bench/bench_lookup.py [CITY_DATABASE_URL]   (default: the URL in /tmp/city_url)

The city database is only read: its data are copied (pg_dump --data-only) into a scratch
database migrated to head (so it has the address index and an API user), which is dropped after.
Prints one Markdown table.
"""
from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import make_url, text  # noqa: E402

from api.services import lookup as svc  # noqa: E402
from gis import db, lookup as glookup, users  # noqa: E402
from tests.servers import serve  # noqa: E402

N = 2000          # requests per kind
SEED = 0


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _copy(src: str, dst: str) -> None:
    dump = subprocess.Popen(["pg_dump", "--data-only", "--disable-triggers", "--exclude-table=alembic_version",
                             "--exclude-table=api_users", _libpq(src)], stdout=subprocess.PIPE)
    subprocess.run(["psql", "-q", "-o", "/dev/null", _libpq(dst)], stdin=dump.stdout, check=True,
                   stderr=subprocess.DEVNULL)
    if dump.wait() != 0:
        raise SystemExit("pg_dump of the city database failed")


def _misspell(address: str, rng: random.Random) -> str:
    name = glookup.address_tokens(address)[0]
    i = rng.randrange(len(name))
    wrong = "甲" if name[i] != "甲" else "乙"
    return address.replace(name, name[:i] + wrong + name[i + 1:], 1)


def _inputs(conn, rng: random.Random) -> dict[str, list[dict]]:
    rows = conn.execute(text("SELECT id, address, ST_X(geometry) AS x, ST_Y(geometry) AS y FROM subscribers "
                             "TABLESAMPLE SYSTEM (2) REPEATABLE (0) WHERE address ~ '号' LIMIT :n"),
                        {"n": N}).all()
    j = lambda: rng.uniform(-0.0002, 0.0002)  # noqa: E731  (about 20 m)
    return {
        "point": [{"lon": r.x + j(), "lat": r.y + j()} for r in rows],
        "subscriber": [{"subscriber": r.id} for r in rows],
        "address, exact": [{"address": r.address} for r in rows],
        "address, house only": [{"address": r.address[:r.address.index("号") + 1]} for r in rows],
        "address, city in front": [{"address": "长沙市岳麓区" + r.address} for r in rows],
        "address, one wrong character": [{"address": _misspell(r.address, rng)} for r in rows],
    }


def _pct(ts: list[float]) -> tuple[float, float]:
    a = np.asarray(ts) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def main(city_url: str) -> None:
    import httpx
    with db.scratch_database("pianqu_bench_lookup", city_url) as url:
        t = time.perf_counter()
        db.upgrade(url)
        _copy(city_url, url)
        eng = db.engine(url)
        with eng.begin() as conn:
            conn.execute(text("ANALYZE"))
            _, key = users.add(conn, "bench-lookup", "analyst")
            n = conn.execute(text("SELECT count(*) FROM subscribers")).scalar()
        print(f"copied the city ({n:,} subscribers) and migrated it in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        with eng.connect() as conn:
            inputs = _inputs(conn, random.Random(SEED))
        with serve(url) as base:   # a real `pianqu serve` on loopback (the tests' own)
            rows = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client, \
                    eng.connect() as conn:
                for kind, params in inputs.items():
                    for p in params[:50]:  # warm both paths
                        client.get("/lookup", params=p)
                        svc.lookup(conn, **p)
                    http_t, svc_t, found = [], [], 0
                    for p in params:
                        t0 = time.perf_counter()
                        r = client.get("/lookup", params=p)
                        http_t.append(time.perf_counter() - t0)
                        found += r.status_code == 200
                    for p in params:
                        t0 = time.perf_counter()
                        try:
                            svc.lookup(conn, **p)
                        except Exception:   # a 404 (far point, no such address) costs the same
                            pass
                        svc_t.append(time.perf_counter() - t0)
                    (h50, h95), (s50, s95) = _pct(http_t), _pct(svc_t)
                    rows.append((kind, len(params), found, h50, h95, s50, s95))
        eng.dispose()
    print(f"\nGET /lookup on the city ({n:,} subscribers), {N:,} requests per kind, one client, keep-alive\n")
    print("| lookup | requests | 200 | HTTP p50 ms | HTTP p95 ms | service p50 ms | service p95 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, k, ok, h50, h95, s50, s95 in rows:
        print(f"| {kind} | {k:,} | {ok:,} | {h50:.1f} | {h95:.1f} | {s50:.1f} | {s95:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path("/tmp/city_url").read_text().strip())
