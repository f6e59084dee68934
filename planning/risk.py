"""Fault risk: how many faults each box (or trunk and distribution cable) will have in the next
months, from what was known at a cut-off, and why.

    X, y, storm = training_set(assets, faults, as_of, horizon=3)   # stacked past windows, all before as_of
    model = FaultRisk().fit(X, y, storm)                           # storm: the storm days' faults among y
    now = features(assets, faults, as_of)                    # the same features at the cut-off
    expected = model.predict(now)                            # faults over the next `horizon` months
    drivers = model.explain(now)                             # three reasons per asset, in words

assets: one row per asset, indexed by its id, with `x`, `y` (metres, the city's metric CRS),
`year` (installed or laid), `lines` (subscriber lines behind it), and what else the store knows:
`capacity`, `used`, the drop plant behind a box (`aerial_share`, `copper_share`, `drop_age`) or a
cable's `medium`, `placement` and `kind`. faults: one row per fault with `asset` (the id it
counts for), `at` (UTC) and, optionally, `subscriber_id` (for repeats).

The features, targets and training set are planning.risk_features' (re-exported here): built
from the faults before the cut-off only.

The estimator keeps scikit-learn's contract (parameters in __init__, fitted state ending in _,
fit(X, y) / predict(X), get_params for clone and grid search): a histogram gradient-boosted
model with a Poisson loss, the natural loss for counts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_poisson_deviance
from sklearn.utils.validation import check_is_fitted

from gis.errors import InputError

from .risk_features import (LAGS, MONTH, STORM_FACTOR, WINDOWS, check, features, target,  # noqa: F401
                            training_set)

# ---- the estimator ------------------------------------------------------------------------------

# What a planner reads as one reason: the features of each group, and how to say it for a row.
GROUPS = {
    "recent faults": ("faults_30", "faults_90", "lag_1", "lag_2", "lag_3", "months_since_fault", "calm_30", "calm_90"),
    "faults over the year": ("faults_365", "faults_before_90", "faults_per_line", "calm_365", "calm_per_line_90", "calm_per_month", "history_months",
                             *(f"lag_{k}" for k in range(4, LAGS + 1))),
    "trend": ("trend", "slope", "calm_trend", "projected_90", "projected_ratio_90"),
    "age": ("age",),
    "plant": ("aerial_share", "copper_share", "drop_age", "medium", "placement", "kind", "length_m"),
    "load": ("lines", "capacity", "utilisation"),
    "storms": ("storm_faults", "storm_per_month", "storm_exposure"),
    "repeats": ("repeat_faults",),
    "neighbourhood": ("neighbours_90", "gi_z", "area_trend_z", "area_class"),
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
    area = str(r.get("area_class", "no pattern"))
    return f"neighbours had {g('neighbours_90'):.0f} faults in 90 days" + ("" if area == "no pattern" else f", {area}")


BLEND_GRID = np.linspace(0.0, 1.0, 11)
VALIDATE = 3          # the latest training windows the blend is chosen on


def _steady(X: pd.DataFrame, horizon: int, floor: float) -> np.ndarray:
    """The steady forecast of calm faults: the last year's calm rate times the horizon (an asset
    with none: `floor`, the mean of such assets in training)."""
    calm = X["calm_per_month"].to_numpy(float) * horizon
    return np.where(calm > 0, calm, floor)


class FaultRisk(RegressorMixin, BaseEstimator):
    """Expected faults over the horizon per asset, as two parts. The calm days' faults: a Poisson
    gradient-boosted model (see the module's doc), blended with the steady forecast (the last
    year's calm rate times the horizon) by a weight chosen on the latest training windows:
    `blend` "auto" (the model fitted on the windows whose targets end before those start, the
    grid's weight that predicts them best, then the model refitted on every window), or a weight
    (1: the model alone). The storm days' faults: no cut-off foresees a storm, so they come in at
    their mean, the asset's storm exposure (`storm_exposure`, storm faults per month its plant
    predicts) times the horizon. Fitted with `storm` (the storm days' faults among y, as
    `training_set` gives them), the model learns the calm part alone; without, it learns y whole
    and adds nothing for storms. The other parameters are HistGradientBoostingRegressor's."""

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

    def fit(self, X: pd.DataFrame, y, storm=None) -> "FaultRisk":
        y = np.asarray(y, float)
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} rows but y has {len(y)}")
        if (y < 0).any() or not np.isfinite(y).all():
            raise InputError("fault counts must be finite and not negative")
        if not (self.blend == "auto" or (isinstance(self.blend, (int, float)) and 0 <= self.blend <= 1)):
            raise InputError(f"blend {self.blend!r} must be 'auto' or a weight from 0 to 1")
        if storm is not None:
            storm = np.asarray(storm, float)
            if storm.shape != y.shape or (storm < 0).any() or (storm > y).any():
                raise InputError("storm must give, per row, the storm days' faults among y (0 to y)")
            y = y - storm
        weight = 1.0 if self.blend == "auto" else float(self.blend)
        if self.blend == "auto" and isinstance(X.index, pd.MultiIndex) and "as_of" in X.index.names:
            weight = self._choose_weight(X, y)
        self.model_ = self._model().fit(X, y)
        self.blend_ = weight
        self.storms_ = storm is not None
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
        """The grid's weight that best predicts the latest windows from the windows before them."""
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
        if self.blend_ < 1.0:
            p = self.blend_ * p + (1 - self.blend_) * _steady(X, self.horizon, self.floor_)
        if self.storms_:
            p = p + X["storm_exposure"].to_numpy(float) * self.horizon
        return p

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
