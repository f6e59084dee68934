"""Import and export of layers between files and the store: the one core behind the CLI's doors."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from sqlalchemy import Engine

from . import store
from .crs import utm_epsg
from .errors import InputError
from .io import read_file, write_file
from .layers import layer as layer_of
from .validate import prepare


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
    gdf["metric_crs"] = zones if col is None else col.fillna(gpd.pd.Series(zones, index=gdf.index))
    return gdf


def import_file(engine: Engine, layer_name: str, path: str | Path, *, city: str | None = None,
                mapping: dict[str, str] | None = None, crs=None, lon: str | None = None,
                lat: str | None = None, file_layer: str | None = None) -> dict:
    """Read, validate and upsert one file into one layer; all rows or none."""
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
        gdf = _fill_metric_crs(gdf)
    elif "city_id" in lay.kinds and (city is not None or "city_id" not in gdf.columns):
        with engine.connect() as conn:
            city_id = store.resolve_city(conn, city)
    rows = prepare(gdf, lay, source=path.name, city_id=city_id)
    return store.import_layer(engine, lay, rows, source=path.name)


def export_layer(engine: Engine, layer_name: str, path: str | Path, *, city: str | None = None) -> dict:
    lay = layer_of(layer_name)
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city) if "city_id" in lay.kinds else None
        gdf = store.read_layer(conn, lay.name, city_id)
    write_file(gdf, path, layer=lay.name)
    return {"layer": lay.name, "rows": len(gdf), "file": str(path)}
