"""Fault heatmaps: kernel density of tickets on a grid, and the fault-rate surface.

    grid = density(tickets_metric, bandwidth=300)            # faults per km², a DensityGrid
    rate = rate_surface(tickets_metric, lines_metric)        # faults per 100 lines
    grid.to_frame(), grid.contours(6), grid.to_png("heat.png")

A binned Gaussian KDE: points are spread over the four nearest grid nodes (linear binning,
np.bincount), then convolved with the kernel by FFT (scipy.signal.fftconvolve); cost is
O(n + G log G) for n points and G nodes, not O(n G). The raw density mostly shows where people
live; the rate surface divides the smoothed faults by the smoothed lines on the same grid and
kernel, so a district with many lines and few faults per line stays cool.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.signal import fftconvolve

from gis.errors import InputError

MAX_NODES = 25_000_000
TRUNCATE = 4.0    # kernel cut at 4 bandwidths: beyond, the Gaussian is below 0.04 % of its peak


@dataclass
class DensityGrid:
    values: np.ndarray      # rows north to south
    x0: float               # west edge
    y0: float               # north edge
    cell: float
    crs: object
    bandwidth: float
    unit: str

    @property
    def transform(self) -> tuple:
        """GDAL-style affine: (x0, cell, 0, y0, 0, -cell)."""
        return (self.x0, self.cell, 0.0, self.y0, 0.0, -self.cell)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h, w = self.values.shape
        return self.x0, self.y0 - h * self.cell, self.x0 + w * self.cell, self.y0

    def to_frame(self, min_value: float = 0.0) -> gpd.GeoDataFrame:
        """Cells with a value above `min_value` as square polygons."""
        r, c = np.nonzero(np.nan_to_num(self.values) > min_value)
        x = self.x0 + c * self.cell
        y = self.y0 - (r + 1) * self.cell
        return gpd.GeoDataFrame({"row": r, "col": c, "value": self.values[r, c]},
                                geometry=shapely.box(x, y, x + self.cell, y + self.cell), crs=self.crs)

    def contours(self, levels: int | list[float] = 6) -> gpd.GeoDataFrame:
        """Banded polygons (value from `lower` to `upper`), for GeoJSON maps."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        v = np.nan_to_num(self.values)
        if v.max() <= 0:
            return gpd.GeoDataFrame({"lower": [], "upper": []}, geometry=[], crs=self.crs)
        if isinstance(levels, int):
            levels = list(np.linspace(v.max() / (levels + 1), v.max(), levels + 1))[:-1] + [v.max() * 1.0001]
        h, w = v.shape
        xs = self.x0 + (np.arange(w) + 0.5) * self.cell
        ys = self.y0 - (np.arange(h) + 0.5) * self.cell
        fig, ax = plt.subplots()
        cs = ax.contourf(xs, ys, v, levels=levels)
        rows = []
        for lo, hi, paths in zip(cs.levels[:-1], cs.levels[1:], cs.get_paths()):
            polys = []
            for ring in paths.to_polygons():
                if len(ring) >= 4:
                    polys.append(shapely.Polygon(ring))
            if not polys:
                continue
            # Outer rings and holes come as a flat list: even-odd by containment.
            geom = polys[0]
            for q in polys[1:]:
                geom = shapely.symmetric_difference(geom, q)
            geom = shapely.make_valid(geom)
            rows.append({"lower": float(lo), "upper": float(hi), "geometry": geom})
        plt.close(fig)
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=self.crs)

    def to_png(self, path, cmap: str = "inferno_r", vmax: float | None = None) -> list[list[float]]:
        """An RGBA overlay (transparent where zero); returns its bounds [[south, west], [north,
        east]] in lon/lat, as Leaflet's ImageOverlay wants them."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from pyproj import Transformer
        v = np.nan_to_num(self.values)
        top = vmax or (v.max() if v.max() > 0 else 1.0)
        rgba = plt.get_cmap(cmap)(np.clip(v / top, 0, 1))
        rgba[..., 3] = np.clip(v / top * 3, 0, 0.85)   # faint where low, never opaque
        plt.imsave(path, rgba)
        x0, y0, x1, y1 = self.bounds
        t = Transformer.from_crs(self.crs, 4326, always_xy=True)
        lon, lat = t.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
        return [[min(lat), min(lon)], [max(lat), max(lon)]]


def _xy(points: gpd.GeoDataFrame) -> np.ndarray:
    if points.crs is None or points.crs.is_geographic:
        raise InputError("points must be in a projected (metric) CRS for a density in metres")
    geoms = points.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise InputError(f"row {int(np.flatnonzero(bad)[0]) + 1}: no geometry")
    return shapely.get_coordinates(shapely.centroid(geoms))


def default_bandwidth(xy: np.ndarray) -> float:
    """Scott's rule on the pooled spread, floored at 50 m and capped at 2 km: city-scale
    heatmaps need neighbourhood detail, not a blur of the whole town."""
    if len(xy) < 2:
        return 250.0
    sd = float(np.sqrt(0.5 * (xy[:, 0].var() + xy[:, 1].var())))
    return float(np.clip(sd * len(xy) ** (-1 / 6), 50.0, 2000.0))


def _grid(xy_all: np.ndarray, bandwidth: float, cell: float | None, bounds):
    if bounds is None:
        lo, hi = xy_all.min(0) - 3 * bandwidth, xy_all.max(0) + 3 * bandwidth
    else:
        lo, hi = np.array(bounds[:2], float), np.array(bounds[2:], float)
    extent = float(np.max(hi - lo))
    if cell is None:
        cell = max(bandwidth / 4, extent / 1000)
    if not (np.isfinite(cell) and cell > 0):
        raise InputError(f"cell size must be a positive number of metres, not {cell!r}")
    w, h = int(np.ceil((hi[0] - lo[0]) / cell)), int(np.ceil((hi[1] - lo[1]) / cell))
    if w * h > MAX_NODES:
        raise InputError(f"a {w} x {h} grid is too large ({w * h:,} cells; at most {MAX_NODES:,}): use a larger cell")
    return float(lo[0]), float(lo[1] + h * cell), float(cell), w, h


def _kde(xy, weights, x0, y0, cell, w, h, bandwidth, oversample: int | None = None) -> np.ndarray:
    """Linear binning then FFT convolution; result in weight per m² (rows north to south).
    Where the cell is coarse against the bandwidth, the work is done on a grid `oversample`
    times finer, whose nodes include the asked ones (binning error falls as the square)."""
    if oversample is None:
        oversample = 2 if cell > bandwidth / 2 and w * h * 4 <= MAX_NODES else 1
    if oversample > 1:
        f = oversample
        fine = _kde(xy, weights, x0 + cell / 2 - cell / (2 * f), y0 - cell / 2 + cell / (2 * f), cell / f,
                    w * f, h * f, bandwidth, oversample=1)
        return fine[::f, ::f][:h, :w]
    # Points within a kernel's reach outside the grid still count at its edge: bin on a grid
    # padded by the kernel's radius, convolve, then crop.
    pad = int(np.ceil(TRUNCATE * bandwidth / cell)) + 1
    x0, y0, w, h = x0 - pad * cell, y0 + pad * cell, w + 2 * pad, h + 2 * pad
    gx = (xy[:, 0] - x0) / cell - 0.5          # node j sits at the centre of column j
    gy = (y0 - xy[:, 1]) / cell - 0.5
    i0, j0 = np.floor(gy).astype(np.int64), np.floor(gx).astype(np.int64)
    fy, fx = gy - i0, gx - j0
    grid = np.zeros(h * w)
    for di, wy in ((0, 1 - fy), (1, fy)):
        for dj, wx in ((0, 1 - fx), (1, fx)):
            i, j = i0 + di, j0 + dj
            ok = (i >= 0) & (i < h) & (j >= 0) & (j < w)
            grid += np.bincount(i[ok] * w + j[ok], weights=(weights * wy * wx)[ok], minlength=h * w)
    grid = grid.reshape(h, w)
    r = int(np.ceil(TRUNCATE * bandwidth / cell))
    t = np.arange(-r, r + 1) * cell
    # Linear binning spreads each point by a triangle of variance cell²/6 per axis; the kernel
    # gives that back, so the result is the Gaussian of the asked bandwidth, not a wider one.
    eff = np.sqrt(max(bandwidth ** 2 - cell ** 2 / 6, (bandwidth / 2) ** 2))
    k1 = np.exp(-0.5 * (t / eff) ** 2)
    k1 /= k1.sum() * cell                                     # discrete mass 1 along each axis
    kernel = np.outer(k1, k1)                                 # per m², integrates to 1
    out = fftconvolve(grid, kernel, mode="same")[pad:h - pad, pad:w - pad]
    return np.maximum(out, 0.0)


def _check_bandwidth(bandwidth, xy):
    if not (np.isfinite(bandwidth) and bandwidth > 0):
        raise InputError(f"bandwidth must be a positive number of metres, not {bandwidth!r}")
    extent = float(np.max(xy.max(0) - xy.min(0))) if len(xy) > 1 else 0.0
    if bandwidth > max(10 * extent, 50_000):
        raise InputError(f"a bandwidth of {bandwidth:,.0f} m is absurd for data {extent:,.0f} m across: "
                         f"every fault would be smeared over the whole city")


def density(points: gpd.GeoDataFrame, *, bandwidth: float | None = None, cell: float | None = None,
            weight: str | np.ndarray | None = None, bounds=None) -> DensityGrid:
    """Kernel density of points (faults per km², or weight per km² with `weight`, e.g.
    severity) on a regular grid in the points' metric CRS."""
    if len(points) == 0:
        raise InputError("no faults in the window: nothing to map")
    xy = _xy(points)
    bw = default_bandwidth(xy) if bandwidth is None else float(bandwidth)
    _check_bandwidth(bw, xy)
    wts = _weights(points, weight)
    x0, y0, c, w, h = _grid(xy, bw, cell, bounds)
    v = _kde(xy, wts, x0, y0, c, w, h, bw) * 1e6
    return DensityGrid(v, x0, y0, c, points.crs, bw, "faults per km²" if weight is None else f"{weight} per km²")


def rate_surface(faults: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, *, bandwidth: float | None = None,
                 cell: float | None = None, weight=None, min_lines_per_km2: float = 50.0,
                 months: float = 1.0) -> DensityGrid:
    """Faults per 100 lines (per month when `months` is the window's length): both surfaces on
    one grid and kernel, divided; NaN where the smoothed lines are too few to mean anything."""
    if len(faults) == 0:
        raise InputError("no faults in the window: nothing to map")
    if len(lines) == 0:
        raise InputError("no lines (subscribers) to divide by")
    lines = lines.to_crs(faults.crs)
    xf, xl = _xy(faults), _xy(lines)
    bw = default_bandwidth(xl) if bandwidth is None else float(bandwidth)
    _check_bandwidth(bw, xl)
    x0, y0, c, w, h = _grid(np.r_[xf, xl], bw, cell, None)
    f = _kde(xf, _weights(faults, weight), x0, y0, c, w, h, bw)
    n = _kde(xl, np.ones(len(xl)), x0, y0, c, w, h, bw)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n * 1e6 >= min_lines_per_km2, 100 * f / n / months, np.nan)
    return DensityGrid(rate, x0, y0, c, faults.crs, bw, "faults per 100 lines" + (" per month" if months != 1 else ""))


def _weights(points, weight) -> np.ndarray:
    if weight is None:
        return np.ones(len(points))
    v = points[weight].to_numpy(dtype=float) if isinstance(weight, str) else np.asarray(weight, float)
    if isinstance(weight, str) and weight not in points.columns:
        raise InputError(f"no weight column {weight!r}")
    if len(v) != len(points) or not np.isfinite(v).all() or (v < 0).any():
        raise InputError("weights must be finite, non-negative numbers, one per point")
    return v


MIN_METRES, MAX_METRES = 1.0, 50_000.0


def check_options(*, bandwidth=None, cell=None) -> None:
    """What can be said of a bandwidth and a cell before any data is read."""
    for name, v in (("bandwidth", bandwidth), ("cell size", cell)):
        if v is not None and not (isinstance(v, numbers.Real) and np.isfinite(v) and v > 0):
            raise InputError(f"{name} must be a positive number of metres, not {v!r}")
        # A fault's place is known to a metre or so, and a city is tens of km across: outside
        # these bounds a value is a slip (5e-324 m would ask for a grid too large to count).
        if v is not None and not MIN_METRES <= v <= MAX_METRES:
            raise InputError(f"{name} must be between {MIN_METRES:g} and {MAX_METRES:,.0f} metres, not {v!r}")


def filter_tickets(tickets: pd.DataFrame, *, start=None, end=None, cause=None, cable_kind=None,
                   district=None, tz: str = "UTC") -> pd.DataFrame:
    """Tickets reported in [start, end) (local days in `tz`), optionally of some causes, cable
    kinds or districts; an empty window or an unknown district is an error that says so."""
    def local(x):
        x = pd.Timestamp(x)
        return x if x.tzinfo else x.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    if start is not None and end is not None and local(end) <= local(start):
        raise InputError(f"the window is empty: the end {end} is not after the start {start}")
    when = pd.to_datetime(tickets["reported_at"], utc=True)
    keep = np.ones(len(tickets), bool)
    if start is not None:
        keep &= (when >= local(start)).to_numpy()
    if end is not None:
        keep &= (when < local(end)).to_numpy()
    t = tickets[keep]
    for col, want in (("cause", cause), ("cable_kind", cable_kind), ("district", district)):
        if want:
            want = [want] if isinstance(want, str) else list(want)
            if col == "district":
                known = set(tickets[col].dropna())
                unknown = [d for d in want if d not in known]
                if unknown:
                    raise InputError(f"unknown district {unknown[0]!r} (no tickets or no active plan has it)")
            t = t[t[col].isin(want)]
    if len(t) == 0:
        raise InputError("no faults in the window with these filters: nothing to map")
    return t
