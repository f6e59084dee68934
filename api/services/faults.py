"""The store's door onto planning.faults, planning.hotspots and planning.kpi.

Every function checks its plain arguments first (values, vocabularies, output kinds), before it
reads anything, so a bad request costs nothing and says why. Days and months are the city's
local ones (`cities.timezone`). Nothing here writes a file: a heatmap comes back as PNG bytes
with its bounds or as contour bands, hotspots as cells with a summary; the CLI writes them to
its --out file, the HTTP API answers them."""
from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from gis import store
from gis import tickets as store_tickets
from gis.errors import InputError
from gis.models import CABLE_KINDS, FAULT_CAUSES
from planning import faults, hotspots, kpi

from .values import jsonable

BY = {"box": "box_id", "district": "district", "manager": "manager_id", "community": "community_id",
      "office": "office_id"}
HEATMAP_OUTPUTS = ("png", "contours")   # an image overlay, or banded polygons
ON = ("hexagons", "boxes")
MAX_LEVELS = 50


def _check_filters(cause, cable_kind) -> None:
    for what, want, allowed in (("cause", cause, FAULT_CAUSES), ("cable kind", cable_kind, CABLE_KINDS)):
        for v in [want] if isinstance(want, str) else (want or []):
            if v not in allowed:
                raise InputError(f"unknown {what} {v!r}: expected one of {', '.join(allowed)}")


def check_window(start, end) -> None:
    """A window [start, end) of local days must not be empty."""
    if start is not None and end is not None and pd.Timestamp(end) <= pd.Timestamp(start):
        raise InputError(f"the window is empty: its end {end} is not after its start {start}")


def feature_collection(gdf: gpd.GeoDataFrame, **members) -> dict:
    """A GeoJSON FeatureCollection (EPSG:4326) of the frame, with extra top-level members
    (a summary, a total); missing values are null."""
    fc = json.loads(gdf.to_crs(4326).to_json(na="null", drop_id=True)) if len(gdf) else \
        {"type": "FeatureCollection", "features": []}
    return {**fc, **jsonable(members)}


@dataclass
class Heatmap:
    """A fault surface: the summary, and the PNG overlay (+ its lon/lat bounds) or the contour
    bands (EPSG:4326), as asked."""
    summary: dict
    grid: faults.DensityGrid
    png: bytes | None = None
    bounds_latlon: list | None = None
    bands: gpd.GeoDataFrame | None = None


@dataclass
class Hotspots:
    """Gi* places (EPSG:4326: H3 cells or box service areas) and what the summary says of them."""
    cells: gpd.GeoDataFrame
    summary: dict


def load(engine: Engine, city: str | None, start, end, *, cause=None, cable_kind=None, district=None,
         with_lines: bool = False, columns=None, line_columns=("id", "box_id", "dp_id", "connected_since")):
    """(city, metric CRS, time zone, tickets in [start, end) filtered, lines, box context).
    `columns`: the tickets' columns the caller uses (default: all); the filters' own are added.
    Only these are read, and only the joins they need are made (a heatmap needs the points)."""
    if columns is not None:
        columns = set(columns) | {c for c, want in (("cause", cause), ("cable_kind", cable_kind),
                                                    ("district", district)) if want}
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        crs = store.metric_crs(conn, city_id)
        tz = store_tickets.city_timezone(conn, city_id)
        ctx = store_tickets.box_context(conn, city_id) if with_lines else None
        t = store_tickets.tickets(conn, city_id, start, end, tz=tz, columns=columns, ctx=ctx)
        lines = store_tickets.lines(conn, city_id, line_columns) if with_lines else None
    if len(t) == 0:
        raise InputError(f"no fault tickets between {start} and {end} in city {city_id}")
    t = faults.filter_tickets(t, cause=cause, cable_kind=cable_kind, district=district, tz=tz)
    return city_id, crs, tz, t, lines, ctx


def months_between(start, end) -> float:
    return max((pd.Timestamp(end) - pd.Timestamp(start)).days / 30.44, 1e-9)


def check_heatmap(*, bandwidth=None, cell=None, cause=None, cable_kind=None, output="png", levels=6) -> None:
    faults.check_options(bandwidth=bandwidth, cell=cell)
    _check_filters(cause, cable_kind)
    if output not in HEATMAP_OUTPUTS:
        raise InputError(f"a heatmap is a png overlay or contour bands, not {output!r}")
    if not (isinstance(levels, (int, np.integer)) and 1 <= levels <= MAX_LEVELS):
        raise InputError(f"contour levels must be 1 to {MAX_LEVELS}, not {levels!r}")


def heatmap(engine: Engine, city, start: dt.date, end: dt.date, *, output: str = "png", rate=False, bandwidth=None,
            cell=None, weight=None, cause=None, cable_kind=None, district=None, levels: int = 6) -> Heatmap:
    """Kernel density (or faults per 100 lines per month) of the window's tickets, rendered as
    `output`: "png" (an RGBA overlay and its [[south, west], [north, east]] bounds) or
    "contours" (`levels` bands)."""
    check_heatmap(bandwidth=bandwidth, cell=cell, cause=cause, cable_kind=cable_kind, output=output, levels=levels)
    check_window(start, end)
    if weight is not None and weight not in store_tickets.TICKET_COLUMNS:
        raise InputError(f"no weight column {weight!r} on the fault tickets (e.g. severity)")
    # The points (and the weight) alone, and the lines' points for a rate: no box, cable or
    # district is joined unless a filter asks for it.
    city_id, crs, _, t, lines, _ = load(engine, city, start, end, cause=cause, cable_kind=cable_kind,
                                        district=district, with_lines=rate, columns=[weight] if weight else [],
                                        line_columns=())
    pts = t.to_crs(crs)
    if rate:
        grid = faults.rate_surface(pts, lines.to_crs(crs), bandwidth=bandwidth, cell=cell, weight=weight,
                                   months=months_between(start, end))
    else:
        grid = faults.density(pts, bandwidth=bandwidth, cell=cell, weight=weight)
    res = {"city": city_id, "faults": int(len(t)), "surface": grid.unit, "bandwidth_m": round(grid.bandwidth, 1),
           "cell_m": round(grid.cell, 1), "grid": list(grid.values.shape),
           "max": float(np.nanmax(grid.values)) if np.isfinite(grid.values).any() else 0.0}
    if output == "png":
        buf = io.BytesIO()
        res["bounds_latlon"] = grid.to_png(buf)   # matplotlib writes PNG to a file object
        return Heatmap(res, grid, png=buf.getvalue(), bounds_latlon=res["bounds_latlon"])
    bands = grid.contours(levels).to_crs(4326)
    res["bands"] = int(len(bands))
    return Heatmap(res, grid, bands=bands)


def _owners(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per `key` (a box or a cable), the active plan's district most of its rows (lines or
    faults) are in, and that district's manager; null where there is no active plan."""
    r = rows[[key, "district", "manager_id"]].dropna(subset=[key, "district"])
    n = r.groupby([key, "district"], dropna=False).size().rename("n").reset_index()
    top = n.sort_values(["n", "district"], ascending=[False, True]).drop_duplicates(key)
    managers = r.drop_duplicates("district").set_index("district")["manager_id"]
    return top.assign(manager_id=top["district"].map(managers)).set_index(key)[["district", "manager_id"]]


def _with_owner(item: dict, owners: pd.DataFrame, key) -> dict:
    row = owners.loc[key] if key in owners.index else None
    item["district"] = None if row is None else jsonable(row["district"])
    item["manager_id"] = None if row is None else jsonable(row["manager_id"])
    return item


def box_hotspots(engine: Engine, city_id, crs, t, lines, ctx, *, rate=True, alpha=0.05) -> Hotspots:
    """Gi* on the boxes' service areas (Queen neighbours) instead of hexagons."""
    from gis.units import service_areas
    with engine.connect() as conn:
        outline = store.read_layer(conn, "cities", city_id, ["id"])
        barriers = store.read_layer(conn, "barriers", city_id, ["id", "kind"])
    outline = outline[outline.geometry.notna()]
    areas = service_areas(lines, unit="box_id", outline=outline.geometry if len(outline) else None,
                          barriers=barriers, crs=crs, simplify=60.0).rename(columns={"subscribers": "lines"})
    areas["faults"] = t.groupby("box_id").size().reindex(areas["box_id"]).fillna(0).to_numpy()
    hot = hotspots.gi_star(areas, "faults", rate_of="lines" if rate else None, alpha=alpha).to_crs(4326)
    top = hot[hot["hot"]].sort_values("gi_z", ascending=False).head(10)
    # A box belongs to the district that holds most of its lines (a split box, to several).
    owners = _owners(store_tickets.with_context(pd.DataFrame(lines[["box_id", "dp_id"]]), ctx), "box_id")
    return Hotspots(hot, {
        "city": city_id, "faults": int(len(t)), "on": "box service areas, " + ("faults per line" if rate else
        "fault counts"), "areas": int(len(hot)), "hot_boxes": int(hot["hot"].sum()),
        "cold_boxes": int(hot["cold"].sum()), "fdr_p": jsonable(hot.attrs.get("fdr_p")),
        "boxes": [_with_owner({"box_id": b, "faults": int(f), "lines": int(n), "gi_z": round(float(z), 2)},
                              owners, b)
                  for b, f, n, z in zip(top["box_id"], top["faults"], top["lines"], top["gi_z"])]})


# What a hotspot answer reads of the tickets: cells, boxes and cables with their districts.
HOTSPOT_COLUMNS = ("id", "box_id", "dp_id", "cable_id", "cable_kind", "reported_at", "district", "manager_id")


def check_hotspots(*, resolution=9, alpha=0.05, on="hexagons") -> None:
    if on not in ON:
        raise InputError(f"hotspots are computed on hexagons or boxes, not {on!r}")
    hotspots.check_resolution(resolution)
    hotspots.check_alpha(alpha)


def hotspot_cells(engine: Engine, city, start: dt.date, end: dt.date, *, resolution=9, rate=True,
                  alpha=0.05, trend=False, on: str = "hexagons", cause=None, cable_kind=None,
                  district=None) -> Hotspots:
    """Gi* hotspots of the window's tickets on H3 cells (or box service areas), with the
    boxes and cables in the hot ones and their districts; `trend` adds the emerging classes."""
    check_hotspots(resolution=resolution, alpha=alpha, on=on)
    _check_filters(cause, cable_kind)
    check_window(start, end)
    city_id, crs, tz, t, lines, ctx = load(engine, city, start, end, cause=cause, cable_kind=cable_kind,
                                           district=district, with_lines=True, line_columns=("box_id", "dp_id"),
                                           columns=HOTSPOT_COLUMNS)
    if on == "boxes":
        return box_hotspots(engine, city_id, crs, t, lines, ctx, rate=rate, alpha=alpha)
    cid = hotspots.cell_ids(t, resolution)
    lcid = hotspots.cell_ids(lines, resolution)   # once, for the counts and the emerging classes
    cells = hotspots.hex_counts(t, resolution=resolution, lines=lines, cells=cid, line_cells=lcid)
    hot = hotspots.gi_star(cells, "faults", rate_of="lines" if rate else None, alpha=alpha)
    fdr_p = hot.attrs.get("fdr_p")
    if trend:
        em = hotspots.emerging(t, resolution=resolution, lines=lines, alpha=alpha, tz=tz, cells=cid,
                                 line_cells=lcid)
        hot = hot.merge(pd.DataFrame(em.drop(columns="geometry"))[["cell", "n_hot", "trend_z", "trend_p", "pattern"]],
                        on="cell", how="left")
    # Which boxes and cables the hot cells' faults are on, and whose districts they are.
    in_hot = np.isin(cid, hot.loc[hot["hot"], "cell"].to_numpy())
    z = dict(zip(hot["cell"], hot["gi_z"]))
    th = t[in_hot].assign(gi_z=[z[c] for c in cid[in_hot]])
    boxes = th.groupby("box_id").agg(faults=("id", "size"), gi_z=("gi_z", "max")).sort_values("faults", ascending=False)
    cables = th.dropna(subset=["cable_id"]).groupby(["cable_id", "cable_kind"]).agg(
        faults=("id", "size"), gi_z=("gi_z", "max")).sort_values("faults", ascending=False)
    box_owners = _owners(store_tickets.with_context(pd.DataFrame(lines[["box_id", "dp_id"]]), ctx), "box_id")
    cable_owners = _owners(th, "cable_id")   # a cable's district: the one most of its hot faults are in
    top = hot[hot["hot"]].sort_values("gi_z", ascending=False)
    return Hotspots(hot, {
            "city": city_id, "faults": int(len(t)), "cells": int(len(hot)), "hot_cells": int(hot["hot"].sum()),
            "cold_cells": int(hot["cold"].sum()), "on": "faults per line" if rate else "fault counts",
            "fdr_p": jsonable(fdr_p),
            "strongest": [{"cell": c, "gi_z": round(float(zz), 2), "faults": int(f)}
                          for c, zz, f in zip(top["cell"][:10], top["gi_z"][:10], top["faults"][:10])],
            "boxes": [_with_owner({"box_id": b, "faults": int(r.faults), "gi_z": round(float(r.gi_z), 2)},
                                  box_owners, b) for b, r in boxes.head(10).iterrows()],
            "cables": [_with_owner({"cable_id": c, "kind": k, "faults": int(r.faults), "gi_z": round(float(r.gi_z), 2)},
                                   cable_owners, c)
                       for (c, k), r in cables.head(10).iterrows()],
            **({"patterns": jsonable(hot["pattern"].value_counts().to_dict())} if trend else {})})


def kpi_column(by: str) -> str:
    """The tickets' column a KPI grouping names (box, district, manager, community, office)."""
    col = BY.get(by, by if by in kpi.GROUPS else None)
    if col is None:
        raise InputError(f"KPIs cannot be grouped by {by!r}: group by one of {', '.join(BY)}")
    return col


def scorecard(engine: Engine, city, by: str, month: str | None) -> pd.DataFrame:
    """KPIs per group and local month, ending with the city's own rows (group value kpi.TOTAL)."""
    col = kpi_column(by)
    m = kpi.month_of(month) if month is not None else None
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        tz = store_tickets.city_timezone(conn, city_id)
        covers = store_tickets.ticket_range(conn, city_id, tz)
        if covers is None:
            raise InputError(f"city {city_id} has no fault tickets: no KPIs to compute")
        first, last = (pd.Period(d, "M") for d in covers)
        if m is not None and not first <= m <= last:
            raise InputError(f"no tickets in {m}: the data covers {first} to {last}")
        start = end = None
        if m is not None:   # the month and the one a year before
            start, end = (m - 12).start_time.date(), (m + 1).start_time.date()
        ctx = store_tickets.box_context(conn, city_id)
        t = store_tickets.tickets(conn, city_id, start, end, tz=tz, ctx=ctx)
        lines = store_tickets.lines(conn, city_id)
    if col in ("district", "manager_id") and ctx["district"].isna().all():
        raise InputError(f"KPIs by {by} need an active district plan (pianqu plan activate)")
    if col == "manager_id" and ctx[col].isna().all():
        raise InputError("no manager is assigned to a district of the active plan yet: KPIs by manager need "
                         "district assignments")
    # One row per line with its group and connection day: a month's lines are those connected by its end.
    per_line = store_tickets.with_context(pd.DataFrame(lines[["id", "box_id", "dp_id", "connected_since"]]), ctx)
    return kpi.kpis(t, per_line[[col, "connected_since"]], by=col, month=m, tz=tz)


def kpi_records(engine: Engine, city, by: str, month: str | None) -> dict:
    """The scorecard as JSON: one record per group and month (the city's own rows, group value
    "(city)", last); a missing figure (no lines, no year before) is null."""
    df = scorecard(engine, city, by, month)
    return {"by": by, "group": str(df.columns[0]), "month": month, "rows": jsonable(df.to_dict("records"))}


def check_file_hotspots(*, cell_size=None, alpha=0.05) -> None:
    if cell_size is not None:
        hotspots.resolution_for(cell_size)
    hotspots.check_alpha(alpha)


def file_hotspots(events: gpd.GeoDataFrame, *, weight=None, cell_size=None, alpha=0.05) -> Hotspots:
    """Gi* hotspots of any point layer on H3 cells (column `events`: the count)."""
    check_file_hotspots(cell_size=cell_size, alpha=alpha)
    res = hotspots.resolution_for(cell_size) if cell_size else 9
    cells = hotspots.hex_counts(events, resolution=res, weight=weight)
    hot = hotspots.gi_star(cells, "weight" if weight else "faults", alpha=alpha)
    best = hot.sort_values("gi_z", ascending=False).iloc[0]
    c = best.geometry.centroid
    return Hotspots(hot.rename(columns={"faults": "events"}), {
        "events": int(len(events)), "cells": int(len(hot)), "h3_resolution": res, "hot_cells": int(hot["hot"].sum()),
        "strongest": {"lon": round(c.x, 6), "lat": round(c.y, 6), "gi_z": round(float(best["gi_z"]), 2),
                      "p": float(best["gi_p"]), "significant": bool(best["hot"])}})
