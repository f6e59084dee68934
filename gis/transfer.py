"""Import and export of layers between files and the store: the one core behind the CLI's doors."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection

from . import store
from .crs import utm_epsg
from .errors import InputError
from .io import read_file, write_file
from .layers import layer as layer_of
from .tickets import known_timezone
from .validate import Problems, prepare


def _fill_metric_crs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A city imported without `metric_crs` gets the UTM zone of its outline's centre."""
    if "metric_crs" in gdf.columns and gdf["metric_crs"].notna().all():
        return gdf
    gdf = gdf.copy()
    ll = gdf.geometry.to_crs(4326) if gdf.crs is not None else gdf.geometry
    b = ll.bounds
    zones = [utm_epsg((x0 + x1) / 2, (y0 + y1) / 2) if np.isfinite(x0) else None
             for x0, x1, y0, y1 in zip(b.minx, b.maxx, b.miny, b.maxy)]
    col = gdf["metric_crs"] if "metric_crs" in gdf.columns else None
    gdf["metric_crs"] = zones if col is None else col.fillna(pd.Series(zones, index=gdf.index))
    return gdf


def _fill_timezone(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """A city imported without `timezone` gets the IANA zone of its outline's centre (offline,
    timezonefinder), or UTC without an outline; a zone name zoneinfo does not know is an error
    naming the row."""
    gdf = gdf.copy()
    given = gdf["timezone"].astype("string").str.strip() if "timezone" in gdf.columns else \
        pd.Series(pd.NA, index=gdf.index, dtype="string")
    given = given.mask(given == "")
    todo = given.isna().to_numpy()
    if todo.any():
        ll = gdf.geometry.to_crs(4326) if gdf.crs is not None else gdf.geometry
        b = ll.bounds
        x, y = ((b.minx + b.maxx) / 2).to_numpy(), ((b.miny + b.maxy) / 2).to_numpy()
        found = np.full(len(gdf), "UTC", dtype=object)
        has = todo & np.isfinite(x) & np.isfinite(y)
        if has.any():
            try:
                from timezonefinder import TimezoneFinder
            except ImportError:
                raise InputError("the cities layer has no timezone column and timezonefinder is not installed to "
                                 "derive one: add a timezone column (an IANA name, e.g. Asia/Shanghai)",
                                 source=source) from None
            tf = TimezoneFinder()   # a handful of cities: one lookup each
            found[has] = [tf.timezone_at(lng=float(a), lat=float(c)) or "UTC" for a, c in zip(x[has], y[has])]
        given = given.where(~todo, pd.Series(found, index=gdf.index, dtype="string"))
    probs = Problems(source, gdf["id"].astype("string") if "id" in gdf.columns else None)
    bad = ~np.array([known_timezone(v) for v in given.astype(object)], bool)
    probs.rows(bad, lambda i: f"timezone {given.iat[i]!r} is not a known IANA time zone (e.g. Asia/Shanghai, UTC)")
    probs.raise_if_any()
    gdf["timezone"] = given.astype(object)
    return gdf


def import_file(conn: Connection, layer_name: str, path: str | Path, *, city: str | None = None,
                mapping: dict[str, str] | None = None, crs=None, lon: str | None = None,
                lat: str | None = None, file_layer: str | None = None) -> dict:
    """Read, validate and upsert one file into one layer, in the caller's transaction; all rows
    or none."""
    store.writing(conn)
    lay = layer_of(layer_name)
    path = Path(path)
    gdf = read_file(path, layer=file_layer, lon=lon, lat=lat, crs=crs)
    if mapping:
        unknown = [k for k in mapping if k not in gdf.columns]
        if unknown:
            raise InputError(f"column mapping names columns the file does not have: {', '.join(unknown)} "
                             f"(columns: {', '.join(map(str, gdf.columns))})", source=path.name)
        gdf = gdf.rename(columns=mapping)
    if len(gdf) == 0:
        raise InputError("the file has no rows", source=path.name)
    city_id = None
    if lay.name == "cities":
        gdf = _fill_timezone(_fill_metric_crs(gdf), path.name)
    elif "city_id" in lay.kinds and (city is not None or "city_id" not in gdf.columns):
        city_id = store.resolve_city(conn, city)
    rows = prepare(gdf, lay, source=path.name, city_id=city_id)
    return store.upsert(conn, lay, rows, source=path.name)


def export_layer(conn: Connection, layer_name: str, path: str | Path, *, city: str | None = None) -> dict:
    lay = layer_of(layer_name)
    city_id = store.resolve_city(conn, city) if "city_id" in lay.kinds else None
    gdf = store.read_layer(conn, lay.name, city_id)
    if city_id is not None:
        gdf = _with_districts(conn, lay.name, gdf, city_id)
    write_file(gdf, path, layer=lay.name)
    return {"layer": lay.name, "rows": len(gdf), "file": str(path)}


def _with_districts(conn, table: str, gdf: gpd.GeoDataFrame, city: str) -> gpd.GeoDataFrame:
    """Boxes, distribution points and subscribers exported with the district and manager of the
    city's active plan (a box split between districts by distribution point lists them all)."""
    if table not in ("boxes", "distribution_points", "subscribers"):
        return gdf
    from .tickets import box_context
    ctx = box_context(conn, city)[["box_id", "dp_id", "district", "manager_id"]]
    if ctx["district"].isna().all():
        return gdf
    whole = ctx[ctx["dp_id"].isna()].drop(columns="dp_id")
    split = ctx[ctx["dp_id"].notna()]
    box_col = "id" if table == "boxes" else "box_id"
    if table == "boxes":
        joined = (split.groupby("box_id")[["district", "manager_id"]]
                  .agg(lambda v: ";".join(sorted(set(v.dropna())))).reset_index())
        per = pd.concat([whole, joined], ignore_index=True).drop_duplicates("box_id")
        out = gdf.merge(per.rename(columns={"box_id": box_col}), on=box_col, how="left")
    else:
        dp_col = "id" if table == "distribution_points" else "dp_id"
        out = gdf.merge(whole.rename(columns={"box_id": box_col}), on=box_col, how="left")
        if len(split):
            key = pd.MultiIndex.from_frame(out[[box_col, dp_col]].astype(str))
            s = split.set_index(["box_id", "dp_id"])
            has = key.isin(s.index)
            out.loc[has, "district"] = s["district"].reindex(key[has]).to_numpy()
            out.loc[has, "manager_id"] = s["manager_id"].reindex(key[has]).to_numpy()
    return gpd.GeoDataFrame(out.rename(columns={"manager_id": "manager"}), geometry="geometry", crs=gdf.crs)
