"""Fault risk's inputs: each asset's features at a cut-off, from the faults before it only, the
targets of past windows, and the training set that stacks them (planning.risk fits on it).

Every feature is built from the faults reported before the cut-off and nothing else: the rows
after it are dropped first (a test moves every later fault and finds the same predictions). The
training set stacks windows that end by the cut-off: features at `as_of - horizon - k` months,
the target the faults of the `horizon` months after that, k = 0..windows-1 (WINDOWS, STEP), and
the storm days' faults among them (the estimator learns the calm part; storms come in at their
mean).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree
from sklearn.ensemble import HistGradientBoostingRegressor

from gis.errors import InputError

from .hotspots import space_time_classes

MONTH = pd.Timedelta(days=30.4375)          # a mean month: windows are counted back from the cut-off
LAGS = 12                                   # monthly counts, the last year
NEIGHBOURS = 8                              # nearest assets of the same layer for the neighbourhood
REPEAT_DAYS = 30                            # a repeat: the subscriber's second fault within this
STORM_FACTOR = 3.0                          # a storm day has at least this many times the median day's faults
CATEGORICAL = ("medium", "placement", "kind")
PLANT_LEAF = 40                             # assets per leaf of the plant-only rate models
# Esri's emerging-hotspot classes (planning.hotspots.classify), in one fixed order: a category's
# code must mean the same in every training window and at prediction.
AREA_CLASSES = ["no pattern", *(f"{kind} {spot}" for spot in ("hot spot", "cold spot") for kind in (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical"))]
EMERGING_MONTHS = 6                         # the fewest monthly slices an emerging class is read from
UNKNOWN = -1.0                              # a monthly count before the store's first fault


# The training windows: nine, a month apart, the last ending at the cut-off (recent windows
# teach most; measured on two demo seeds against six a horizon apart: bench/bench_risk.py).
WINDOWS, STEP = 9, 1


def check(horizon=3, windows=WINDOWS) -> None:
    """Cheap parameters first, before any data is read."""
    if not isinstance(horizon, (int, np.integer)) or not 1 <= horizon <= 12:
        raise InputError(f"horizon {horizon!r} must be 1 to 12 months")
    if not isinstance(windows, (int, np.integer)) or not 1 <= windows <= 12:
        raise InputError(f"windows {windows!r} must be 1 to 12 past windows")


def _utc(ts) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _flags(faults: pd.DataFrame) -> pd.DataFrame:
    """Each fault with `storm` (its day had a burst of faults) and `repeat` (its subscriber had
    another in the 30 days before): both read only earlier or same-day faults."""
    f = faults.reset_index(drop=True)
    f["at"] = pd.to_datetime(f["at"], utc=True)
    day = f["at"].dt.floor("D")
    daily = day.value_counts()
    f["storm"] = day.map(daily).to_numpy() >= STORM_FACTOR * max(float(daily.median()), 1.0) if len(f) else False
    f["repeat"] = False
    if "subscriber_id" in f.columns and len(f):
        s = f[f["subscriber_id"].notna()].sort_values(["subscriber_id", "at"])
        gap = s["at"].diff()
        rep = s["subscriber_id"].eq(s["subscriber_id"].shift()) & (gap <= pd.Timedelta(days=REPEAT_DAYS))
        f.loc[rep.index[rep.to_numpy()], "repeat"] = True
    return f


def _knn(assets: pd.DataFrame) -> np.ndarray:
    """Each asset's nearest others (row positions), NEIGHBOURS of them (fewer in a tiny layer)."""
    k = min(NEIGHBOURS, len(assets) - 1)
    if k <= 0:
        return np.zeros((len(assets), 0), int)
    xy = assets[["x", "y"]].to_numpy(float)
    _, idx = cKDTree(xy).query(xy, k=k + 1)
    return idx[:, 1:]


def _gi_star(x: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """Getis-Ord Gi* of x over each asset and its neighbours (binary weights, self included)."""
    n = len(x)
    if n < 3 or nb.shape[1] == 0:
        return np.zeros(n)
    w = nb.shape[1] + 1
    local = x + x[nb].sum(axis=1)
    mean, sd = x.mean(), x.std()
    if sd == 0:
        return np.zeros(n)
    return (local - mean * w) / (sd * np.sqrt((n * w - w * w) / (n - 1)))


def _emerging(calm: np.ndarray, lines: np.ndarray, nb: np.ndarray, history: float) -> tuple[np.ndarray, pd.Categorical]:
    """The emerging-hotspot trend and class of each asset's neighbourhood (itself and its nearest
    of the layer), as the analysts' map gives them for H3 cells (planning.hotspots), over the
    known months of the year before the cut-off, on calm faults per line."""
    n, known = len(calm), int(min(np.floor(history), calm.shape[1]))
    if known < EMERGING_MONTHS or nb.shape[1] == 0:
        return np.zeros(n), pd.Categorical(["no pattern"] * n, categories=AREA_CLASSES)
    X = calm[:, :known][:, ::-1] / np.maximum(lines, 1.0)[:, None]     # oldest month first
    W = sparse.csr_matrix((np.ones(nb.size), (np.repeat(np.arange(n), nb.shape[1]), nb.ravel())), shape=(n, n))
    out = space_time_classes(W, X)
    return out["trend_z"].to_numpy(), pd.Categorical(out["pattern"].astype(str), categories=AREA_CLASSES)


def features(assets: pd.DataFrame, faults: pd.DataFrame, as_of, *, _flagged: pd.DataFrame | None = None) -> pd.DataFrame:
    """The features of every asset at the cut-off `as_of`, from the faults before it only."""
    for c in ("x", "y", "year", "lines"):
        if c not in assets.columns:
            raise InputError(f"assets have no {c!r} column")
    for c in ("asset", "at"):
        if c not in faults.columns:
            raise InputError(f"faults have no {c!r} column")
    cut = _utc(as_of)
    f = _flagged if _flagged is not None else _flags(faults[pd.to_datetime(faults["at"], utc=True) < cut])
    f = f[f["at"] < cut]
    pos = pd.Series(np.arange(len(assets)), index=assets.index)
    row = pos.reindex(f["asset"].to_numpy()).to_numpy()
    known = ~np.isnan(row)
    row = row[known].astype(int)
    age_m = ((cut - f["at"][known]) / MONTH).to_numpy()
    lag = np.floor(age_m).astype(int)
    n = len(assets)
    keep = lag < LAGS
    counts = np.bincount(row[keep] * LAGS + lag[keep], minlength=n * LAGS).reshape(n, LAGS).astype(float)
    recent = age_m < 12
    stormy = f["storm"].to_numpy()[known]
    storm = np.bincount(row[recent & stormy], minlength=n).astype(float)
    # The same months without the storm days' faults: a storm is a burst no cut-off foresees, so
    # the calm rate is the better guide to the next months, and storms come in at their mean:
    # the asset's storm faults per month over all the history the store has (storms are rare,
    # a year holds only a few).
    span = float((cut - f["at"].min()) / MONTH) if len(f) else 0.0
    storm_per_month = np.bincount(row[stormy], minlength=n) / max(span, 1.0)
    calm_keep = keep & ~stormy
    calm = np.bincount(row[calm_keep] * LAGS + lag[calm_keep], minlength=n * LAGS).reshape(n, LAGS).astype(float)
    repeat = np.bincount(row[recent & f["repeat"].to_numpy()[known]], minlength=n).astype(float)
    last_fault = np.full(n, np.inf)
    np.minimum.at(last_fault, row, age_m)
    # How many months the store knows before the cut-off (its first fault): an early training
    # window has less than a year, so a month before the history is unknown (UNKNOWN, which the
    # trees split apart; not NaN: a column all missing in a fit breaks the binning), not a month
    # without faults, and yearly sums become monthly rates.
    history = float(np.clip((cut - f["at"].min()) / MONTH, 0.0, LAGS)) if len(f) else 0.0
    X = pd.DataFrame({f"lag_{k + 1}": counts[:, k] if k < history else UNKNOWN for k in range(LAGS)},
                     index=assets.index)
    X["history_months"] = history
    X["faults_30"] = counts[:, 0]
    X["faults_90"] = counts[:, :3].sum(axis=1)
    X["faults_365"] = counts.sum(axis=1)
    X["faults_before_90"] = counts[:, 3:6].sum(axis=1)
    # The recent trend: the last three months against the three before (log ratio, smoothed),
    # and the slope of a straight line through the year's monthly counts.
    X["trend"] = np.log((X["faults_90"] + 1) / (X["faults_before_90"] + 1))
    t = np.arange(LAGS, dtype=float)[::-1]                # oldest month first gets t = 11 ... newest 0
    t = -(t - t.mean())
    X["slope"] = (counts - counts.mean(axis=1, keepdims=True)) @ t / (t @ t)
    X["calm_30"] = calm[:, 0]
    X["calm_90"] = calm[:, :3].sum(axis=1)
    X["calm_365"] = calm.sum(axis=1)
    X["calm_per_month"] = X["calm_365"] / max(history, 1.0)
    X["calm_trend"] = np.log((X["calm_90"] + 1) / (calm[:, 3:6].sum(axis=1) + 1))
    # The next three months if the last half-year's change goes on (linear, and by the ratio):
    # a sum a tree cannot form from its parts.
    calm_before = calm[:, 3:6].sum(axis=1)
    X["projected_90"] = np.maximum(2 * X["calm_90"] - calm_before, 0.0)
    X["projected_ratio_90"] = X["calm_90"] * (X["calm_90"] + 1) / (calm_before + 1)
    X["months_since_fault"] = np.minimum(last_fault, 60.0)
    X["storm_faults"] = storm
    X["storm_per_month"] = storm_per_month
    X["repeat_faults"] = repeat
    lines = assets["lines"].to_numpy(float)
    X["lines"] = lines
    X["faults_per_line"] = X["faults_365"] / np.maximum(lines, 1.0)
    X["calm_per_line_90"] = X["calm_90"] / np.maximum(lines, 1.0)
    nb = _knn(assets)
    X["neighbours_90"] = counts[:, :3].sum(axis=1)[nb].sum(axis=1) if nb.shape[1] else 0.0
    X["gi_z"] = _gi_star(X["faults_per_line"].to_numpy(), nb)
    X["area_trend_z"], X["area_class"] = _emerging(calm, lines, nb, history)
    X["age"] = cut.year - pd.to_numeric(assets["year"], errors="coerce").to_numpy(float)
    if {"capacity", "used"} <= set(assets.columns):
        cap = pd.to_numeric(assets["capacity"], errors="coerce").to_numpy(float)
        X["capacity"] = cap
        X["utilisation"] = pd.to_numeric(assets["used"], errors="coerce").to_numpy(float) / np.where(cap > 0, cap, np.nan)
    for c in ("aerial_share", "copper_share", "drop_age", "length_m"):
        if c in assets.columns:
            X[c] = pd.to_numeric(assets[c], errors="coerce").to_numpy(float)
    for c in CATEGORICAL:
        if c in assets.columns:
            X[c] = pd.Categorical(assets[c].astype(str))
    X["storm_exposure"] = _storm_exposure(X)
    return X


PLANT = ("lines", "aerial_share", "copper_share", "drop_age", "age", "capacity", *CATEGORICAL)


def _storm_exposure(X: pd.DataFrame) -> np.ndarray:
    """Storm faults per month as the asset's plant predicts them (lines, drops, age, medium...):
    a Poisson model of `storm_per_month` fitted on the same cut-off's assets. A storm hits part of
    the city at random and a history holds only a few, so a box's own storm count is mostly luck;
    its plant says how exposed it is. Reads only the features."""
    cols = [c for c in PLANT if c in X.columns]
    y = X["storm_per_month"].to_numpy(float)
    if len(X) < 2 * PLANT_LEAF or not cols or y.sum() == 0:
        return np.full(len(X), y.mean() if len(X) else 0.0)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=100, min_samples_leaf=PLANT_LEAF,
                                          categorical_features="from_dtype", random_state=0)
    return model.fit(X[cols], y).predict(X[cols])


def target(assets: pd.DataFrame, faults: pd.DataFrame, as_of, horizon: int = 3) -> pd.Series:
    """Each asset's faults in the `horizon` months from `as_of` (of `faults`: pass the storm days'
    alone for their part)."""
    a = _utc(as_of)
    at = pd.to_datetime(faults["at"], utc=True)
    inside = faults.loc[(at >= a) & (at < a + horizon * MONTH), "asset"]
    return inside.value_counts().reindex(assets.index, fill_value=0).astype(float).rename("faults")


def training_set(assets: pd.DataFrame, faults: pd.DataFrame, as_of, horizon: int = 3,
                 windows: int = WINDOWS, step: int = STEP) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Features, targets and the targets' storm-day faults of `windows` past windows, `step`
    months apart, the last ending at `as_of` (no later fault is read): X, y, storm."""
    check(horizon, windows)
    if not isinstance(step, (int, np.integer)) or not 1 <= step <= 12:
        raise InputError(f"step {step!r} must be 1 to 12 months")
    cut = _utc(as_of)
    before = faults[pd.to_datetime(faults["at"], utc=True) < cut]
    flagged = _flags(before)
    stormy = flagged[flagged["storm"].to_numpy(bool)]
    Xs, ys, ss = [], [], []
    for k in range(windows - 1, -1, -1):
        c = cut - (horizon + k * step) * MONTH
        Xs.append(features(assets, before, c, _flagged=flagged))
        ys.append(target(assets, before, c, horizon))
        ss.append(target(assets, stormy, c, horizon))
    # Rows indexed by (as_of, asset): the estimator validates on the latest window.
    cuts = [cut - (horizon + k * step) * MONTH for k in range(windows - 1, -1, -1)]
    X = pd.concat(Xs, keys=cuts, names=["as_of", assets.index.name or "asset"])
    y = pd.concat(ys, keys=cuts, names=["as_of", assets.index.name or "asset"])
    storm = pd.concat(ss, keys=cuts, names=["as_of", assets.index.name or "asset"]).rename("storm_faults")
    for col in CATEGORICAL:
        if col in X.columns:
            X[col] = pd.Categorical(X[col].astype(str))
    return X, y, storm
