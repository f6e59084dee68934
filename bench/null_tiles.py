"""The ceiling of bench/bench_tipg.py's warm tiles: an ASGI app that does nothing but answer
`/bytes/{n}` with n bytes from memory, on the same uvicorn (httptools, uvloop) as both servers.
What the benchmark's client reaches against it is the most any tile server could be measured at
on this machine with this client: the client, the server and PostgreSQL share its cores.

    .venv/bin/python -m uvicorn --app-dir bench null_tiles:app --port 8999
"""
from __future__ import annotations

BODY = bytes(8_000_000)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    n = int(path.rsplit("/", 1)[1]) if path.startswith("/bytes/") and path.rsplit("/", 1)[1].isdigit() else 0
    n = min(n, len(BODY))
    await send({"type": "http.response.start", "status": 200 if n else 204,
                "headers": [(b"content-type", b"application/vnd.mapbox-vector-tile"),
                            (b"content-length", str(n).encode())]})
    await send({"type": "http.response.body", "body": BODY[:n]})
