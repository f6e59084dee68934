"""The store's door onto planning.faults, planning.hotspots and planning.kpi."""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from gis import store
from gis import tickets as store_tickets
from gis.errors import InputError
from planning import faults, hotspots, kpi


def load(engine: Engine, city: str | None, start, end, *, cause=None, cable_kind=None, district=None,
         with_lines: bool = False):
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        crs = store.metric_crs(conn, city_id)
        t = store_tickets.tickets(conn, city_id, start, end)
        lines = store_tickets.lines(conn, city_id) if with_lines else None
        ctx = store_tickets.box_context(conn, city_id) if with_lines else None
    if len(t) == 0:
        raise InputError(f"no fault tickets between {start} and {end} in city {city_id}")
    t = faults.filter_tickets(t, cause=cause, cable_kind=cable_kind, district=district)
    return city_id, crs, t, lines, ctx


def months_between(start, end) -> float:
    return max((pd.Timestamp(end) - pd.Timestamp(start)).days / 30.44, 1e-9)


def heatmap(engine: Engine, city, start, end, out: Path, *, rate=False, bandwidth=None, cell=None, weight=None,
            cause=None, cable_kind=None, district=None, levels: int = 6) -> dict:
    city_id, crs, t, lines, _ = load(engine, city, start, end, cause=cause, cable_kind=cable_kind,
                                     district=district, with_lines=rate)
    pts = t.to_crs(crs)
    if rate:
        grid = faults.rate_surface(pts, lines.to_crs(crs), bandwidth=bandwidth, cell=cell, weight=weight,
                                   months=months_between(start, end))
    else:
        grid = faults.density(pts, bandwidth=bandwidth, cell=cell, weight=weight)
    res = {"city": city_id, "faults": int(len(t)), "surface": grid.unit, "bandwidth_m": round(grid.bandwidth, 1),
           "cell_m": round(grid.cell, 1), "grid": list(grid.values.shape),
           "max": float(np.nanmax(grid.values)) if np.isfinite(grid.values).any() else 0.0}
    suffix = out.suffix.lower()
    if suffix == ".png":
        res["bounds_latlon"] = grid.to_png(out)
        out.with_suffix(".json").write_text(json.dumps({"bounds": res["bounds_latlon"], "unit": grid.unit}))
    elif suffix in (".geojson", ".json", ".gpkg"):
        bands = grid.contours(levels).to_crs(4326)
        if out.exists():
            out.unlink()
        bands.to_file(out, driver="GeoJSON" if suffix != ".gpkg" else "GPKG")
        res["bands"] = int(len(bands))
    else:
        raise InputError(f"--out must be a .png (overlay) or .geojson/.gpkg (contour bands), not {out.name}")
    res["output"] = str(out)
    return res


def box_hotspots(engine: Engine, city_id, crs, t, lines, out: Path, *, rate=True, alpha=0.05) -> dict:
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
    if out.exists():
        out.unlink()
    hot.to_file(out, driver="GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON")
    top = hot[hot["hot"]].sort_values("gi_z", ascending=False)
    return {"city": city_id, "faults": int(len(t)), "on": "box service areas, " + ("faults per line" if rate else
            "fault counts"), "areas": int(len(hot)), "hot_boxes": int(hot["hot"].sum()),
            "cold_boxes": int(hot["cold"].sum()), "fdr_p": hot.attrs.get("fdr_p"),
            "boxes": [{"box_id": b, "faults": int(f), "lines": int(n), "gi_z": round(float(z), 2)}
                      for b, f, n, z in zip(top["box_id"][:10], top["faults"][:10], top["lines"][:10], top["gi_z"][:10])],
            "output": str(out)}


def hotspot_cells(engine: Engine, city, start, end, out: Path, *, resolution=9, rate=True, alpha=0.05,
                  trend=False, on: str = "hexagons", cause=None, cable_kind=None, district=None) -> dict:
    city_id, crs, t, lines, _ = load(engine, city, start, end, cause=cause, cable_kind=cable_kind,
                                     district=district, with_lines=True)
    if on == "boxes":
        return box_hotspots(engine, city_id, crs, t, lines, out, rate=rate, alpha=alpha)
    if on != "hexagons":
        raise InputError(f"--on must be hexagons or boxes, not {on!r}")
    cid = hotspots.cell_ids(t, resolution)
    cells = hotspots.hex_counts(t, resolution=resolution, lines=lines, cells=cid)
    hot = hotspots.gi_star(cells, "faults", rate_of="lines" if rate else None, alpha=alpha)
    fdr_p = hot.attrs.get("fdr_p")
    if trend:
        em = hotspots.emerging(t, resolution=resolution, lines=lines, alpha=alpha)
        hot = hot.merge(pd.DataFrame(em.drop(columns="geometry"))[["cell", "n_hot", "trend_z", "trend_p", "pattern"]],
                        on="cell", how="left")
    if out.exists():
        out.unlink()
    hot.to_file(out, driver="GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON")
    # Which boxes and cables the hot cells' faults are on.
    in_hot = np.isin(cid, hot.loc[hot["hot"], "cell"].to_numpy())
    z = dict(zip(hot["cell"], hot["gi_z"]))
    th = t[in_hot].assign(gi_z=[z[c] for c in cid[in_hot]])
    boxes = th.groupby("box_id").agg(faults=("id", "size"), gi_z=("gi_z", "max")).sort_values("faults", ascending=False)
    cables = th.dropna(subset=["cable_id"]).groupby(["cable_id", "cable_kind"]).agg(
        faults=("id", "size"), gi_z=("gi_z", "max")).sort_values("faults", ascending=False)
    top = hot[hot["hot"]].sort_values("gi_z", ascending=False)
    return {"city": city_id, "faults": int(len(t)), "cells": int(len(hot)), "hot_cells": int(hot["hot"].sum()),
            "cold_cells": int(hot["cold"].sum()), "on": "faults per line" if rate else "fault counts",
            "fdr_p": fdr_p,
            "strongest": [{"cell": c, "gi_z": round(float(zz), 2), "faults": int(f)}
                          for c, zz, f in zip(top["cell"][:10], top["gi_z"][:10], top["faults"][:10])],
            "boxes": [{"box_id": b, "faults": int(r.faults), "gi_z": round(float(r.gi_z), 2)}
                      for b, r in boxes.head(10).iterrows()],
            "cables": [{"cable_id": c, "kind": k, "faults": int(r.faults), "gi_z": round(float(r.gi_z), 2)}
                       for (c, k), r in cables.head(10).iterrows()],
            **({"patterns": hot["pattern"].value_counts().to_dict()} if trend else {}),
            "output": str(out)}


def scorecard(engine: Engine, city, by: str, month: str | None) -> pd.DataFrame:
    if by not in kpi.GROUPS + ("box", "manager", "community", "office"):
        raise InputError(f"--by must be one of box, district, manager, community, office; not {by!r}")
    col = {"box": "box_id", "manager": "manager_id", "community": "community_id", "office": "office_id"}.get(by, by)
    start = end = None
    if month:
        m = pd.Period(month, "M")
        start, end = (m - 12).start_time, (m + 1).start_time   # the month and the one a year before
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        t = store_tickets.tickets(conn, city_id, start, end)
        ctx = store_tickets.box_context(conn, city_id)
    if col in ("district", "manager_id") and ctx["district"].isna().all():
        raise InputError(f"KPIs by {by} need an active district plan (pianqu plan activate)")
    if col == "manager_id" and ctx[col].isna().all():
        raise InputError("no manager is assigned to a district of the active plan yet: KPIs by manager need "
                         "district assignments")
    lines = ctx.groupby(col)["lines"].sum()
    return kpi.kpis(t, lines, by=col, month=month)


def file_hotspots(events: gpd.GeoDataFrame, out: Path, *, weight=None, cell_size=None, alpha=0.05) -> dict:
    res = hotspots.resolution_for(cell_size) if cell_size else 9
    cells = hotspots.hex_counts(events, resolution=res, weight=weight)
    hot = hotspots.gi_star(cells, "weight" if weight else "faults", alpha=alpha)
    if out.exists():
        out.unlink()
    hot.rename(columns={"faults": "events"}).to_file(out, driver="GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON")
    best = hot.sort_values("gi_z", ascending=False).iloc[0]
    c = best.geometry.centroid
    return {"events": int(len(events)), "cells": int(len(hot)), "h3_resolution": res,
            "hot_cells": int(hot["hot"].sum()),
            "strongest": {"lon": round(c.x, 6), "lat": round(c.y, 6), "gi_z": round(float(best["gi_z"]), 2),
                          "p": float(best["gi_p"]), "significant": bool(best["hot"])},
            "output": str(out)}
