"""The fault-risk model (planning.risk) on small hand-made histories where the answer is known:
a box whose faults double every month outranks a steady one with more faults, a new fibre box
with no history is low risk, no fault after the cut-off can change a prediction, and the
drivers read as a planner would say them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from gis.errors import InputError
from planning import risk

CUT = pd.Timestamp("2026-06-01", tz="UTC")
MONTHS = 36


def _history(seed: int = 0):
    """400 boxes on a grid, three years of monthly faults: most steady at their own rate (old
    aerial copper plant fails more), some worsening from a random month on (the rate doubling
    every month, up to 40 a month), some new fibre boxes with none. Two boxes to judge: a steady
    one at 5 faults a month, and one that had 1, 2, 4 and 8 in its last four months."""
    rng = np.random.default_rng(seed)
    n = 400
    ids = [f"B{i:03d}" for i in range(n)]
    old = rng.random(n) < 0.5
    assets = pd.DataFrame({"x": (np.arange(n) % 20) * 300.0, "y": (np.arange(n) // 20) * 300.0,
                           "year": np.where(old, 1990, 2015), "lines": rng.integers(100, 400, n),
                           "capacity": 480, "used": rng.integers(100, 470, n),
                           "aerial_share": np.where(old, 0.8, 0.1), "copper_share": np.where(old, 0.9, 0.0),
                           "drop_age": np.where(old, 30.0, 8.0)}, index=ids)
    rate = np.where(old, 2.0, 0.6)[:, None] * rng.uniform(0.5, 1.5, n)[:, None] * np.ones((n, MONTHS))
    worse = rng.random(n) < 0.2
    start = rng.integers(0, MONTHS, n)
    m = np.arange(MONTHS)[None, :]
    grow = np.minimum(0.5 * 2.0 ** (m - start[:, None]), 40.0)
    rate = np.where(worse[:, None] & (m >= start[:, None]), np.maximum(rate, grow), rate)
    # The two to judge (their last four months are the four before the cut).
    rate[0] = 5.0
    rate[1] = 0.0
    rate[1, -4:] = [1, 2, 4, 8]
    counts = rng.poisson(rate)
    counts[1, -4:] = [1, 2, 4, 8]
    first = CUT - MONTHS * risk.MONTH
    rows = []
    for i in range(n):
        for k in range(MONTHS):
            for _ in range(counts[i, k]):
                rows.append((ids[i], first + (k + rng.random()) * risk.MONTH))
    faults = pd.DataFrame(rows, columns=["asset", "at"])
    faults["subscriber_id"] = [f"S{j}" for j in rng.integers(0, 20000, len(faults))]
    fresh = pd.DataFrame({"x": [3150.0], "y": [3150.0], "year": [2026], "lines": [250], "capacity": [480],
                          "used": [40], "aerial_share": [0.0], "copper_share": [0.0], "drop_age": [0.0]},
                         index=["NEW"])
    return pd.concat([assets, fresh]), faults


@pytest.fixture(scope="module")
def fitted():
    assets, faults = _history()
    X, y, storm = risk.training_set(assets, faults, CUT, horizon=3, windows=6)
    model = risk.FaultRisk(max_iter=200).fit(X, y, storm)
    now = risk.features(assets, faults, CUT)
    return assets, faults, model, now


def test_a_box_doubling_every_month_outranks_a_steady_one_with_more_faults(fitted):
    assets, faults, model, now = fitted
    assert now.loc["B000", "faults_365"] > 3 * now.loc["B001", "faults_365"]        # the steady one had more
    p = pd.Series(model.predict(now), index=now.index)
    assert p["B001"] > p["B000"]
    assert p.rank(ascending=False)["B001"] <= 20                                  # and it is near the top


def test_a_new_fibre_box_with_no_history_is_low_risk(fitted):
    assets, _, model, now = fitted
    p = pd.Series(model.predict(now), index=now.index)
    old = assets.index[assets["aerial_share"] > 0.5]          # old aerial copper: 1 to 3 faults a month
    assert p["NEW"] < p.quantile(0.25) and p["NEW"] < p[old].min() and p["NEW"] < 1.5


def test_no_fault_after_the_cut_off_changes_a_prediction(fitted):
    assets, faults, model, now = fitted
    later = faults.copy()
    after = later["at"] >= CUT
    assert after.sum() == 0                                   # the history ends at the cut: add a future
    rng = np.random.default_rng(5)
    future = pd.DataFrame({"asset": rng.choice(assets.index, 3000), "subscriber_id": "S1",
                           "at": CUT + pd.to_timedelta(rng.uniform(0, 200, 3000), unit="D")})
    more = pd.concat([faults, future], ignore_index=True)
    X1, y1, s1 = risk.training_set(assets, faults, CUT)
    X2, y2, s2 = risk.training_set(assets, more, CUT)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    pd.testing.assert_series_equal(s1, s2)
    again = risk.features(assets, more, CUT)
    pd.testing.assert_frame_equal(now, again)
    np.testing.assert_array_equal(clone(model).fit(X1, y1, s1).predict(now),
                                  clone(model).fit(X2, y2, s2).predict(again))


def test_the_drivers_say_why_in_a_planners_words(fitted):
    _, _, model, now = fitted
    said = model.explain(now.loc[["B001", "B000", "NEW"]])
    assert "rising" in said["B001"] or "faults in 90 days" in said["B001"]
    assert len(said["B000"].split("; ")) == 3
    top = risk.ranked(now, model.predict(now), model.explain(now))
    assert top["rank"].iat[0] == 1 and top["expected_faults"].is_monotonic_decreasing
    worst = top.index[0]
    assert any(w in top.loc[worst, "drivers"] for w in ("faults in 90 days", "rising", "faults in 12 months"))
    # A box with old aerial copper drops and faults reads that way.
    row = now.loc[[i for i in now.index if now.loc[i, "aerial_share"] > 0.5][0]].to_dict()
    assert risk._say("plant", row).startswith("aerial copper drops, 30 years")


def test_the_blend_with_the_steady_forecast_is_chosen_on_the_latest_windows(fitted):
    assets, faults, model, now = fitted
    assert 0.0 <= model.blend_ <= 1.0 and "blend" in model.get_params()
    X, y, storm = risk.training_set(assets, faults, CUT)
    alone = risk.FaultRisk(max_iter=200, blend=1.0).fit(X, y)
    np.testing.assert_allclose(alone.predict(now), alone.model_.predict(now))
    half = risk.FaultRisk(max_iter=200, blend=0.5).fit(X, y)
    steady = np.where(now["calm_per_month"] > 0, now["calm_per_month"] * 3, half.floor_)
    np.testing.assert_allclose(half.predict(now), 0.5 * half.model_.predict(now) + 0.5 * steady)
    # Fitted with the storm days' faults, the model learns the calm part and storms come in at
    # the asset's exposure times the horizon.
    parts = risk.FaultRisk(max_iter=200, blend=1.0).fit(X, y, storm)
    np.testing.assert_allclose(parts.predict(now), parts.model_.predict(now) + now["storm_exposure"] * 3)


def test_bad_parameters_and_inputs_are_refused_before_any_work():
    assets, faults = _history()
    for bad in (0, 13, 2.5, "3"):
        with pytest.raises(InputError, match="horizon"):
            risk.training_set(assets, faults, CUT, horizon=bad)
    with pytest.raises(InputError, match="windows"):
        risk.training_set(assets, faults, CUT, windows=0)
    with pytest.raises(InputError, match="'lines'"):
        risk.features(assets.drop(columns="lines"), faults, CUT)
    with pytest.raises(InputError, match="'asset'"):
        risk.features(assets, faults.rename(columns={"asset": "box"}), CUT)
    X, y, storm = risk.training_set(assets, faults, CUT, windows=2)
    with pytest.raises(InputError, match="storm"):
        risk.FaultRisk().fit(X, y, y + 1)
    with pytest.raises(InputError, match="not negative"):
        risk.FaultRisk().fit(X, -y)
    with pytest.raises(InputError, match="blend"):
        risk.FaultRisk(blend=1.5).fit(X, y)
    model = risk.FaultRisk(max_iter=20).fit(X, y)
    with pytest.raises(InputError, match="lack 'age'"):
        model.predict(X.drop(columns="age"))


def test_storms_come_in_at_the_exposure_the_plant_gives_not_at_a_boxs_own_luck():
    """Six storm days in three years, each hitting the old aerial boxes of the western half (as a
    storm hits part of a city): the eastern old boxes had none of their own, yet their plant is as
    exposed, so they get a storm part near the western ones' (their own: only the few calm faults of those days), far above the new fibre boxes'; the
    storm part over a quarter is the history's storm faults per quarter; and the training targets
    name the storm days' faults, which the calm model does not learn."""
    assets, faults = _history(1)
    rng = np.random.default_rng(3)
    old = assets["aerial_share"] > 0.5
    west = assets["x"] < 3000
    rows = []
    for day in CUT - pd.to_timedelta([700, 560, 420, 300, 180, 100], unit="D"):
        for box in assets.index[old & west]:
            rows += [(box, day + pd.Timedelta(hours=h)) for h in rng.uniform(0, 20, rng.poisson(6))]
    storms = pd.DataFrame(rows, columns=["asset", "at"])
    storms["subscriber_id"] = [f"T{j}" for j in range(len(storms))]
    faults = pd.concat([faults, storms], ignore_index=True)
    X, y, storm = risk.training_set(assets, faults, CUT, horizon=3, windows=6)
    assert storm.sum() > 0 and (storm <= y).all()
    now = risk.features(assets, faults, CUT)
    own = now["storm_per_month"]
    assert own[old & ~west].mean() < 0.1 * own[old & west].mean()      # only calm faults that fell on those days
    exposure = now["storm_exposure"]
    assert exposure[old & ~west].mean() > 0.5 * exposure[old & west].mean()
    assert exposure[old & ~west].mean() > 5 * exposure[~old].mean()
    span = (CUT - faults["at"].min()) / risk.MONTH
    assert exposure.sum() * 3 == pytest.approx(len(storms) / span * 3, rel=0.3)
    model = risk.FaultRisk(max_iter=100, blend=1.0).fit(X, y, storm)
    calm = model.model_.predict(now)
    assert model.predict(now).sum() == pytest.approx(calm.sum() + exposure.sum() * 3)
