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
