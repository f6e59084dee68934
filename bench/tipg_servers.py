"""Set-up for bench/bench_tipg.py: tipg in a virtualenv of its own, a scratch database, and
both servers started on loopback (each on a free port, its log in a folder)."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
TIPG_SPEC = "tipg>=1.6,<1.7"
VENV = ROOT / ".pianqu" / "bench-tipg-venv"
PIANQU = ROOT / ".venv" / "bin" / "pianqu"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tipg_python() -> Path:
    """tipg's own interpreter, installing tipg and uvicorn into their venv on first use. uvicorn
    with httptools and uvloop, as Pianqu runs it: the same HTTP server under both."""
    py = VENV / "bin" / "python"
    probe = [str(py), "-c", "import tipg.main, uvicorn, httptools, uvloop; print(tipg.__version__)"]
    if py.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return py
    log(f"installing {TIPG_SPEC} into {VENV} (first run)")
    subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", TIPG_SPEC, "uvicorn",
                    "httptools", "uvloop"],
                   check=True)
    subprocess.run(probe, check=True, capture_output=True)
    return py


def tipg_version(py: Path) -> str:
    return subprocess.run([str(py), "-c", "import tipg; print(tipg.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def libpq(url: str) -> str:
    """The postgresql:// form (tipg's DATABASE_URL; asyncpg takes no driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqla(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def pianqu_cli(url: str, *args: str) -> str:
    res = subprocess.run([str(PIANQU), *args], check=False, cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"pianqu {' '.join(args)} failed: {res.stderr.strip()[-2000:]}")
    return res.stdout


def create_scratch(admin_url: str) -> tuple[str, str]:
    name = f"pianqu_bench_tipg_{os.getpid()}_{secrets.token_hex(2)}"
    admin = create_engine(sqla(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(sqla(admin_url)).set(database=name).render_as_string(hide_password=False)


def drop_scratch(admin_url: str, name: str) -> None:
    admin = create_engine(sqla(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    base: str
    logfile: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(name: str, cmd: list[str], env: dict, cwd: Path, health: str, logdir: Path) -> Server:
    import httpx
    logfile = logdir / f"{name}.log"
    port = int(cmd[cmd.index("--port") + 1])
    fh = logfile.open("w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(base + health, timeout=2).status_code == 200:
                return Server(name, proc, base, logfile)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{name} did not start; its log:\n{logfile.read_text()[-3000:]}")


def start_tipg(py: Path, url: str, logdir: Path, tile_limit: int) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPG_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=libpq(url), TIPG_DB_SCHEMAS='["public"]', TIPG_DB_TABLES='["public.subscribers"]',
               # only the table: PostGIS's set-returning functions would be collections too
               TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS='["public"]',
               TIPG_SET_MVT_LAYERNAME="true")   # MVT layer "subscribers", as Pianqu's (default "default")
    env["TIPG_MAX_FEATURES_PER_TILE"] = str(tile_limit)
    port = free_port()
    # cwd: an empty folder, since tipg's settings also read a .env file from the working dir
    return start("tipg", [str(py), "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
                          "--workers", "1", "--log-level", "warning", "--no-access-log"],
                 env, logdir, "/healthz", logdir)


def start_pianqu(url: str, logdir: Path) -> Server:
    port = free_port()
    return start("pianqu", [str(PIANQU), "serve", "--port", str(port), "--workers", "1"],
                 {**os.environ, "DATABASE_URL": url, "PIANQU_WARM_TILES": "0"}, ROOT, "/health", logdir)


def start_null(logdir: Path) -> Server:
    """bench/null_tiles.py: the client's ceiling on warm tiles (a server that only sends bytes)."""
    port = free_port()
    return start("null", [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "null_tiles:app", "--host", "127.0.0.1", "--port",
                          str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
                 dict(os.environ), ROOT, "/bytes/1", logdir)
