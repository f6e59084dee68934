"""A real `pianqu serve` on loopback for the HTTP tests."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(url_of_db: str, env: dict | None = None, args: tuple = ()):
    """A real `pianqu serve` on loopback against that database, until the block ends; its URL.
    The opening tiles are not warmed (PIANQU_WARM_TILES=0) unless `env` says so: tests measure
    and check cold tiles."""
    import time
    import httpx
    import tempfile
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url_of_db, "PIANQU_WARM_TILES": "0", **(env or {})}
    # The server's stderr to a file, not a pipe nobody reads: a pipe that fills blocks the server.
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 60:
            proc.kill()
            log.seek(0)
            raise RuntimeError(f"pianqu serve did not start: {log.read()}")
        time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
