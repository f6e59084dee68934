"""The load generator of bench/bench_tipg.py: one async httpx client per server, N requests in
flight, the two servers' requests in alternating chunks, and the results table."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Run:
    case: str
    server: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    errors: int
    mean_kb: float
    bodies: list | None = field(default=None, repr=False)
    lat: np.ndarray | None = field(default=None, repr=False)    # seconds, per request


async def run(client, paths: list[str], concurrency: int, case: str, server: str, keep: bool = False,
              ok=(200,)) -> Run:
    """Every path once, `concurrency` requests in flight; latency of each, throughput of all."""
    import httpx
    lat = np.zeros(len(paths))
    status = [0] * len(paths)
    size = np.zeros(len(paths))
    bodies = [b""] * len(paths) if keep else None
    todo = iter(range(len(paths)))   # shared by the workers: next() never awaits, so no lock

    async def worker():
        for i in todo:
            t0 = time.perf_counter()
            try:
                r = await client.get(paths[i])
            except httpx.RemoteProtocolError:   # a keep-alive connection closed under us: once more
                t0 = time.perf_counter()
                r = await client.get(paths[i])
            lat[i] = time.perf_counter() - t0
            status[i], size[i] = r.status_code, len(r.content)
            if keep:
                bodies[i] = r.content

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    ms = lat * 1000
    return Run(case, server, len(paths), wall, len(paths) / wall, float(np.percentile(ms, 50)),
               float(np.percentile(ms, 95)), sum(s not in ok for s in status), float(size.mean() / 1000), bodies, lat)


async def duel(clients: dict, paths: dict[str, list[str]], concurrency: int, case: str, keep: bool = False,
               ok=(200,), chunk: int = 50) -> dict[str, Run]:
    """The same requests to both servers in alternating chunks (tipg's chunk, then Pianqu's, then
    the other way round), so that whatever else the machine does weighs on both alike."""
    parts: dict[str, list[Run]] = {name: [] for name in paths}
    n = len(next(iter(paths.values())))
    order = list(paths)
    for k, i in enumerate(range(0, n, chunk)):
        for name in (order if k % 2 == 0 else order[::-1]):
            parts[name].append(await run(clients[name], paths[name][i:i + chunk], concurrency, case, name,
                                         keep=keep, ok=ok))
    out = {}
    for name, rs in parts.items():
        lat = np.concatenate([r.lat for r in rs]) * 1000
        seconds = sum(r.seconds for r in rs)
        out[name] = Run(case, name, n, seconds, n / seconds, float(np.percentile(lat, 50)),
                        float(np.percentile(lat, 95)), sum(r.errors for r in rs),
                        float(sum(r.mean_kb * r.requests for r in rs) / n),
                        [b for r in rs for b in r.bodies] if keep else None)
    return out


def client(base: str, headers: dict, concurrency: int):
    import httpx
    # uvicorn closes a keep-alive connection idle for 5 s (as it is while the other server has its
    # chunk): let the client drop it first, so a request never goes out on a closing connection.
    return httpx.AsyncClient(base_url=base, headers={"Accept-Encoding": "identity", **headers}, timeout=120,
                             limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                                                 keepalive_expiry=2.0))


def table(runs: list[Run]) -> tuple[str, list[dict]]:
    by = {(r.case, r.server): r for r in runs}
    cases = list(dict.fromkeys(r.case for r in runs))
    lines = ["| case | server | requests | req/s | p50 ms | p95 ms | mean kB | errors | Pianqu/tipg req/s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ratios = []
    for c in cases:
        t, p = by.get((c, "tipg")), by.get((c, "pianqu"))
        ratio = p.rps / t.rps if t and p else None
        if ratio is not None:
            ratios.append({"case": c, "rps_ratio": round(ratio, 2), "p95_ratio": round(p.p95_ms / t.p95_ms, 3)})
        for r in (t, p):
            if r is None:
                continue
            last = f"**{ratio:.2f}x**" if r is p and ratio is not None else ""
            lines.append(f"| {c} | {r.server} | {r.requests:,} | {r.rps:,.1f} | {r.p50_ms:,.1f} | {r.p95_ms:,.1f} | "
                         f"{r.mean_kb:,.1f} | {r.errors} | {last} |")
    return "\n".join(lines), ratios
