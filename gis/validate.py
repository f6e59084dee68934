"""Turn a user's GeoDataFrame into rows a layer accepts, or say exactly which rows are wrong.

Everything that can be checked without the database is checked here, vectorised over the
whole frame; problems are collected (not raised one by one) so one run tells the planner about
every class of mistake, and the error lists every bad row (the first rows of each
class first).
"""
from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .errors import InputError
from .layers import ROW_RULES, Layer

MAX_ROWS_NAMED = 3  # rows of each problem listed before the rest of any problem
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}


class Problems:
    """Collects problems as (row positions, message) and raises them as one InputError."""

    def __init__(self, source: str, ids: pd.Series | None):
        self.source, self.ids, self.items = source, ids, []

    def rows(self, mask, message) -> None:
        """Report every row where `mask` is true; `message` is a str or a function of the position."""
        pos = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(pos):
            self.items.append((pos, message))

    def whole(self, message: str) -> None:
        self.items.append((None, message))

    def _id(self, i: int) -> str | None:
        if self.ids is None:
            return None
        v = self.ids.iat[i]
        return None if pd.isna(v) else str(v)

    def _line(self, i: int, msg) -> str:
        text = msg(i) if callable(msg) else msg
        rid = self._id(i)
        return f"{self.source} row {i + 1:,}" + (f" (id {rid})" if rid else "") + f": {text}"

    def lines(self) -> list[str]:
        """Every problem, one line per row, so a file can be fixed in one pass. The first few
        rows of each problem come first and the rest after, so the first lines a console shows
        cover every kind of mistake rather than one kind repeated. (A loop over the bad rows
        only: each line is a sentence of its own.)"""
        heads, tails = [], []
        for pos, msg in self.items:
            if pos is None:
                heads.append(f"{self.source}: {msg}")
                continue
            heads += [self._line(int(i), msg) for i in pos[:MAX_ROWS_NAMED]]
            tails += [self._line(int(i), msg) for i in pos[MAX_ROWS_NAMED:]]
        return heads + tails

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = self.lines()
        pos, msg = self.items[0]
        n = len(lines) - 1
        more = f" (and {n:,} more problem{'s' if n != 1 else ''}, listed below)" if n else ""
        if pos is None:
            raise InputError(msg + more, source=self.source, problems=lines)
        i = int(pos[0])
        text = msg(i) if callable(msg) else msg
        raise InputError(text + more, source=self.source, row=i + 1, record=self._id(i), problems=lines)


def _as_text(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.mask(out == "")


def _coerce(s: pd.Series, kind: str, name: str, probs: Problems) -> pd.Series:
    """Coerce one column to its kind; rows that do not parse are reported, not dropped."""
    present = s.notna() & ~(s.astype("string").str.strip() == "").fillna(False)
    if kind == "text":
        return _as_text(s)
    if kind in ("int", "float"):
        num = pd.to_numeric(s, errors="coerce") if s.dtype == object or pd.api.types.is_string_dtype(s) \
            else s.astype("float64")
        bad = present & num.isna()
        if kind == "int":
            frac = num.notna() & (num.astype("float64") % 1 != 0)
            bad = bad | frac
        probs.rows(bad, lambda i: f"{name} {s.iat[i]!r} is not {'an integer' if kind == 'int' else 'a number'}")
        num = num.where(~bad)
        return num.astype("Int64") if kind == "int" else num.astype("Float64")
    if kind == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean")
        txt = s.astype("string").str.strip().str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[txt.isin(TRUE).fillna(False)] = True
        out[txt.isin(FALSE).fillna(False)] = False
        probs.rows(present & out.isna(), lambda i: f"{name} {s.iat[i]!r} is not true/false")
        return out
    if kind in ("date", "timestamp"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = pd.to_datetime(s, errors="coerce", utc=(kind == "timestamp"), format="mixed")
        probs.rows(present & ts.isna(), lambda i: f"{name} {s.iat[i]!r} is not a {'date' if kind == 'date' else 'date and time'}")
        if kind == "date":
            if isinstance(ts.dtype, pd.DatetimeTZDtype):
                ts = ts.dt.tz_localize(None)
            return ts.dt.normalize()
        return ts
    raise AssertionError(kind)


def _check_geometry(gdf: gpd.GeoDataFrame, layer: Layer, probs: Problems) -> np.ndarray:
    geom = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geom)
    if "geometry" in layer.required:
        probs.rows(missing, "geometry is missing")
    empty = ~missing & shapely.is_empty(geom)
    probs.rows(empty, "geometry is empty")
    live = ~missing & ~empty
    types = np.asarray(shapely.get_type_id(geom))
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"])
    tname = np.where(types >= 0, names[np.clip(types, 0, 7)], "")
    wrong = live & ~np.isin(tname, sorted(layer.geometry_types))
    expected = " or ".join(sorted(layer.geometry_types))
    probs.rows(wrong, lambda i: f"geometry is a {tname[i]}, expected {expected}")
    check = live & ~wrong
    invalid = np.zeros(len(geom), bool)
    invalid[check] = ~shapely.is_valid(geom[check])
    probs.rows(invalid, lambda i: f"geometry is invalid: {shapely.is_valid_reason(geom[i])}")
    return check & ~invalid


def _check_crs_bounds(gdf: gpd.GeoDataFrame, ok: np.ndarray, probs: Problems) -> None:
    """Coordinates outside the CRS's area of use, or that do not transform to lon/lat at all."""
    crs = gdf.crs
    geom = gdf.geometry.to_numpy()
    if not ok.any():
        return
    b = shapely.bounds(geom)
    corners = [(0, 1), (2, 1), (0, 3), (2, 3)]
    bad = np.zeros(len(geom), bool)
    reason = np.empty(len(geom), dtype=object)
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    aou = crs.area_of_use
    west, south, east, north = aou.bounds if aou else (-180.0, -90.0, 180.0, 90.0)
    slack = 1.0  # degrees: areas of use are drawn generously but not exactly
    for xi, yi in corners:
        x, y = b[:, xi], b[:, yi]
        with np.errstate(all="ignore"):
            lon, lat = to_ll.transform(x, y, errcheck=False)
        outside = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
        if aou and not (west <= -180 and east >= 180):
            if west <= east:
                outside |= (lon < west - slack) | (lon > east + slack)
            else:  # an area of use crossing the antimeridian
                outside |= (lon < west - slack) & (lon > east + slack)
            outside |= (lat < south - slack) | (lat > north + slack)
        newly = ok & outside & ~bad
        reason[newly] = [f"coordinates ({x[i]:.6g}, {y[i]:.6g}) lie outside the area of use of "
                         f"{crs.to_string()}" for i in np.flatnonzero(newly)]
        bad |= ok & outside
    probs.rows(bad, lambda i: reason[i])


def prepare(gdf: gpd.GeoDataFrame, layer: Layer, *, source: str,
            city_id: str | None = None) -> gpd.GeoDataFrame:
    """Return the rows as the layer's table wants them (typed, EPSG:4326), or raise InputError."""
    gdf = gdf.copy()
    gname = gdf.geometry.name
    if gname != "geometry":
        gdf = gdf.rename_geometry("geometry")
    if city_id is not None and "city_id" in layer.kinds:
        if "city_id" in gdf.columns and gdf["city_id"].notna().any():
            other = _as_text(gdf["city_id"])
            probs = Problems(source, gdf.get("id"))
            probs.rows((other != city_id).fillna(False), lambda i: f"city_id {other.iat[i]!r} differs from the city {city_id!r} the rows go into")
            probs.raise_if_any()
        gdf["city_id"] = city_id
    missing = [c for c in layer.required if c not in gdf.columns]
    if missing:
        raise InputError(f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
                         f"(a layer '{layer.name}' needs {', '.join(layer.required)}; "
                         "a column of another name can be mapped to one of these)", source=source)
    if gdf.crs is None:
        raise InputError("the file has no coordinate reference system: say which it is (e.g. EPSG:4326)",
                         source=source)
    gdf = gdf.reset_index(drop=True)
    probs = Problems(source, _as_text(gdf["id"]) if "id" in gdf.columns else None)

    out = {}
    for col, kind in layer.kinds.items():
        if col in gdf.columns:
            out[col] = _coerce(gdf[col], kind, col, probs)
    df = pd.DataFrame(out, index=gdf.index)
    for col in layer.required:
        if col != "geometry" and col in df.columns:
            probs.rows(_as_text(gdf[col]).isna(), f"{col} is missing")
    ids = df["id"]
    dup = ids.duplicated(keep="first") & ids.notna()
    first_row = pd.Series(np.arange(len(ids)), index=ids.index).groupby(ids).transform("min")
    probs.rows(dup, lambda i: f"id {ids.iat[i]} is duplicated (first at row {int(first_row.iat[i]) + 1:,})")
    for col, allowed in layer.vocabularies.items():
        if col in df.columns:
            bad = df[col].notna() & ~df[col].isin(allowed)
            probs.rows(bad, lambda i, c=col, a=allowed: f"{c} {df[c].iat[i]!r} is not one of {', '.join(a)}")
    for cols, test, message in ROW_RULES.get(layer.name, []):
        if all(c in df.columns for c in cols):
            applicable = df[list(cols)].notna().all(axis=1)
            with np.errstate(invalid="ignore"):
                passed = test(df).astype("boolean").fillna(True)
            probs.rows(applicable & ~passed, message)

    ok = _check_geometry(gdf, layer, probs)
    _check_crs_bounds(gdf, ok, probs)
    probs.raise_if_any()

    geom = gdf.geometry
    if geom.crs is not None and not CRS(geom.crs).equals(CRS.from_epsg(4326)):
        geom = geom.to_crs(4326)
    garr = geom.to_numpy()
    if layer.promote_to_multi:
        single = np.asarray(shapely.get_type_id(garr)) == 3
        if single.any():
            garr = garr.copy()
            garr[single] = shapely.multipolygons(garr[single], indices=np.arange(single.sum()))
    # Drop any Z: the store is 2D.
    has_z = np.asarray(shapely.has_z(garr), dtype=bool) & ~shapely.is_missing(garr)
    if has_z.any():
        garr = garr.copy()
        garr[has_z] = shapely.force_2d(garr[has_z])
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(garr, index=df.index, crs=4326), crs=4326)
