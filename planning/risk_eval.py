"""The fault-risk model scored against what happened, beside the baselines a planner would use
otherwise: train up to a cut-off, predict the horizon after it, compare with its faults.

    table = evaluate(assets, faults, cut, horizon=3)     # one row per method

Baselines: the last 3 months' count; the last 12 months' count scaled to the horizon; age alone
(the training windows' mean faults of assets of that age); the Gi* class of the area (hot,
cold or neither: the training windows' mean of each class). A count baseline says nothing of an
asset with no faults: it gets the training windows' mean of such assets (a count of 0 would
be an infinite deviance for any fault there).

Scores: mean Poisson deviance of the predicted counts; precision at k (the share of the k
riskiest that are among the k with the most faults in the horizon: an asset counts when its
faults reach the k-th largest, so ties do not decide); the faults those k had; and the same
precision on the assets whose trend is changing (`changing`: their faults in the horizon differ
from the 3 months before by at least half, and by 3 or more), ranked by their coming faults.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import mean_poisson_deviance

from . import risk

FLOOR = 1e-3     # no prediction is exactly 0 (the deviance of a fault where 0 was said is infinite)


def precision_at(pred: np.ndarray, actual: np.ndarray, k: int = 100) -> tuple[float, float]:
    """(precision at k, faults of the k riskiest): see the module's doc."""
    k = min(k, len(actual))
    if k == 0:
        return float("nan"), 0.0
    top = np.argsort(-pred, kind="stable")[:k]
    kth = np.sort(actual)[::-1][k - 1]
    return float((actual[top] >= kth).mean()) if kth > 0 else float("nan"), float(actual[top].sum())


def _by(train_key: np.ndarray, train_y: np.ndarray, key: np.ndarray) -> np.ndarray:
    means = pd.Series(train_y).groupby(train_key).mean()
    return pd.Series(key).map(means).fillna(train_y.mean()).to_numpy(float)


def baselines(X_train: pd.DataFrame, y_train: pd.Series, X: pd.DataFrame, horizon: int) -> dict[str, np.ndarray]:
    y = y_train.to_numpy(float)
    none = y[X_train["faults_365"].to_numpy() == 0].mean() if (X_train["faults_365"] == 0).any() else y.mean()
    last3 = X["faults_90"].to_numpy(float) * horizon / 3
    last12 = X["faults_365"].to_numpy(float) * horizon / 12
    age = lambda d: np.round(d["age"].to_numpy(float))  # noqa: E731
    gi = lambda d: np.where(d["gi_z"] > 1.96, 1, np.where(d["gi_z"] < -1.96, -1, 0))  # noqa: E731
    return {"last 3 months": np.where(last3 > 0, last3, none),
            "last 12 months, scaled": np.where(last12 > 0, last12, none),
            "age alone": _by(age(X_train), y, age(X)),
            "Gi* class": _by(gi(X_train), y, gi(X))}


def changing(X: pd.DataFrame, actual: np.ndarray) -> np.ndarray:
    before = X["faults_90"].to_numpy(float)
    gap = np.abs(actual - before)
    return (gap >= 3) & (gap >= 0.5 * np.maximum(actual, before))


def evaluate(assets: pd.DataFrame, faults: pd.DataFrame, cut, horizon: int = 3, windows: int = risk.WINDOWS,
             k: int = 100, model: risk.FaultRisk | None = None) -> tuple[pd.DataFrame, dict]:
    """The score table (one row per method, Pianqu's first) and the timings."""
    risk.check(horizon, windows)
    t0 = time.perf_counter()
    X_train, y_train, storm = risk.training_set(assets, faults, cut, horizon, windows)
    t1 = time.perf_counter()
    model = (model or risk.FaultRisk(horizon=horizon)).fit(X_train, y_train, storm)
    t2 = time.perf_counter()
    X = risk.features(assets, faults, cut)
    pred = model.predict(X)
    t3 = time.perf_counter()
    actual = risk.target(assets, faults, cut, horizon).to_numpy(float)
    moving = changing(X, actual)
    rows = []
    for name, p in {"Pianqu (gradient-boosted Poisson)": pred, **baselines(X_train, y_train, X, horizon)}.items():
        prec, caught = precision_at(p, actual, k)
        mprec, mcaught = precision_at(p[moving], actual[moving], min(k, int(moving.sum())))
        rows.append({"method": name, "poisson_deviance": mean_poisson_deviance(actual, np.maximum(p, FLOOR)),
                     f"precision_at_{k}": prec, f"faults_top_{k}": caught,
                     "precision_changing": mprec, "faults_top_changing": mcaught})
    table = pd.DataFrame(rows)
    return table, {"assets": len(assets), "training_rows": len(X_train), "changing": int(moving.sum()),
                   "faults_in_horizon": float(actual.sum()), "features_s": t1 - t0, "training_s": t2 - t1,
                   "prediction_s": t3 - t2}
