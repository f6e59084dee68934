"""Files in and out: GeoPackage, GeoJSON, GeoParquet, Shapefile, CSV with lon/lat columns.

pyogrio does the GDAL formats, pyarrow the Parquet ones; CSV is read with pandas and given
point geometries from its coordinate columns. Every failure names the file.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from shapely.errors import GEOSException
from pyproj import CRS
from pyproj.exceptions import CRSError

from .errors import InputError

LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile",
           ".fgb": "FlatGeobuf"}


def _crs(crs, source: str) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as e:
        raise InputError(f"unknown CRS {crs!r}: {e}", source=source) from None


def _find(columns, wanted: str | None, names: tuple[str, ...], what: str, source: str) -> str:
    if wanted:
        if wanted not in columns:
            raise InputError(f"{what} column {wanted!r} is missing (columns: {', '.join(map(str, columns))})",
                             source=source)
        return wanted
    lower = {str(c).lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    raise InputError(f"no {what} column (looked for {', '.join(names)}; pass --{what}-column)", source=source)


def read_csv_points(path: Path, *, lon: str | None = None, lat: str | None = None,
                    crs=None) -> gpd.GeoDataFrame:
    source = path.name
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read CSV: {e}", source=source) from None
    xcol = _find(df.columns, lon, LON_NAMES, "lon", source)
    ycol = _find(df.columns, lat, LAT_NAMES, "lat", source)
    x = pd.to_numeric(df[xcol], errors="coerce")
    y = pd.to_numeric(df[ycol], errors="coerce")
    bad = (x.isna() & df[xcol].notna()) | (y.isna() & df[ycol].notna())
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"coordinates are not numbers: {xcol}={df[xcol].iat[i]!r}, {ycol}={df[ycol].iat[i]!r}",
                         source=source, row=i + 1, record=_id_at(df, i))
    geom = shapely.points(x.to_numpy(), y.to_numpy())
    geom[(x.isna() | y.isna()).to_numpy()] = None
    return gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=geom,
                            crs=_crs(crs, source) or CRS.from_epsg(4326))


def _id_at(df: pd.DataFrame, i: int) -> str | None:
    if "id" in df.columns:
        v = df["id"].iat[i]
        return None if pd.isna(v) else str(v)
    return None


def read_file(path: str | Path, *, layer: str | None = None, lon: str | None = None,
              lat: str | None = None, crs=None) -> gpd.GeoDataFrame:
    """Read any supported file as a GeoDataFrame. `crs` overrides (CSV) or fills in a missing CRS."""
    path = Path(path)
    source = path.name
    if not path.exists():
        raise InputError("file not found", source=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return read_csv_points(path, lon=lon, lat=lat, crs=crs)
    parquet = suffix in (".parquet", ".geoparquet")
    try:
        if parquet:
            try:
                gdf = gpd.read_parquet(path)
            except GEOSException:
                _check_unreadable_parquet(path, source)  # names the rows, or falls through
                raise
        else:
            with warnings.catch_warnings():
                # GDAL accepts an unclosed ring with a RuntimeWarning; the rows are named below.
                warnings.filterwarnings("ignore", message="Non closed ring", category=RuntimeWarning)
                gdf = pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
    except InputError:
        raise
    except Exception as e:  # GDAL and Arrow raise many types; all mean "cannot read this file"
        raise InputError(f"cannot read file: {e}", source=source) from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise InputError("file has no geometry column", source=source)
    if not parquet:
        _check_unreadable_gdal(path, layer, gdf, source)
    if crs is not None:
        target = _crs(crs, source)
        gdf = gdf.set_crs(target, allow_override=True) if gdf.crs is None else gdf
    return gdf


# GEOS's reasons for refusing a geometry, in a planner's words.
_WKB_REASONS = [
    (re.compile(r"do not form a closed linestring"), lambda m: "ring is not closed"),
    (re.compile(r"Invalid number of points in LinearRing found (\d+)"),
     lambda m: f"ring has only {m.group(1)} points"),
    (re.compile(r"point array must contain 0 or >1 elements"), lambda m: "a ring or line has a single point"),
]


def _wkb_reason(wkb: bytes) -> str:
    try:
        shapely.from_wkb(wkb)
    except (GEOSException, ValueError) as e:
        text = str(e)
        for pattern, say in _WKB_REASONS:
            m = pattern.search(text)
            if m:
                return say(m)
        return f"cannot be read ({text.split(': ', 1)[-1]})"
    return "cannot be read"


def _name_unreadable(wkb: np.ndarray, ids: pd.Series | None, source: str) -> None:
    """Rows whose WKB GEOS refuses (an unclosed ring, a ring of 3 points): name every one, like
    every other geometry problem, instead of passing them on as missing or failing the file."""
    bad = pd.notna(pd.Series(wkb, dtype=object)).to_numpy() & shapely.is_missing(
        shapely.from_wkb(wkb, on_invalid="ignore"))
    if not bad.any():
        return
    from .validate import Problems  # only on this path: validate pulls in the schema
    # One GEOS call per bad row: the refusal's message is the only place the reason is given.
    reasons = {int(i): _wkb_reason(wkb[i]) for i in np.flatnonzero(bad)}
    probs = Problems(source, None if ids is None else ids.astype("string").str.strip())
    probs.rows(bad, lambda i: f"geometry is invalid: {reasons[int(i)]}")
    probs.raise_if_any()


def _check_unreadable_gdal(path: Path, layer, gdf: gpd.GeoDataFrame, source: str) -> None:
    """Read with on_invalid="ignore", a refused geometry came back as None: look again at the
    rows with none, as WKB (the geometries alone, in the same feature order as the frame)."""
    if not gdf.geometry.isna().any():
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Non closed ring", category=RuntimeWarning)
        _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
    wkb = np.asarray(wkb, dtype=object)
    wkb[gdf.geometry.notna().to_numpy()] = None  # those parsed
    _name_unreadable(wkb, gdf["id"] if "id" in gdf.columns else None, source)


def _check_unreadable_parquet(path: Path, source: str) -> None:
    """GeoParquet's reader fails the whole file on one refused WKB: find the rows."""
    import json

    import pyarrow.parquet as pq
    meta = json.loads((pq.read_schema(path).metadata or {}).get(b"geo", b"{}"))
    col = meta.get("primary_column", "geometry")
    if meta.get("columns", {}).get(col, {}).get("encoding", "WKB").upper() != "WKB":
        return
    cols = [col] + (["id"] if "id" in pq.read_schema(path).names else [])
    table = pq.read_table(path, columns=cols)
    wkb = np.asarray(table.column(col).to_pylist(), dtype=object)
    ids = table.column("id").to_pandas() if "id" in cols else None
    _name_unreadable(wkb, ids, source)


def write_file(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None,
               append: bool = False) -> Path:
    """Write a layer; the format follows the suffix. CSV gets lon/lat for points, WKT otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".parquet", ".geoparquet"):
        gdf.to_parquet(path)
    elif suffix == ".csv":
        df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        geom = gdf.geometry.to_crs(4326) if gdf.crs is not None else gdf.geometry
        if len(geom) and bool((geom.geom_type == "Point").all()):
            df["lon"], df["lat"] = geom.x.to_numpy(), geom.y.to_numpy()
        else:
            df["wkt"] = shapely.to_wkt(geom.to_numpy(), rounding_precision=-1)
        df.to_csv(path, index=False)
    elif suffix in DRIVERS:
        out = gdf
        if suffix == ".shp":
            # Shapefile's dBase columns cannot hold tz-aware timestamps or JSON; write them as text.
            out = gdf.copy()
            for c in out.columns:
                if c != out.geometry.name and (isinstance(out[c].dtype, pd.DatetimeTZDtype)
                                               or out[c].dtype == object):
                    out[c] = out[c].astype("string")
        pyogrio.write_dataframe(out, path, layer=layer, driver=DRIVERS[suffix], append=append)
    else:
        raise InputError(f"unsupported output format {suffix!r}; use one of "
                         ".gpkg .geojson .parquet .shp .fgb .csv", source=path.name)
    return path
