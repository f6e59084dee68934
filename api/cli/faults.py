"""`pianqu faults heatmap|hotspots`, `pianqu hotspots FILE` and `pianqu kpi`.

Dates and months are parsed here (api.cli.common), the --out file's kind is checked here (the
services return data; this door writes it), and every other option is checked by the service
before any work, so a bad value ends the command with one line and exit 2."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gis.errors import InputError

from .common import CityOpt, engine, out, parse_month, parse_window, print_json

app = typer.Typer(help="Fault heatmaps and hotspots from the stored tickets.", no_args_is_help=True)
From = Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, the city's local time).")]
To = Annotated[str, typer.Option("--to", help="Day after the last (YYYY-MM-DD, the city's local time).")]
Alpha = Annotated[float, typer.Option(help="False discovery rate of the hotspot test, in (0, 0.5].")]
HEATMAP_OUT = (".png", ".geojson", ".json", ".gpkg")
CELLS_OUT = (".gpkg", ".geojson", ".json")


def _check_out(out_file: Path, allowed: tuple[str, ...], what: str) -> None:
    if Path(out_file).suffix.lower() not in allowed:
        raise InputError(f"output {Path(out_file).name!r}: {what} are written as {' or '.join(allowed)}")


def _write_layer(gdf, out_file: Path) -> None:
    """A GeoPackage for .gpkg, GeoJSON otherwise; an older file of that name is replaced."""
    if out_file.exists():
        out_file.unlink()
    gdf.to_file(out_file, driver="GPKG" if out_file.suffix.lower() == ".gpkg" else "GeoJSON")


@app.command("heatmap")
def faults_heatmap(start: From, end: To,
                   out_file: Annotated[Path, typer.Option("--out", help=".png overlay (+ .json bounds) or .geojson contour bands.")],
                   rate: Annotated[bool, typer.Option(help="Faults per 100 lines per month instead of raw density.")] = False,
                   bandwidth: Annotated[Optional[float], typer.Option(help="Kernel bandwidth in metres (default: Scott's rule).")] = None,
                   cell: Annotated[Optional[float], typer.Option(help="Grid cell in metres.")] = None,
                   weight: Annotated[Optional[str], typer.Option(help="Weight column, e.g. severity.")] = None,
                   cause: Annotated[Optional[list[str]], typer.Option(help="Only these causes; repeatable.")] = None,
                   cable_kind: Annotated[Optional[list[str]], typer.Option(help="Only faults on these cable kinds.")] = None,
                   district: Annotated[Optional[list[str]], typer.Option(help="Only these districts (active plan).")] = None,
                   city: CityOpt = None) -> None:
    """Kernel density of fault tickets in a window, as a PNG overlay or GeoJSON contours."""
    from api.services.faults import heatmap
    a, b = parse_window(start, end)
    _check_out(out_file, HEATMAP_OUT, "heatmaps (an overlay, or contour bands)")
    png = out_file.suffix.lower() == ".png"
    h = heatmap(engine(), city, a, b, output="png" if png else "contours", rate=rate, bandwidth=bandwidth, cell=cell,
                weight=weight, cause=cause, cable_kind=cable_kind, district=district)
    if png:
        out_file.write_bytes(h.png)
        out_file.with_suffix(".json").write_text(json.dumps({"bounds": h.bounds_latlon, "unit": h.grid.unit}))
    else:
        _write_layer(h.bands, out_file)
    print_json({**h.summary, "output": str(out_file)})


@app.command("hotspots")
def faults_hotspots(start: From, end: To,
                    out_file: Annotated[Path, typer.Option("--out", help="Cells with Gi* (.gpkg or .geojson).")],
                    resolution: Annotated[int, typer.Option(help="H3 resolution, 6 to 11 (9: cells ~400 m across).")] = 9,
                    raw: Annotated[bool, typer.Option("--raw", help="Gi* on fault counts instead of faults per line.")] = False,
                    trend: Annotated[bool, typer.Option(help="Add emerging-hotspot classes over the months.")] = False,
                    on: Annotated[str, typer.Option(help="hexagons (H3) or boxes (their service areas).")] = "hexagons",
                    alpha: Alpha = 0.05,
                    cause: Annotated[Optional[list[str]], typer.Option()] = None,
                    cable_kind: Annotated[Optional[list[str]], typer.Option()] = None,
                    district: Annotated[Optional[list[str]], typer.Option()] = None,
                    city: CityOpt = None) -> None:
    """Getis-Ord Gi* hotspots (FDR-corrected) on H3 cells; names the boxes and cables in them,
    with their district and manager where a plan is active."""
    from api.services.faults import hotspot_cells
    a, b = parse_window(start, end)
    _check_out(out_file, CELLS_OUT, "hotspot cells")
    h = hotspot_cells(engine(), city, a, b, resolution=resolution, rate=not raw, alpha=alpha, trend=trend, on=on,
                      cause=cause, cable_kind=cable_kind, district=district)
    _write_layer(h.cells, out_file)
    print_json({**h.summary, "output": str(out_file)})


def hotspots(events_file: Annotated[Path, typer.Argument(help="Any point layer, any CRS.")],
             out_file: Annotated[Path, typer.Option("--out", help="Cells with Gi* z and p (.gpkg or .geojson).")],
             weight: Annotated[Optional[str], typer.Option(help="Weight column (default: count events).")] = None,
             cell_size: Annotated[Optional[float], typer.Option(help="Hexagon size in metres (default ~400).")] = None,
             alpha: Alpha = 0.05) -> None:
    """Gi* hotspots of any point file on a hexagonal grid; prints the strongest hotspot's centre."""
    from api.services.faults import check_file_hotspots, file_hotspots
    from gis.io import read_file
    check_file_hotspots(cell_size=cell_size, alpha=alpha)   # before reading the file
    _check_out(out_file, CELLS_OUT, "hotspot cells")
    ev = read_file(events_file)
    if ev.crs is None:
        raise InputError(f"{events_file.name}: the layer has no coordinate reference system")
    if weight and weight not in ev.columns:
        raise InputError(f"{events_file.name}: no weight column {weight!r}")
    h = file_hotspots(ev, weight=weight, cell_size=cell_size, alpha=alpha)
    _write_layer(h.cells, out_file)
    print_json({**h.summary, "output": str(out_file)})


def _pct(v) -> str:
    return "" if v != v else f"{v:.0%}"


def _num(v, fmt: str) -> str:
    return "" if v != v else format(v, fmt)


def kpi(by: Annotated[str, typer.Option(help="box, district, manager, community or office.")] = "district",
        month: Annotated[Optional[str], typer.Option(help="YYYY-MM, the city's local month (default: every month).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False, city: CityOpt = None) -> None:
    """Service KPIs: fault rate, repair within 24 h, contact within 20 min, time to clear, repeats;
    the last rows, "(city)", are the whole city's. By manager, community or office with --month,
    each row also has the month's scorecard: tickets by kind, clocks kept, call-backs and
    satisfaction, inspections done and due, installs, new revenue and piece-rate points."""
    from api.services.faults import scorecard
    from api.services.scorecards import BY as CARD_BY, with_cards
    from planning.kpi import TOTAL
    m = parse_month(month, "--month")
    df = scorecard(engine(), city, by, m)
    cards = by in CARD_BY and m is not None
    if cards:
        with engine().connect() as conn:
            df = with_cards(conn, city, df, by, m)
    if as_json:
        print(df.assign(month=df["month"].astype(str)).to_json(orient="records"))
        return
    group = df.columns[0]
    heads = ["lines", "faults", "per 100 lines", "24 h", "20 min", "mean h", "p90 h", "repeat", "yoy"]
    t = Table(by, "month", *heads, *(["inspections", "sat.", "points"] if cards else []))
    for r in df.itertuples(index=False):
        g = getattr(r, group)
        card = [f"{_num(r.inspections_done, '.0f')}/{_num(r.inspections_due, '.0f')}", _num(r.satisfaction, ".2f"),
                _num(r.points, ",.1f")] if cards else []
        t.add_row(str(g) if g == g else "(none)", str(r.month), _num(r.lines, ",.0f"), f"{r.tickets:,}",
                  _num(r.fault_rate, ".2f"), _pct(r.repair_24h), _pct(r.contact_20min), _num(r.clear_mean_h, ".1f"),
                  _num(r.clear_p90_h, ".1f"), _pct(r.repeat_share), _num(r.fault_rate_yoy, "+.0%"), *card,
                  style="bold" if g == TOTAL else None)
    out.print(t)
