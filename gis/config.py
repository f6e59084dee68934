"""Where the database is: DATABASE_URL, or the project-local cluster that `make` starts."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import PianquError


def project_home() -> Path:
    """The `.pianqu/` state folder: $PIANQU_HOME, else the nearest one above the working dir."""
    if os.environ.get("PIANQU_HOME"):
        return Path(os.environ["PIANQU_HOME"])
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / ".pianqu").is_dir():
            return d / ".pianqu"
    return here / ".pianqu"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    env = project_home() / "env"
    if env.is_file():
        for line in env.read_text().splitlines():
            if line.startswith("DATABASE_URL="):
                return line.split("=", 1)[1].strip()
    raise PianquError("no database: set DATABASE_URL or run `make run` to start the local PostGIS")


def assignment_rules() -> dict:
    """The district-assignment rules an operator sets: PIANQU_MAX_DISTRICTS_PER_MANAGER (a number,
    or 'none'; default 2) and PIANQU_OWN_COMMUNITY_ONLY (1/true; default off)."""
    raw = os.environ.get("PIANQU_MAX_DISTRICTS_PER_MANAGER", "2").strip().lower()
    try:
        most = None if raw in ("", "none", "0") else int(raw)
    except ValueError:
        raise PianquError(f"PIANQU_MAX_DISTRICTS_PER_MANAGER {raw!r}: expected a whole number or 'none'") from None
    own = os.environ.get("PIANQU_OWN_COMMUNITY_ONLY", "").strip().lower() in ("1", "true", "yes", "on")
    return {"max_districts_per_manager": most, "own_community_only": own}


def number_setting(name: str, default: float, unit: str, *, low: float = 0.0, high: float = float("inf"),
                   above_low: bool = False) -> float:
    """A number from the environment variable `name` (else `default`), within [low, high] (or
    (low, high] with `above_low`), or an error that names the variable and what it expects."""
    raw = os.environ.get(name, str(default)).strip()
    try:
        value = float(raw)
    except ValueError:
        raise PianquError(f"{name}={raw!r}: expected a number of {unit}") from None
    if not (value > low if above_low else value >= low) or value > high:
        bound = f"more than {low:g}" if above_low else f"{low:g} or more"
        raise PianquError(f"{name}={raw!r}: expected {bound}" + (f" and at most {high:g} {unit}"
                                                                 if high != float("inf") else ""))
    return value


def tile_memory_bytes() -> int:
    """PIANQU_TILE_MEMORY_MB (default 256): the tiles each server worker keeps in memory."""
    return int(number_setting("PIANQU_TILE_MEMORY_MB", 256, "megabytes") * 1_000_000)


def basemap_url() -> str | None:
    """PIANQU_BASEMAP_URL: an online tile URL ({z}/{x}/{y}) the maps may draw under Pianqu's own
    layers. Off by default: operators run Pianqu on intranets, and the pages fetch nothing from
    another host unless this is set."""
    url = os.environ.get("PIANQU_BASEMAP_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")) or not all(k in url for k in ("{z}", "{x}", "{y}")):
        raise PianquError(f"PIANQU_BASEMAP_URL={url!r}: expected an http(s) URL with {{z}}, {{x}} and {{y}}")
    return url


def warm_tiles() -> bool:
    """PIANQU_WARM_TILES (default 1): `pianqu serve` renders the planner map's opening tiles when
    it starts (0: it does not; the tests and benchmarks measure cold tiles)."""
    raw = os.environ.get("PIANQU_WARM_TILES", "1").strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no", ""):
        raise PianquError(f"PIANQU_WARM_TILES={raw!r}: expected 1 or 0")
    return raw in ("1", "true", "yes", "")
