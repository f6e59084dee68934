"""Fault hotspots: Getis-Ord Gi* on a hexagonal grid (H3) or on any areas, with a false
discovery rate correction, and emerging hotspots over monthly slices.

    cells = hex_counts(tickets, resolution=9, lines=subscribers)  # H3 cells with faults and lines
    hot = gi_star(cells, "faults")                             # gi_z, gi_p, hot, cold, class
    hot = gi_star(cells, "faults", rate_of="lines")            # on faults per line
    trend = emerging(tickets, resolution=9)                    # Esri's classes per cell

Gi* (esda.G_Local, star=True) compares each place and its neighbours with the whole map; its
analytical z and p are used (no permutations: fast and deterministic), and the hot cells are
those that survive the Benjamini-Hochberg false-discovery-rate cut (esda.fdr) at `alpha`.
"""
from __future__ import annotations

import numbers

import geopandas as gpd
import h3
import h3.api.basic_int as _h3int
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.stats import norm

from gis.errors import InputError

# Mean H3 hexagon edge length in metres by resolution (H3's own table).
H3_EDGE_M = {6: 3724.5, 7: 1406.5, 8: 531.4, 9: 200.8, 10: 75.9, 11: 28.7}


RESOLUTIONS = range(6, 12)   # H3 cells from ~36 km² (6) to ~0.002 km² (11): a city's scales


def check_alpha(alpha) -> None:
    """The false discovery rate: above one half, "significant" would mean a coin toss."""
    if not (isinstance(alpha, numbers.Real) and 0 < alpha <= 0.5):
        raise InputError(f"alpha (the false discovery rate) must be in (0, 0.5], not {alpha!r}")


def check_resolution(resolution) -> None:
    if resolution not in RESOLUTIONS:
        raise InputError(f"the H3 resolution must be {RESOLUTIONS[0]} to {RESOLUTIONS[-1]}, not {resolution!r}")


def resolution_for(cell_size: float) -> int:
    """The H3 resolution whose hexagons are closest to `cell_size` metres across (2 x edge)."""
    if not (np.isfinite(cell_size) and 20 <= cell_size <= 20_000):
        raise InputError(f"cell size must be between 20 m and 20 km, not {cell_size!r}")
    return min(H3_EDGE_M, key=lambda r: abs(np.log(2 * H3_EDGE_M[r] / cell_size)))


def cell_ids(points: gpd.GeoDataFrame, res: int) -> np.ndarray:
    """The H3 cell of each point (its centroid, for lines and outlines), as H3's hex strings."""
    geoms = points.geometry.to_crs(4326).to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise InputError(f"row {int(np.flatnonzero(bad)[0]) + 1}: no geometry")
    # A point is its own centroid: only lines and outlines pay for computing one.
    points_only = bool((shapely.get_type_id(geoms) == 0).all())
    xy = shapely.get_coordinates(geoms if points_only else shapely.centroid(geoms))
    return cell_strings(cell_ints(xy[:, 1], xy[:, 0], res))


def cell_ints(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    """The H3 cell (uint64) of each lat/lon. h3 4.5 has no array form of latlng_to_cell (its
    numpy_int API only returns arrays where H3 gives lists), so this is one C call per point;
    on plain floats and ints (no hex strings made) it runs about 0.6 µs a point, the cost of
    reading the point, where the string API took three times that."""
    f = _h3int.latlng_to_cell
    return np.array([f(a, b, res) for a, b in zip(np.asarray(lat, float).tolist(), np.asarray(lon, float).tolist())],
                    dtype=np.uint64)


def cell_strings(ints: np.ndarray) -> np.ndarray:
    """H3 hex strings of uint64 cells; each distinct cell is converted once (a city's 800,000
    points fall in a few thousand cells)."""
    if len(ints) == 0:
        return np.array([], dtype=object)
    codes, uniq = pd.factorize(ints)
    return np.array([h3.int_to_str(int(c)) for c in uniq], dtype=object)[codes]


def hex_counts(points: gpd.GeoDataFrame, *, resolution: int = 9, weight: str | None = None,
               lines: gpd.GeoDataFrame | None = None, cells: np.ndarray | None = None,
               line_cells: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """H3 cells with the fault count (and weight sum) and, given `lines`, the lines in each;
    the cells between occupied ones (one ring round them) are included with zeros, so Gi* has
    quiet places to compare with. `cells` / `line_cells`: the points' and lines' cell_ids at
    `resolution` when the caller has them already (a city's lines take a second)."""
    if len(points) == 0:
        raise InputError("no faults to count")
    cid = cell_ids(points, resolution) if cells is None else cells
    counts = pd.Series(cid).value_counts()
    wsum = (pd.Series(points[weight].to_numpy(float)).groupby(cid).sum() if weight else counts.astype(float))
    if line_cells is None and lines is not None and len(lines):
        line_cells = cell_ids(lines, resolution)
    lc = pd.Series(line_cells).value_counts() if line_cells is not None and len(line_cells) else None
    occupied = set(counts.index) | (set(lc.index) if lc is not None else set())
    ring = set()
    for c in occupied:
        ring.update(h3.grid_disk(c, 1))
    ids = np.array(sorted(ring), dtype=object)
    out = gpd.GeoDataFrame({
        "cell": ids,
        "faults": counts.reindex(ids).fillna(0).to_numpy(dtype=float),
        "weight": wsum.reindex(ids).fillna(0).to_numpy(dtype=float),
    }, geometry=[shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in ids], crs=4326)
    if lc is not None:
        out["lines"] = lc.reindex(ids).fillna(0).to_numpy(dtype=float)
    return out


def hex_weights(cells: np.ndarray) -> sparse.csr_matrix:
    """Binary contiguity of H3 cells (their ring-1 neighbours present in the set)."""
    pos = {c: i for i, c in enumerate(cells)}
    rows, cols = [], []
    for i, c in enumerate(cells):
        for nb in h3.grid_ring(c, 1):
            j = pos.get(nb)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cells), len(cells)))


def area_weights(areas: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Queen contiguity of polygons (shared edge or corner), e.g. box service areas."""
    g = areas.geometry.to_numpy()
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    keep = i != j
    return sparse.csr_matrix((np.ones(keep.sum()), (i[keep], j[keep])), shape=(len(g), len(g)))


def _gi_star_space_time(W: sparse.csr_matrix, X: np.ndarray, window: int) -> np.ndarray:
    """Gi* on a space-time cube (places x slices): a bin's neighbours are its place's and its
    spatial neighbours' bins in the same slice and the `window` slices before, as in Esri's
    space-time cube; mean and spread are the whole cube's."""
    n, T = X.shape
    Ws = (W + sparse.identity(n, format="csr")).tocsr()
    Ws.data[:] = 1.0
    per = np.asarray(Ws.sum(axis=1)).ravel()
    S = Ws @ X
    lag = np.zeros_like(S)
    wi = np.zeros((n, T))
    for d in range(window + 1):
        lag[:, d:] += S[:, : T - d]
        wi[:, d:] += per[:, None]
    N = X.size
    xbar = X.mean()
    sd = np.sqrt((X ** 2).mean() - xbar ** 2)
    den = sd * np.sqrt(np.maximum((N * wi - wi ** 2) / (N - 1), 1e-12))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (lag - wi * xbar) / den, 0.0)


def _gi_star_z(W: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """Getis-Ord Gi* z-scores (self included), vectorised for a matrix x (n x t): the
    closed form of Getis & Ord (1995), the same as esda.G_Local(star=True)'s analytical z."""
    n = W.shape[0]
    Ws = (W + sparse.identity(n, format="csr")).tocsr()
    Ws.data[:] = 1.0
    wi = np.asarray(Ws.sum(axis=1)).ravel()
    s1 = wi  # binary weights: sum of squares = sum
    x = x.reshape(n, -1)
    xbar = x.mean(0)
    s = np.sqrt((x ** 2).mean(0) - xbar ** 2)
    num = Ws @ x - wi[:, None] * xbar
    den = s * np.sqrt(np.maximum((n * s1 - wi ** 2) / (n - 1), 1e-12))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(den > 0, num / den, 0.0)
    return z


def fdr_cut(p: np.ndarray, alpha: float) -> float:
    """Benjamini-Hochberg threshold (esda.fdr's rule): the largest p_(i) <= i alpha / n."""
    ps = np.sort(p)
    ok = ps <= alpha * np.arange(1, len(ps) + 1) / len(ps)
    return float(ps[np.flatnonzero(ok)[-1]]) if ok.any() else 0.0


def _rate(faults: np.ndarray, lines: np.ndarray, prior_lines: float) -> np.ndarray:
    """Faults per line, shrunk towards the city-wide rate where lines are few (empirical Bayes
    with `prior_lines` pseudo-lines), so a cell of three lines and one fault is not a hotspot."""
    r0 = faults.sum() / max(lines.sum(), 1e-12)
    return (faults + prior_lines * r0) / (lines + prior_lines)


def gi_star(areas: gpd.GeoDataFrame, value: str, *, rate_of: str | None = None, alpha: float = 0.05,
            W: sparse.csr_matrix | None = None, prior_lines: float = 50.0) -> gpd.GeoDataFrame:
    """Gi* on `value` (or on value per `rate_of`, shrunk) for hex cells (column `cell`) or any
    polygons; adds gi_z, gi_p (two-sided), hot / cold after the FDR cut, and class."""
    if len(areas) < 3:
        raise InputError("too few places for a hotspot analysis (at least 3)")
    check_alpha(alpha)
    if W is None:
        W = hex_weights(areas["cell"].to_numpy()) if "cell" in areas.columns else area_weights(areas)
    x = areas[value].to_numpy(float)
    if rate_of is not None:
        x = _rate(x, areas[rate_of].to_numpy(float), prior_lines)
    out = areas.copy()
    if np.allclose(x, x[0]):
        z = np.zeros(len(x))
    else:
        z = _gi_star_z(W, x)[:, 0]
    p = 2 * norm.sf(np.abs(z))
    cut = fdr_cut(p, alpha)
    out["gi_z"], out["gi_p"] = z, p
    out["hot"] = (z > 0) & (p <= cut)
    out["cold"] = (z < 0) & (p <= cut)
    cls = np.full(len(z), "none", dtype=object)
    for level, name in ((0.10, "90"), (0.05, "95"), (0.01, "99")):
        cls[(p <= level) & (z > 0) & out["hot"].to_numpy()] = f"hot_{name}"
        cls[(p <= level) & (z < 0) & out["cold"].to_numpy()] = f"cold_{name}"
    out["class"] = cls
    out.attrs["fdr_p"] = cut
    return out


# ---- emerging hotspots -------------------------------------------------------------------------

def mann_kendall(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test on each row of y (places x time): z and two-sided p, with the
    variance corrected for ties."""
    y = np.atleast_2d(y)
    n = y.shape[1]
    i, j = np.triu_indices(n, 1)
    S = np.sign(y[:, j] - y[:, i]).sum(1)
    var = np.full(len(y), n * (n - 1) * (2 * n + 5) / 18.0)
    for r in range(len(y)):  # tie correction: only rows with ties pay for it
        _, t = np.unique(y[r], return_counts=True)
        t = t[t > 1]
        if len(t):
            var[r] -= (t * (t - 1) * (2 * t + 5)).sum() / 18.0
    z = np.where(S > 0, (S - 1) / np.sqrt(np.maximum(var, 1e-12)),
                 np.where(S < 0, (S + 1) / np.sqrt(np.maximum(var, 1e-12)), 0.0))
    return z, 2 * norm.sf(np.abs(z))


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
             alpha: float = 0.05) -> np.ndarray:
    """Esri's Emerging Hot Spot Analysis classes from each place's significant hot / cold slices
    (places x time) and the Mann-Kendall trend of its z-scores; cold spots mirror hot ones
    (an intensifying cold spot is getting ever quieter)."""
    out = _classify(hot, cold, trend_z, trend_p, alpha)
    cold_cls = _classify(cold, hot, -trend_z, trend_p, alpha)
    use = (out == "no pattern") & (cold_cls != "no pattern")
    out[use] = [c.replace("hot spot", "cold spot") for c in cold_cls[use]]
    return out


def _classify(hot, cold, trend_z, trend_p, alpha):
    n_t = hot.shape[1]
    share = hot.mean(1)
    last = hot[:, -1]
    ever_cold = cold.any(1)
    up = (trend_z > 0) & (trend_p <= alpha)
    down = (trend_z < 0) & (trend_p <= alpha)
    # Length of the run of hot slices that ends with the last one.
    run = np.zeros(len(hot), int)
    for t in range(n_t - 1, -1, -1):
        still = (run == n_t - 1 - t) & hot[:, t]
        run[still] += 1
    before_run = np.array([hot[r, : n_t - run[r]].any() for r in range(len(hot))])
    out = np.full(len(hot), "no pattern", dtype=object)
    many = share >= 0.9
    out[last & many & up] = "intensifying hot spot"
    out[last & many & ~up & ~down] = "persistent hot spot"
    out[last & many & down] = "diminishing hot spot"
    few = last & ~many
    out[few & (hot.sum(1) == 1)] = "new hot spot"
    out[few & (run >= 2) & ~before_run] = "consecutive hot spot"
    out[few & before_run & ~ever_cold & (out == "no pattern")] = "sporadic hot spot"
    out[few & before_run & ever_cold & (out == "no pattern")] = "oscillating hot spot"
    out[~last & many] = "historical hot spot"
    return out


def emerging(points: gpd.GeoDataFrame, *, time: str = "reported_at", resolution: int = 9, alpha: float = 0.05,
             lines: gpd.GeoDataFrame | None = None, rate: bool = False, freq: str = "M",
             prior_lines: float = 50.0, time_window: int = 1, tz: str = "UTC", cells: np.ndarray | None = None,
             line_cells: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Gi* per month on H3 cells (all months at once: one sparse product), then the
    Mann-Kendall trend of each cell's z-scores and its emerging-hotspot class. With `lines`
    and `rate`, each month's value is faults per line (shrunk), so a growing suburb's rising
    count is not mistaken for a failing network. `time_window` slices before each one count
    among its neighbours (Esri's neighbourhood time step), so one quiet month inside a run of
    bad ones does not break it. Months are local months in `tz` (the city's time zone).
    `cells` / `line_cells`: the points' and lines' cell_ids, when the caller has them."""
    check_alpha(alpha)
    if len(points) == 0:
        raise InputError("no faults to analyse")
    cid = cell_ids(points, resolution) if cells is None else cells
    month = pd.to_datetime(points[time], utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.to_period(freq)
    periods = pd.period_range(month.min(), month.max(), freq=freq)
    if len(periods) < 3:
        raise InputError(f"{len(periods)} time slices: an emerging-hotspot analysis needs at least 3")
    cells = hex_counts(points, resolution=resolution, lines=lines, cells=cid, line_cells=line_cells)
    ids = cells["cell"].to_numpy()
    pos = pd.Index(ids).get_indexer(cid)
    t = periods.get_indexer(month)
    X = np.zeros((len(ids), len(periods)))
    np.add.at(X, (pos, t), 1.0)
    if rate and lines is not None and "lines" in cells.columns:
        L = cells["lines"].to_numpy(float)
        X = np.column_stack([_rate(X[:, k], L, prior_lines) for k in range(X.shape[1])])
    out = cells.copy()
    for col, values in space_time_classes(hex_weights(ids), X, alpha=alpha, time_window=time_window).items():
        out[col] = values.to_numpy()
    out.attrs["periods"] = [str(p) for p in periods]
    return out


def space_time_classes(W: sparse.csr_matrix, X: np.ndarray, *, alpha: float = 0.05,
                       time_window: int = 1) -> pd.DataFrame:
    """The emerging-hotspot analysis of places x slices X (oldest slice first) over the binary
    neighbours W: per place n_hot, final_z, the Mann-Kendall trend_z and trend_p of its Gi*
    z-scores, and Esri's pattern. The H3 cells of `emerging` and fault risk's neighbourhoods of
    boxes (planning.risk_features) both read it."""
    Z = _gi_star_space_time(W, X, time_window) if time_window else _gi_star_z(W, X)
    P = 2 * norm.sf(np.abs(Z))
    cut = np.array([fdr_cut(P[:, k], alpha) for k in range(P.shape[1])])
    hot = (Z > 0) & (P <= cut[None, :])
    cold = (Z < 0) & (P <= cut[None, :])
    mz, mp = mann_kendall(Z)
    return pd.DataFrame({"n_hot": hot.sum(1), "final_z": Z[:, -1], "trend_z": mz, "trend_p": mp,
                         "pattern": classify(hot, cold, mz, mp, alpha)})
