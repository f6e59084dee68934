"""Pianqu against tipg (developmentseed's OGC API Features and Tiles server) on the same PostGIS
table of city-size subscribers, in one run, with the same client and concurrency, loopback only.

    .venv/bin/python bench/bench_tipg.py [--database-url URL] [--keep] [--json FILE]
                                         [--items 400] [--tiles 300] [--concurrency 8]

- tipg 1.6.x is installed on first run into its own virtualenv (.pianqu/bench-tipg-venv, pip from
  the registry), so its pins never touch the product's venv, and served by uvicorn, 1 worker,
  restricted to public.subscribers. Pianqu is `pianqu serve --workers 1` with a planner key.
- The database: by default a scratch one this script creates and loads with the city demo
  (`pianqu db upgrade`, `pianqu demo-load --size city --no-plan`), dropped at the end unless
  --keep. --database-url uses an existing Pianqu store instead (migrated to head, with the city
  loaded); the script then writes only an API user (revoked at the end) and empties Pianqu's
  tile cache.
- Items: square bboxes around random subscribers, sized from the data to match about 1,000
  subscribers each (counted in SQL), `limit=1000`, the same list for both servers; the answers of
  the timed pass are then compared: the same numberMatched and numberReturned and, where the
  whole match fits in the page, the same ids (else the run stops: it would compare different
  answers). tipg's items default to all columns, as Pianqu's: nothing needed equalising.
- Tiles z12..16 (Pianqu's subscribers minzoom, from its TileJSON, up): the block of tiles around
  the subscribers' mean centre plus tiles of random subscribers. Cold is the first request of
  each tile (Pianqu's tile cache emptied first; tipg has no cache), warm the same tiles again.
  tipg is asked for the properties Pianqu's tiles carry (`properties=id,box_id,dp_id`) and its
  cap of 10,000 features per tile is lifted (TIPG_MAX_FEATURES_PER_TILE, --tipg-tile-limit), so
  both servers make the same tiles; the decoded feature counts of both are reported per zoom.
- Client: one async httpx client per server, the same code, N requests in flight, warm-up
  excluded; `Accept-Encoding: identity` for both (tipg would otherwise spend time compressing on
  loopback). The two servers get their requests in alternating chunks of 50, so other load on
  the machine weighs on both alike; the load average is printed with the table.

Prints a Markdown table (requests/s, p50, p95 per case and server, Pianqu/tipg ratios) on
stdout; --json FILE writes the same figures. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text

ZOOMS = (12, 13, 14, 15, 16)
TARGET = 1000                  # subscribers per bbox, and the page size
WARM_TILE_PASSES = 1
WARMUP_ITEMS = 40
# tipg stops a tile at 10,000 features by default; Pianqu's subscribers tiles hold every feature
# from their minzoom (12) on, so the default lifts tipg's cap to compare the same tiles.
TIPG_TILE_LIMIT = 1_000_000
TILE_PATH = {"tipg": "/collections/public.subscribers/tiles/WebMercatorQuad/{z}/{x}/{y}{q}",
             "pianqu": "/tiles/subscribers/{z}/{x}/{y}.pbf"}


from http_load import Run, client, duel, run, table  # noqa: E402
from tipg_servers import (Server, create_scratch, drop_scratch, log, pianqu_cli, sqla,  # noqa: E402
                          start_null, start_pianqu, start_tipg, tipg_python, tipg_version)


# --- items ---------------------------------------------------------------------------------

def pick_bboxes(conn, n: int, seed: str) -> tuple[list[tuple[float, ...]], list[int]]:
    """n squares around random subscribers, each matching about TARGET subscribers: the half-side
    from the distance to the TARGET-th nearest neighbour (a square of the circle's area), then
    one correction from the square's own count; the final counts are returned."""
    rows = conn.execute(text(
        "SELECT ST_X(c.g), ST_Y(c.g), (SELECT max(ST_Distance(c.g, s.geometry)) FROM "
        "  (SELECT geometry FROM subscribers ORDER BY geometry <-> c.g LIMIT :k) s) "
        "FROM (SELECT geometry AS g, id FROM subscribers ORDER BY md5(id || :seed) LIMIT :n) c ORDER BY c.id"),
        {"k": TARGET, "n": n, "seed": seed}).all()
    x, y = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    h = np.array([r[2] for r in rows]) * math.sqrt(math.pi) / 2
    for _ in range(2):
        boxes = [tuple(round(v, 7) for v in b) for b in zip(x - h, y - h, x + h, y + h)]
        counts = count_boxes(conn, boxes)
        h = h * np.sqrt(TARGET / np.maximum(counts, 1))      # density is about uniform at this scale
    return boxes, [int(c) for c in counts]


def count_boxes(conn, boxes) -> np.ndarray:
    cols = list(zip(*boxes))
    res = conn.execute(text(
        "SELECT b.i, (SELECT count(*) FROM subscribers s WHERE s.geometry && ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, "
        "4326) AND ST_Intersects(s.geometry, ST_MakeEnvelope(b.x0, b.y0, b.x1, b.y1, 4326))) "
        "FROM unnest(CAST(:x0 AS float8[]), CAST(:y0 AS float8[]), CAST(:x1 AS float8[]), CAST(:y1 AS float8[])) "
        "WITH ORDINALITY AS b(x0, y0, x1, y1, i) ORDER BY b.i"),
        {"x0": list(cols[0]), "y0": list(cols[1]), "x1": list(cols[2]), "y1": list(cols[3])}).all()
    return np.array([r[1] for r in res])


def bbox_param(b) -> str:
    return ",".join(f"{v:.7f}" for v in b)


def check_items(bodies: dict[str, list[bytes]]) -> dict:
    """Both servers' answers to every bbox compared: the same numberMatched and numberReturned and,
    where the whole match fits in the page, the same ids (tipg pages in no order, Pianqu by id)."""
    answers = {name: [json.loads(b) for b in bs] for name, bs in bodies.items()}
    mismatches = []
    same_ids = 0
    for i, (a, b) in enumerate(zip(answers["tipg"], answers["pianqu"])):
        ta = (a["numberMatched"], a["numberReturned"], len(a["features"]))
        tb = (b["numberMatched"], b["numberReturned"], len(b["features"]))
        if ta != tb:
            mismatches.append(f"bbox {i}: tipg matched/returned/features {ta}, pianqu {tb}")
        elif a["numberMatched"] <= a["numberReturned"]:
            if sorted(f["id"] for f in a["features"]) != sorted(f["id"] for f in b["features"]):
                mismatches.append(f"bbox {i}: the same count but not the same ids")
            else:
                same_ids += 1
    if mismatches:
        raise SystemExit("the servers answer differently (the comparison would be worthless):\n  "
                         + "\n  ".join(mismatches[:10]))
    returned = [a["numberReturned"] for a in answers["tipg"]]
    return {"bboxes": len(returned), "returned_min": min(returned), "returned_median": int(np.median(returned)),
            "returned_max": max(returned), "same_ids_checked": same_ids}


# --- tiles ---------------------------------------------------------------------------------

def tile_of(lon: np.ndarray, lat: np.ndarray, z: int) -> tuple[np.ndarray, np.ndarray]:
    n = 2 ** z
    x = np.floor((lon + 180) / 360 * n).astype(int)
    y = np.floor((1 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2 * n).astype(int)
    return np.clip(x, 0, n - 1), np.clip(y, 0, n - 1)


def pick_tiles(conn, per_zoom: int, seed: str) -> dict[int, list[tuple[int, int, int]]]:
    """Per zoom: the block of tiles around the subscribers' mean centre (half the tiles), then the
    tiles of random subscribers, distinct, up to per_zoom (fewer where the city has fewer)."""
    cx, cy = conn.execute(text("SELECT avg(ST_X(geometry)), avg(ST_Y(geometry)) FROM subscribers")).one()
    sample = conn.execute(text("SELECT ST_X(geometry), ST_Y(geometry) FROM subscribers "
                               "ORDER BY md5(id || :seed) LIMIT 20000"), {"seed": seed}).all()
    lon, lat = np.array([r[0] for r in sample]), np.array([r[1] for r in sample])
    out = {}
    for z in ZOOMS:
        occupied = dict.fromkeys(zip(*(a.tolist() for a in tile_of(lon, lat, z))))   # in random order
        x0, y0 = (int(v[0]) for v in tile_of(np.array([cx]), np.array([cy]), z))
        k = max(1, int(math.sqrt(per_zoom / 2)))
        block = [(x0 + dx, y0 + dy) for dy in range(-(k // 2), k - k // 2) for dx in range(-(k // 2), k - k // 2)]
        block = [t for t in block if t in occupied]
        tiles = list(dict.fromkeys(block + list(occupied)))[:per_zoom]
        out[z] = [(z, x, y) for x, y in tiles]
    return out


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if c < 0x80:
            return value, i
        shift += 7


def _fields(b):
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i)
        f, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 2:
            length, i = _varint(b, i)
            v, i = b[i:i + length], i + length
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield f, v


def mvt_layers(tile: bytes) -> dict[str, tuple[int, list[str]]]:
    """{layer name: (features, property keys)} of a Mapbox vector tile, from its protobuf fields
    (Tile.layers = 3; Layer.name = 1, features = 2, keys = 3), with no decoder package."""
    out = {}
    for f, layer in _fields(memoryview(tile)):
        if f != 3:
            continue
        name, n, keys = "", 0, []
        for lf, v in _fields(layer):
            if lf == 1:
                name = bytes(v).decode()
            elif lf == 2:
                n += 1
            elif lf == 3:
                keys.append(bytes(v).decode())
        out[name] = (n, keys)
    return out


def features_in(tile: bytes) -> int:
    return sum(n for n, _ in mvt_layers(tile).values()) if tile else 0


def forget_tiles(url: str) -> str:
    """Empty Pianqu's tile cache: gis.tiles.forget_all if it exists, else DELETE FROM its table."""
    eng = create_engine(sqla(url))
    try:
        with eng.begin() as conn:
            try:
                from gis import tiles
                if hasattr(tiles, "forget_all"):
                    tiles.forget_all(conn)
                    return "gis.tiles.forget_all"
            except ImportError:
                pass
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                       "AND tablename LIKE '%tile%'")).scalars().all()
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            return f"DELETE FROM {', '.join(tables)}" if tables else "no tile cache table"
    finally:
        eng.dispose()


def pianqu_tile_info(pianqu_client_sync) -> tuple[int | None, str]:
    """Pianqu's subscribers minzoom from its TileJSON, or None (with the reason) if tiles are not there."""
    r = pianqu_client_sync.get("/tiles/subscribers.json")
    if r.status_code != 200:
        return None, f"GET /tiles/subscribers.json answered {r.status_code}"
    return int(r.json().get("minzoom", 0)), ""


# --- the run -------------------------------------------------------------------------------

async def bench(url: str, args, tipg: Server, pianqu: Server, null: Server, key: str) -> dict:
    import httpx
    conc = args.concurrency
    eng = create_engine(sqla(url))
    runs: list[Run] = []
    report: dict = {}
    clients = {"tipg": client(tipg.base, {}, conc), "pianqu": client(pianqu.base, {"Authorization": f"Bearer {key}"}, conc),
               "null": client(null.base, {}, conc)}
    try:
        # ---- items
        t0 = time.perf_counter()
        with eng.connect() as conn:
            boxes, counts = pick_bboxes(conn, args.items, args.seed)
        log(f"picked {len(boxes)} bboxes in {time.perf_counter() - t0:.1f} s: subscribers in each "
            f"min {min(counts)}, median {int(np.median(counts))}, max {max(counts)}")
        paths = {"tipg": [f"/collections/public.subscribers/items?bbox={bbox_param(b)}&limit={TARGET}" for b in boxes],
                 "pianqu": [f"/collections/subscribers/items?bbox={bbox_param(b)}&limit={TARGET}" for b in boxes]}
        for name in ("tipg", "pianqu"):     # warm-up, not timed
            await run(clients[name], paths[name][:WARMUP_ITEMS], conc, "items warm-up", name)
        res = await duel(clients, paths, conc, "items bbox ~1,000, limit=1000", keep=True)
        bodies = {}
        for name, r in res.items():
            bodies[name], r.bodies = r.bodies, None
            runs.append(r)
            log(f"items {name}: {r.rps:.1f} req/s, p95 {r.p95_ms:.0f} ms")
            if r.errors:
                raise SystemExit(f"{name}: {r.errors} of {r.requests} item requests failed")
        report["items_check"] = {**check_items(bodies), "sql_count_min": min(counts), "sql_count_max": max(counts)}
        del bodies
        log(f"items: both servers answered the same ({report['items_check']})")

        # ---- tiles
        with httpx.Client(base_url=pianqu.base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            minzoom, why = pianqu_tile_info(c)
        if args.skip_tiles:
            why = "--skip-tiles"
            minzoom = None
        if minzoom is None:
            report["tiles"] = f"not run: {why}"
            log(f"tiles not run: {why}")
        else:
            report["tiles"] = await bench_tiles(url, args, clients, minzoom, runs, eng)
    finally:
        for c in clients.values():
            await c.aclose()
        eng.dispose()
    report["runs"] = runs
    return report


async def bench_tiles(url: str, args, clients: dict, minzoom: int, runs: list[Run], eng) -> dict:
    conc = args.concurrency
    zooms = [z for z in ZOOMS if z >= minzoom]
    with eng.connect() as conn:
        tiles = pick_tiles(conn, args.tiles, args.seed)
    # The properties Pianqu's tiles carry, asked of tipg too, so both tiles hold the same attributes.
    z, x, y = tiles[zooms[0]][0]
    probe = await clients["pianqu"].get(TILE_PATH["pianqu"].format(z=z, x=x, y=y, q=""))
    layers = mvt_layers(probe.content)
    props = sorted({k for _, keys in layers.values() for k in keys})     # id too: Pianqu's tiles carry it
    info = {"pianqu_minzoom": minzoom, "zooms": zooms, "pianqu_layers": list(layers),
            "tipg_properties": ",".join(props) if props else "(tipg default: all columns)",
            "tipg_max_features_per_tile": args.tipg_tile_limit, "per_zoom": {}}
    tq = f"?properties={','.join(props)}" if props else ""
    path = {name: (lambda t, f=f, q=q: f.format(z=t[0], x=t[1], y=t[2], q=q))
            for name, f, q in (("tipg", TILE_PATH["tipg"], tq), ("pianqu", TILE_PATH["pianqu"], ""))}
    # warm-up (not timed): z17 tiles of other random subscribers, outside the measured set
    with eng.connect() as conn:
        pts = conn.execute(text("SELECT ST_X(geometry), ST_Y(geometry) FROM subscribers ORDER BY md5(id || 'warm') "
                                "LIMIT 40")).all()
    wx, wy = tile_of(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), 17)
    warm = [(17, int(a), int(b)) for a, b in zip(wx, wy)]
    for name in ("tipg", "pianqu"):
        await run(clients[name], [path[name](t) for t in warm], conc, "tiles warm-up", name, ok=(200, 204))
    ok = (200, 204)   # an empty tile may be a 204
    for zz in zooms:
        ts = tiles[zz]
        how = forget_tiles(url)
        info["cache_cleared_with"] = how
        zinfo = {"tiles": len(ts)}
        tp = {name: [path[name](t) for t in ts] for name in ("tipg", "pianqu")}
        cold = await duel(clients, tp, conc, f"tiles z{zz} cold", keep=True, ok=ok)
        # The ceiling: answers of the same sizes from a server that only sends bytes
        # (bench/null_tiles.py), in the same rotation, so a warm figure can be read against what
        # the client reaches on this machine.
        warm_paths = {k: v * WARM_TILE_PASSES for k, v in tp.items()}
        warm_paths["null"] = [f"/bytes/{len(b)}" for b in cold["pianqu"].bodies] * WARM_TILE_PASSES
        warm_r = await duel(clients, warm_paths, conc, f"tiles z{zz} warm", ok=ok)
        ceiling = warm_r["null"]
        zinfo["warm_ceiling_rps"] = round(ceiling.rps, 1)
        zinfo["warm_target_rps"] = round(10 * warm_r["tipg"].rps, 1)
        zinfo["warm_pianqu_of_ceiling"] = round(warm_r["pianqu"].rps / ceiling.rps, 3)
        for name in ("tipg", "pianqu"):
            runs += [cold[name], warm_r[name]]
            feats = [features_in(b) for b in cold[name].bodies]
            cold[name].bodies = None
            zinfo[f"{name}_features"] = int(sum(feats))
            zinfo[f"{name}_max_features_in_a_tile"] = int(max(feats))
            zinfo[f"{name}_empty_tiles"] = int(sum(f == 0 for f in feats))
            zinfo[f"{name}_bytes"] = int(cold[name].mean_kb * 1000 * len(ts))
            if name == "tipg":
                zinfo["tipg_tiles_at_its_cap"] = int(sum(f >= info["tipg_max_features_per_tile"] for f in feats))
            log(f"tiles z{zz} {name}: cold {cold[name].rps:.1f} req/s p95 {cold[name].p95_ms:.0f} ms, "
                f"warm {warm_r[name].rps:.1f} req/s p95 {warm_r[name].p95_ms:.0f} ms, {sum(feats):,} features")
        a, b = zinfo["tipg_features"], zinfo["pianqu_features"]
        zinfo["feature_ratio_pianqu_tipg"] = round(b / a, 3) if a else None
        info["per_zoom"][zz] = zinfo
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="an existing Pianqu store with the city loaded (default: a scratch DB)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database (its URL is printed)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--items", type=int, default=400, help="item requests (distinct bboxes) per server")
    ap.add_argument("--tiles", type=int, default=300, help="distinct tiles per zoom (fewer where there are fewer)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--seed", default="pianqu")
    ap.add_argument("--tipg-tile-limit", type=int, default=TIPG_TILE_LIMIT,
                    help=f"TIPG_MAX_FEATURES_PER_TILE (default {TIPG_TILE_LIMIT:,}: every feature, as Pianqu "
                         "serves; tipg's own default is 10,000, which cuts dense z12-14 tiles short)")
    ap.add_argument("--skip-tiles", action="store_true")
    args = ap.parse_args()

    from gis.config import database_url
    started = time.perf_counter()
    py = tipg_python()
    version = tipg_version(py)
    scratch = None
    admin = database_url()
    if args.database_url:
        url = sqla(args.database_url)
    else:
        scratch, url = create_scratch(admin)
        log(f"scratch database {scratch}: migrating and loading the city demo (about a minute)")
        t0 = time.perf_counter()
        pianqu_cli(url, "db", "upgrade")
        pianqu_cli(url, "demo-load", "--size", "city", "--no-plan")
        log(f"loaded in {time.perf_counter() - t0:.0f} s")
    user = f"bench-tipg-{os.getpid()}"
    servers: list[Server] = []
    try:
        eng = create_engine(url)
        with eng.begin() as conn:
            n = conn.execute(text("SELECT count(*) FROM subscribers")).scalar()
            if not n:
                raise SystemExit("the database has no subscribers: load the city demo first")
            conn.execute(text("ANALYZE subscribers"))
        eng.dispose()
        key = pianqu_cli(url, "user", "add", user, "--role", "planner").strip().splitlines()[-1]
        logdir = Path(tempfile.mkdtemp(prefix="bench-tipg-"))
        servers.append(start_tipg(py, url, logdir, args.tipg_tile_limit))
        servers.append(start_pianqu(url, logdir))
        servers.append(start_null(logdir))
        log(f"tipg {version} at {servers[0].base}, Pianqu at {servers[1].base} ({n:,} subscribers)")
        before = os.getloadavg()[0]
        report = asyncio.run(bench(url, args, servers[0], servers[1], servers[2], key))
        load = {"before": round(before, 2), "after": round(os.getloadavg()[0], 2)}
    finally:
        for s in servers:
            s.stop()
        if servers and sys.exc_info()[0] is None:
            shutil.rmtree(servers[0].logfile.parent, ignore_errors=True)
        if args.database_url:
            try:
                pianqu_cli(url, "user", "revoke", user)
            except SystemExit:
                pass
        elif scratch and not args.keep:
            drop_scratch(admin, scratch)
        elif scratch:
            log(f"kept the scratch database: DATABASE_URL={url}")
    runs = report.pop("runs")
    md, ratios = table(runs)
    head = (f"Pianqu vs tipg {version} on {n:,} subscribers; {args.concurrency} concurrent requests, one async "
            f"httpx client, loopback, 1 worker each, the two servers' requests in alternating chunks; "
            f"{platform.machine()} with {os.cpu_count()} cores, load average {load['before']} before the run "
            f"and {load['after']} after (above the core count, other work shared the machine)")
    print(f"\n{head}\n\n{md}\n")
    print(f"items check: {report['items_check']}")
    if isinstance(report.get("tiles"), dict):
        for z, zi in report["tiles"]["per_zoom"].items():
            print(f"tiles z{z}: {zi}")
        print("\n| warm tiles | 10x tipg | the client's ceiling (a server that only sends the bytes) | Pianqu | "
              "Pianqu/ceiling |\n| --- | ---: | ---: | ---: | ---: |")
        by = {(r.case, r.server): r for r in runs}
        for z, zi in report["tiles"]["per_zoom"].items():
            print(f"| z{z} | {zi['warm_target_rps']:,.1f} | {zi['warm_ceiling_rps']:,.1f} | "
                  f"{by[(f'tiles z{z} warm', 'pianqu')].rps:,.1f} | {zi['warm_pianqu_of_ceiling']:.2f} |")
        print(f"tipg tiles asked with properties={report['tiles']['tipg_properties']}, "
              f"max {report['tiles']['tipg_max_features_per_tile']:,} features per tile")
    else:
        print(f"tiles: {report.get('tiles')}")
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"title": head, "tipg": version, "subscribers": n,
                                         "concurrency": args.concurrency,
                                         "load_average": load,
                                         "runs": [{k: v for k, v in asdict(r).items() if k not in ("bodies", "lat")}
                                                  for r in runs],
                                         "ratios": ratios, **report}, indent=2, default=str))


if __name__ == "__main__":
    main()
