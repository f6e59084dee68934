"""`pianqu import` and `pianqu export`: layers between files and the store."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from gis.errors import InputError

from .common import CityOpt, engine, out, progress


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for p in pairs or []:
        if "=" not in p:
            raise InputError(f"--map {p!r}: expected FILE_COLUMN=COLUMN")
        src, dst = p.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def import_(layer: Annotated[str, typer.Argument(help="offices, streets, barriers, crossings, areas, cables, boxes, "
                                                      "dps, subscribers, managers, construction, faults, cities, "
                                                      "assignments")],
            file: Annotated[Path, typer.Argument(help=".gpkg .geojson .parquet .shp .fgb or .csv with lon/lat")],
            city: CityOpt = None,
            map_: Annotated[Optional[list[str]], typer.Option("--map", help="FILE_COLUMN=COLUMN, repeatable.")] = None,
            crs: Annotated[Optional[str], typer.Option(help="CRS of a CSV, or of a file that has none.")] = None,
            lon_column: Annotated[Optional[str], typer.Option(help="CSV longitude/x column.")] = None,
            lat_column: Annotated[Optional[str], typer.Option(help="CSV latitude/y column.")] = None,
            file_layer: Annotated[Optional[str], typer.Option(help="Layer inside a multi-layer file.")] = None) -> None:
    """Import a file into a layer: validated, reprojected, upserted on id, all rows or none."""
    from gis.transfer import import_file
    mapping = _mapping(map_)
    if layer == "assignments":  # a table, not a layer of the network: who owns which district
        from api.services.districts import import_assignments
        out.print(json.dumps(import_assignments(engine(), city, file), default=str))
        return
    try:
        with progress() as p:
            p.add_task(f"importing {file.name} into {layer}", total=None)
            with engine().begin() as conn:
                res = import_file(conn, layer, file, city=city, mapping=mapping, crs=crs,
                                  lon=lon_column, lat=lat_column, file_layer=file_layer)
                if res.get("layer") == "fault_tickets":
                    # Past tickets arrive with their times: their history, in the same transaction.
                    from api.services.tickets import adopt
                    res["history"] = adopt(conn, None, actor=f"import {file.name}")
    except InputError as e:
        raise _in_flags(e) from None
    out.print(json.dumps(res))


# The store says what is wrong in any door's words; this door adds the option that fixes it.
_FLAGS = {"no coordinate reference system": "--crs", "missing required column": "--map FILE_COLUMN=COLUMN",
          "differs from the city": "--city"}


def _in_flags(e: InputError) -> InputError:
    flag = next((f for words, f in _FLAGS.items() if words in e.problem), None)
    if flag is None:
        return e
    return InputError(f"{e.problem} [{flag}]", source=e.source, row=e.row, record=e.record,
                      problems=[f"{e.problems[0]} [{flag}]", *e.problems[1:]])


def export(layer: str, file: Path, city: CityOpt = None) -> None:
    """Export a stored layer to a file (format from the suffix)."""
    from gis.transfer import export_layer
    with progress() as p:
        p.add_task(f"exporting {layer} to {file.name}", total=None)
        with engine().connect() as conn:
            res = export_layer(conn, layer, file, city=city)
    out.print(json.dumps(res))
