"""`pianqu user`: API users and their keys (add, list, revoke)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import JsonOpt, engine, err, out, print_json, wants_json

app = typer.Typer(help="API users: add (prints the key once), list, revoke.", no_args_is_help=True)


@app.command("add")
def user_add(name: str,
             role: Annotated[str, typer.Option(help="planner, manager or analyst.")],
             manager: Annotated[Optional[str], typer.Option("--manager", help="The manager id (role manager).")] = None) -> None:
    """Make a user; the key is printed alone on the last line, once (only its hash is kept)."""
    from gis import users
    with engine().begin() as conn:
        user, key = users.add(conn, name, role, manager)
    err.print(f"user {user.name} ({user.role}{', manager ' + user.manager_id if user.manager_id else ''}): "
              "keep this key, it is not shown again")
    print(key)


@app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    from gis import users
    with engine().connect() as conn:
        rows = users.list_users(conn)
    if wants_json(as_json):
        print_json(rows)
        return
    t = Table("user", "role", "manager", "key prefix", "created", "revoked")
    for r in rows:
        t.add_row(r["name"], r["role"], r["manager_id"] or "", r["key_prefix"], f"{r['created_at']:%Y-%m-%d %H:%M}",
                  f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "")
    out.print(t)


@app.command("revoke")
def user_revoke(name: str) -> None:
    """Revoke a user's key at once (kept, for the record, but refused)."""
    from gis import users
    with engine().begin() as conn:
        print_json(users.revoke(conn, name))
