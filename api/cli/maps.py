"""`pianqu map --out FILE.html [--plan ID]`: a self-contained planner map to send by mail."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import CityOpt, engine, out


def map_file(out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
             plan: Annotated[Optional[str], typer.Option(help="Plan id (default: the city's active plan).")] = None,
             city: CityOpt = None) -> None:
    """Write a self-contained planner map (no server, no internet): the plan's districts with their
    labels and the boxes by utilisation."""
    from api.http.pages import standalone_html
    from api.services import maps
    from gis.errors import InputError
    if out_file.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{out_file}: the map is an HTML file (give a name ending in .html)")
    if not out_file.parent.exists():
        raise InputError(f"{out_file.parent}: the folder does not exist")
    with engine().connect() as conn:
        config = maps.standalone(conn, city, plan)
    html = standalone_html(config, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    out_file.write_text(html, encoding="utf-8")
    out.print(f"wrote {out_file} ({len(html.encode()) / 1e6:.1f} MB): plan {config['plan_id']}, "
              f"{len(config['districts']['features'])} districts, {len(config['boxes']['features'])} boxes")
