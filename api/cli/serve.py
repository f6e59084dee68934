"""`pianqu serve`: the HTTP API on uvicorn."""
from __future__ import annotations

import os
import signal
from typing import Annotated, Optional

import typer

from gis.errors import InputError

from .common import engine, err


def serve(host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
          port: Annotated[Optional[int], typer.Option(help="Port (default: $PIANQU_PORT, else 8000).")] = None,
          workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
          demo_key: Annotated[bool, typer.Option(help="Print a fresh planner key (user 'demo') to try the API with.")] = False) -> None:
    """Serve the HTTP API until stopped (Ctrl-C)."""
    import uvicorn
    port = port if port is not None else int(os.environ.get("PIANQU_PORT", "8000"))
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: expected 1 to 65535")
    if not 1 <= workers <= 64:
        raise InputError(f"--workers {workers}: expected 1 to 64")
    from gis import users
    with engine().begin() as conn:   # fails here, in one line, if the store is not reachable
        key = users.rotate(conn, "demo") if demo_key else None
    url = f"http://{host}:{port}"
    err.print(f"Pianqu serves {url}  ·  planner map {url}/map  ·  OpenAPI {url}/docs  ·  health {url}/health",
              highlight=False)
    if key:
        err.print(f"try it:  curl -H 'Authorization: Bearer {key}' {url}/districts", highlight=False, soft_wrap=True)
    # uvicorn shuts down gracefully on Ctrl-C / SIGTERM and then re-raises the signal to the
    # handler it found: make that one a no-op, so a stop is a clean exit, not an "interruption".
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.run("api.http.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)
    err.print("stopped", highlight=False)
