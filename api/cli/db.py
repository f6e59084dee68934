"""`pianqu db`: the schema's migrations (Alembic)."""
from __future__ import annotations

from typing import Annotated

import typer

from gis.errors import InputError

from .common import err, out


def _migrate(step, revision: str) -> None:
    from alembic.util import CommandError
    try:
        step(revision=revision)
    except CommandError as e:
        raise InputError(f"revision {revision!r}: {e}") from None

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the schema up (default: to the newest revision)."""
    from gis import db
    _migrate(db.upgrade, revision)
    err.print(f"schema at revision {db.current_revision()}")


@app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Migrate the schema down."""
    from gis import db
    _migrate(db.downgrade, revision)
    err.print(f"schema at revision {db.current_revision()}")


@app.command("current")
def db_current() -> None:
    from gis import db
    out.print(db.current_revision() or "base")
