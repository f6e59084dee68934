"""Fault risk: how many faults each box (or trunk and distribution cable) will have in the next
months, from what was known at a cut-off, and why.

    X, y = training_set(assets, faults, as_of, horizon=3)   # stacked past windows, all before as_of
    model = FaultRisk().fit(X, y)
    now = features(assets, faults, as_of)                    # the same features at the cut-off
    expected = model.predict(now)                            # faults over the next `horizon` months
    drivers = model.explain(now)                             # three reasons per asset, in words

assets: one row per asset, indexed by its id, with `x`, `y` (metres, the city's metric CRS),
`year` (installed or laid), `lines` (subscriber lines behind it), and what else the store knows:
`capacity`, `used`, the drop plant behind a box (`aerial_share`, `copper_share`, `drop_age`) or a
cable's `medium`, `placement` and `kind`. faults: one row per fault with `asset` (the id it
counts for), `at` (UTC) and, optionally, `subscriber_id` (for repeats).

Every feature is built from the faults reported before the cut-off and nothing else: the rows
after it are dropped first (a test moves every later fault and finds the same predictions). The
training set stacks windows that end by the cut-off: features at `as_of - horizon - k` months,
the target the faults of the `horizon` months after that, k = 0..windows-1 (WINDOWS, STEP).

The estimator keeps scikit-learn's contract (parameters in __init__, fitted state ending in _,
fit(X, y) / predict(X), get_params for clone and grid search): a histogram gradient-boosted
model with a Poisson loss, the natural loss for counts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_poisson_deviance
from sklearn.utils.validation import check_is_fitted

from gis.errors import InputError

MONTH = pd.Timedelta(days=30.4375)          # a mean month: windows are counted back from the cut-off
LAGS = 12                                   # monthly counts, the last year
NEIGHBOURS = 8                              # nearest assets of the same layer for the neighbourhood
REPEAT_DAYS = 30                            # a repeat: the subscriber's second fault within this
STORM_FACTOR = 3.0                          # a storm day has at least this many times the median day's faults
CATEGORICAL = ("medium", "placement", "kind")


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
    # the calm rate is the better guide to the next months (storms come in at their mean).
    calm_keep = keep & ~stormy
    calm = np.bincount(row[calm_keep] * LAGS + lag[calm_keep], minlength=n * LAGS).reshape(n, LAGS).astype(float)
    repeat = np.bincount(row[recent & f["repeat"].to_numpy()[known]], minlength=n).astype(float)
    last_fault = np.full(n, np.inf)
    np.minimum.at(last_fault, row, age_m)
    X = pd.DataFrame({f"lag_{k + 1}": counts[:, k] for k in range(LAGS)}, index=assets.index)
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
    X["calm_trend"] = np.log((X["calm_90"] + 1) / (calm[:, 3:6].sum(axis=1) + 1))
    # The next three months if the last half-year's change goes on (linear, and by the ratio):
    # a sum a tree cannot form from its parts.
    calm_before = calm[:, 3:6].sum(axis=1)
    X["projected_90"] = np.maximum(2 * X["calm_90"] - calm_before, 0.0)
    X["projected_ratio_90"] = X["calm_90"] * (X["calm_90"] + 1) / (calm_before + 1)
    X["months_since_fault"] = np.minimum(last_fault, 60.0)
    X["storm_faults"] = storm
    X["repeat_faults"] = repeat
    lines = assets["lines"].to_numpy(float)
    X["lines"] = lines
    X["faults_per_line"] = X["faults_365"] / np.maximum(lines, 1.0)
    X["calm_per_line_90"] = X["calm_90"] / np.maximum(lines, 1.0)
    nb = _knn(assets)
    X["neighbours_90"] = counts[:, :3].sum(axis=1)[nb].sum(axis=1) if nb.shape[1] else 0.0
    X["gi_z"] = _gi_star(X["faults_per_line"].to_numpy(), nb)
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
    return X


def target(assets: pd.DataFrame, faults: pd.DataFrame, as_of, horizon: int = 3) -> pd.Series:
    """Each asset's faults in the `horizon` months from `as_of`."""
    a = _utc(as_of)
    at = pd.to_datetime(faults["at"], utc=True)
    inside = faults.loc[(at >= a) & (at < a + horizon * MONTH), "asset"]
    return inside.value_counts().reindex(assets.index, fill_value=0).astype(float).rename("faults")


def training_set(assets: pd.DataFrame, faults: pd.DataFrame, as_of, horizon: int = 3,
                 windows: int = WINDOWS, step: int = STEP) -> tuple[pd.DataFrame, pd.Series]:
    """Features and targets of `windows` past windows, `step` months apart, the last ending at
    `as_of` (no later fault is read)."""
    check(horizon, windows)
    if not isinstance(step, (int, np.integer)) or not 1 <= step <= 12:
        raise InputError(f"step {step!r} must be 1 to 12 months")
    cut = _utc(as_of)
    before = faults[pd.to_datetime(faults["at"], utc=True) < cut]
    flagged = _flags(before)
    Xs, ys = [], []
    for k in range(windows - 1, -1, -1):
        c = cut - (horizon + k * step) * MONTH
        Xs.append(features(assets, before, c, _flagged=flagged))
        ys.append(target(assets, before, c, horizon))
    # Rows indexed by (as_of, asset): the estimator validates on the latest window.
    cuts = [cut - (horizon + k * step) * MONTH for k in range(windows - 1, -1, -1)]
    X = pd.concat(Xs, keys=cuts, names=["as_of", assets.index.name or "asset"])
    y = pd.concat(ys, keys=cuts, names=["as_of", assets.index.name or "asset"])
    for col in CATEGORICAL:
        if col in X.columns:
            X[col] = pd.Categorical(X[col].astype(str))
    return X, y


# ---- the estimator ------------------------------------------------------------------------------

# What a planner reads as one reason: the features of each group, and how to say it for a row.
GROUPS = {
    "recent faults": ("faults_30", "faults_90", "lag_1", "lag_2", "lag_3", "months_since_fault", "calm_30", "calm_90"),
    "faults over the year": ("faults_365", "faults_before_90", "faults_per_line", "calm_365", "calm_per_line_90",
                             *(f"lag_{k}" for k in range(4, LAGS + 1))),
    "trend": ("trend", "slope", "calm_trend", "projected_90", "projected_ratio_90"),
    "age": ("age",),
    "plant": ("aerial_share", "copper_share", "drop_age", "medium", "placement", "kind", "length_m"),
    "load": ("lines", "capacity", "utilisation"),
    "storms": ("storm_faults",),
    "repeats": ("repeat_faults",),
    "neighbourhood": ("neighbours_90", "gi_z"),
}


def _say(group: str, r) -> str:
    g = lambda c, d=0.0: r.get(c, d) if r.get(c, d) == r.get(c, d) else d  # noqa: E731  (NaN -> d)
    if group == "recent faults":
        return f"{g('faults_90'):.0f} faults in 90 days"
    if group == "faults over the year":
        return f"{g('faults_365'):.0f} faults in 12 months"
    if group == "trend":
        a, b = g("faults_90"), g("faults_before_90")
        return f"faults {'rising' if a > b else 'falling' if a < b else 'steady'}: {a:.0f} in the last 3 months, {b:.0f} in the 3 before"
    if group == "age":
        return f"{g('age'):.0f} years old"
    if group == "plant":
        if "aerial_share" in r:
            return (f"{'aerial' if g('aerial_share') >= 0.5 else 'underground'} "
                    f"{'copper' if g('copper_share') >= 0.5 else 'fibre'} drops, {g('drop_age'):.0f} years")
        return f"{r.get('placement', '')} {r.get('medium', '')} {r.get('kind', '')} cable".replace("  ", " ").strip()
    if group == "load":
        u = g("utilisation", float("nan"))
        return (f"{u:.0%} of ports used, " if u == u else "") + f"{g('lines'):.0f} lines"
    if group == "storms":
        return f"{g('storm_faults'):.0f} faults on storm days in 12 months"
    if group == "repeats":
        return f"{g('repeat_faults'):.0f} repeat faults in 12 months"
    return f"neighbours had {g('neighbours_90'):.0f} faults in 90 days"


BLEND_GRID = np.linspace(0.0, 1.0, 11)
VALIDATE = 3          # the latest training windows the blend is chosen on


def _steady(X: pd.DataFrame, horizon: int, floor: float) -> np.ndarray:
    """The steady forecast: the last year's calm faults scaled to the horizon (an asset with none:
    `floor`, the mean of such assets in training)."""
    calm = X["calm_365"].to_numpy(float) * horizon / 12
    return np.where(calm > 0, calm, floor)


class FaultRisk(RegressorMixin, BaseEstimator):
    """Expected faults over the horizon per asset: a Poisson gradient-boosted model (see the
    module's doc), blended with the steady forecast (the last year's calm faults scaled to the
    horizon) by a weight chosen on the latest training window: `blend` "auto" (the model fitted
    on the windows whose targets end before that window starts, the weight of the grid that
    predicts it best, then the model refitted on every window), or a weight (1: the model
    alone). A combination of forecasts: the model follows a box's changes, the steady forecast
    does not chase what was noise. The other parameters are HistGradientBoostingRegressor's."""

    def __init__(self, horizon: int = 3, blend="auto", max_iter: int = 300, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 40, l2_regularization: float = 1.0,
                 random_state: int = 0):
        self.horizon = horizon
        self.blend = blend
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> "FaultRisk":
        y = np.asarray(y, float)
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} rows but y has {len(y)}")
        if (y < 0).any() or not np.isfinite(y).all():
            raise InputError("fault counts must be finite and not negative")
        if not (self.blend == "auto" or (isinstance(self.blend, (int, float)) and 0 <= self.blend <= 1)):
            raise InputError(f"blend {self.blend!r} must be 'auto' or a weight from 0 to 1")
        weight = 1.0 if self.blend == "auto" else float(self.blend)
        if self.blend == "auto" and isinstance(X.index, pd.MultiIndex) and "as_of" in X.index.names:
            weight = self._choose_weight(X, y)
        self.model_ = self._model().fit(X, y)
        self.blend_ = weight
        none = X["calm_365"].to_numpy(float) == 0 if "calm_365" in X.columns else np.zeros(len(X), bool)
        self.floor_ = float(y[none].mean()) if none.any() else float(y.mean())
        self.feature_names_in_ = np.asarray(X.columns, object)
        # The reference an explanation compares with: a typical asset (medians; modes of categories).
        self.reference_ = {c: (X[c].mode().iat[0] if isinstance(X[c].dtype, pd.CategoricalDtype) else X[c].median())
                           for c in X.columns}
        return self

    def _model(self) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss="poisson", max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, categorical_features="from_dtype",
            random_state=self.random_state)

    def _choose_weight(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """The grid's weight that best predicts the latest window from the windows before it."""
        cuts = X.index.get_level_values("as_of")
        recent = np.sort(np.unique(cuts))[-VALIDATE:]
        val = np.asarray(cuts.isin(recent))
        fit = np.asarray(cuts <= recent.min() - self.horizon * MONTH)   # their targets end by then
        if fit.sum() == 0 or len(np.unique(cuts[fit])) < 2:
            return 1.0
        model = self._model().fit(X[fit], y[fit])
        none = X["calm_365"].to_numpy(float)[fit] == 0
        floor = float(y[fit][none].mean()) if none.any() else float(y[fit].mean())
        p, steady = model.predict(X[val]), _steady(X[val], self.horizon, floor)
        dev = [mean_poisson_deviance(y[val], np.maximum(w * p + (1 - w) * steady, 1e-3)) for w in BLEND_GRID]
        return float(BLEND_GRID[int(np.argmin(dev))])

    def _blended(self, X: pd.DataFrame) -> np.ndarray:
        p = self.model_.predict(X)
        if self.blend_ >= 1.0:
            return p
        return self.blend_ * p + (1 - self.blend_) * _steady(X, self.horizon, self.floor_)

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise InputError(f"the features lack {missing[0]!r} (the model was fitted with it)")
        return X[list(self.feature_names_in_)]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self._blended(self._frame(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """How much each group of features adds to each prediction: the prediction less what it
        would be with that group's features at a typical asset's values."""
        check_is_fitted(self)
        X = self._frame(X)
        base = self._blended(X)
        out = {}
        for group, cols in GROUPS.items():
            cols = [c for c in cols if c in X.columns]
            if not cols:
                continue
            typical = X.copy()
            for c in cols:
                typical[c] = pd.Categorical([self.reference_[c]] * len(X), categories=X[c].cat.categories) \
                    if isinstance(X[c].dtype, pd.CategoricalDtype) else self.reference_[c]
            out[group] = base - self._blended(typical)
        return pd.DataFrame(out, index=X.index)

    def explain(self, X: pd.DataFrame, top: int = 3) -> pd.Series:
        """The `top` groups that move each prediction most from a typical asset's, in words
        ("aerial copper drops, 31 years; 9 faults in 90 days; ..."), joined by '; ': those that
        raise it first, then those that keep it low."""
        c = self.contributions(X)
        v = c.to_numpy()
        order = np.argsort(-np.abs(v), axis=1, kind="stable")[:, :top]
        names = np.asarray(c.columns)
        recs = X.to_dict("records")
        said = []
        for i, r in enumerate(recs):
            chosen = sorted(order[i], key=lambda j: -v[i, j])
            said.append("; ".join(_say(names[j], r) for j in chosen))
        return pd.Series(said, index=X.index, name="drivers")


def ranked(assets: pd.DataFrame, expected: np.ndarray, drivers: pd.Series) -> pd.DataFrame:
    """Expected faults, the rank (1: riskiest; ties share the better rank) and the drivers."""
    out = pd.DataFrame({"expected_faults": np.round(expected, 4), "drivers": drivers.to_numpy()}, index=assets.index)
    out["rank"] = out["expected_faults"].rank(ascending=False, method="min").astype(int)
    return out.sort_values(["rank"], kind="stable")
