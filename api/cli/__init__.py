"""The `pianqu` command: one Typer app over one module per command group, each a thin door onto
api.services, gis/ and planning/.

Errors of the PianquError family print as one line on stderr and exit with status 2. Ctrl-C and
SIGTERM end the command with status 130/143 after the statement running on the server has been
cancelled (psycopg cancels on KeyboardInterrupt, which SIGTERM is turned into here), and the
open transaction rolls back, so an interrupted command leaves the store as it was.
"""
from __future__ import annotations

import logging
import signal
import sys

import typer
from rich.markup import escape

from sqlalchemy.exc import SQLAlchemyError

from gis.db import store_problem
from gis.errors import PianquError

try:  # Typer 0.16+ carries its own click
    from typer._click.exceptions import ClickException as UsageProblem
except ImportError:  # pragma: no cover
    from click import ClickException as UsageProblem

from . import alerts, db, demo, districts, faults, maps, partition, plans, risk, scorecards, serve, summary, tickets, transfer, users
from .common import err

app = typer.Typer(help="Pianqu: outside-plant network and field-district planning on PostGIS.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(db.app, name="db")
app.command("demo-data")(demo.demo_data)
app.command("demo-load")(demo.demo_load)
app.command("import")(transfer.import_)
app.command("export")(transfer.export)
app.command("summary")(summary.summary)
app.command("map")(maps.map_file)
app.command("partition")(partition.partition)
app.add_typer(plans.app, name="plan")
app.add_typer(districts.app, name="district")
app.command("opportunities")(alerts.opportunities)
app.add_typer(alerts.app, name="alerts")
faults.app.command("risk")(risk.risk)
app.add_typer(faults.app, name="faults")
app.command("hotspots")(faults.hotspots)
app.command("kpi")(faults.kpi)
app.add_typer(tickets.app, name="tickets")
app.command("scorecard")(scorecards.scorecard)
app.add_typer(users.app, name="user")
app.command("serve")(serve.serve)


SHOWN_PROBLEMS = 20


_signalled: list[int] = []


def _on_signal(signum, frame):
    """Ctrl-C or SIGTERM: raised as KeyboardInterrupt where the program is, so psycopg cancels
    the statement running on the server and the open transaction rolls back."""
    _signalled.append(signum)
    raise KeyboardInterrupt


def _interrupted() -> None:
    err.print("interrupted: the unfinished step was rolled back, the store is as it was", highlight=False)
    sys.exit(128 + _signalled[0])


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    # SQLAlchemy logs a connection it could not reset (an interrupt in the middle of a COPY, say)
    # with a traceback through logging's last-resort handler: the command says it in one line.
    logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
    try:
        # Not standalone: a usage error then reaches us and is said in one line like our own.
        rv = app(standalone_mode=False)
    except UsageProblem as e:
        err.print(f"[bold red]error:[/] {escape(e.format_message())}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except SQLAlchemyError as e:   # the store itself: unreachable, or its schema behind the code
        if _signalled:             # or the rollback of an interrupted statement failing after it
            _interrupted()
        err.print(f"[bold red]error:[/] {escape(store_problem(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except PianquError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        # Every problem of a file, so it can be fixed in one pass: the first 20, then a count.
        rest = getattr(e, "problems", [])[1:]
        for line in rest[:SHOWN_PROBLEMS - 1]:
            err.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
        if len(rest) > SHOWN_PROBLEMS - 1:
            n = len(rest) - (SHOWN_PROBLEMS - 1)
            err.print(f"  ... and {n:,} more problem{'s' if n > 1 else ''}", highlight=False)
        sys.exit(2)
    if _signalled:   # Typer turns the interrupt into a plain 130; say what it means
        _interrupted()
    sys.exit(rv if isinstance(rv, int) else 0)
