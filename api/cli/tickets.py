"""`pianqu tickets`: the work orders from the command line: the call centre's export imported
(all rows or none), one ticket with its clocks and history, and the clock scan. A thin door onto
api.services.tickets and ticket_intake."""
from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from gis.errors import InputError
from gis.users import User

from .common import JsonOpt, engine, out, print_json, wants_json

app = typer.Typer(help="Work orders: import the call centre's reports, show a ticket, scan the clocks.",
                  no_args_is_help=True)


def _operator() -> User:
    # The command line is the operator's own: he acts as the call centre, named by his login.
    return User(f"cli:{getpass.getuser()}", "callcentre")


def _read(path: Path) -> list[dict]:
    import pandas as pd
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in (".csv", ".txt"):
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=path.suffix.lower() != ".json", dtype=False)
        else:
            raise InputError(f"{path.name}: expected a .csv or .jsonl file (the call centre's export)")
    except (ValueError, pd.errors.ParserError) as e:
        raise InputError(f"{path.name} cannot be read: {e}") from None
    return df.to_dict("records")


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="The call centre's export (.csv or .jsonl): subscriber_id, "
                                                      "box_id or lon+lat; kind, priority, category, note, severity, "
                                                      "reported_at.")]) -> None:
    """Import reports as tickets, each routed at once to its district's manager; all rows or none."""
    from api.services.ticket_intake import import_rows
    rows = _read(file)
    with engine().begin() as conn:
        res = import_rows(conn, _operator(), rows, source=file.name)
    print_json(res)


@app.command("show")
def show(ticket_id: str, json_: JsonOpt = False) -> None:
    """One ticket: its routing, clocks and history."""
    from api.services.tickets import get
    with engine().connect() as conn:
        t = get(conn, User(f"cli:{getpass.getuser()}", "planner"), ticket_id)
    if wants_json(json_):
        print_json(t)
        return
    out.print(f"[bold]{t['id']}[/] {t['kind']} {t['priority']} {t['status']} -> {t['manager_id'] or t['queue_id']}")
    out.print(t["routing_reason"])
    for h in t["history"]:
        out.print(f"  {h['seq']:>3} {h['at']} {h['action']:<9} {h['actor']} {h['fields'] or ''}")


@app.command("scan")
def scan() -> None:
    """Record the escalations and breaches every open ticket's clocks have crossed by now."""
    from api.services.tickets import scan as run
    with engine().begin() as conn:
        print_json(run(conn))
