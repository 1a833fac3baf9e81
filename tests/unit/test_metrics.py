"""The paper's metrics against scikit-learn's implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from rrlfeh.model.metrics import regression_metrics, summarize


@pytest.fixture
def sample():
    rng = np.random.default_rng(3)
    y = rng.normal(-1.5, 0.45, 200)
    pred = y + rng.normal(0.05, 0.12, 200)
    w = rng.uniform(0.2, 4.0, 200)
    return y, pred, w


def test_metrics_match_sklearn(sample):
    y, pred, w = sample
    m = regression_metrics(y, pred, w)
    assert m["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    assert m["wrmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred, sample_weight=w)), rel=1e-12)
    assert m["wmae"] == pytest.approx(mean_absolute_error(y, pred, sample_weight=w), rel=1e-12)
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)), rel=1e-12)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    # the weights matter: weighted and unweighted differ on this sample
    assert abs(m["wrmse"] - m["rmse"]) > 1e-3


def test_unit_weights_give_unweighted_metrics(sample):
    y, pred, _ = sample
    m = regression_metrics(y, pred, np.ones_like(y))
    assert m["wrmse"] == pytest.approx(m["rmse"]) and m["wmae"] == pytest.approx(m["mae"])
    assert regression_metrics(y, pred) == m


def test_perfect_and_constant_predictions(sample):
    y, _, w = sample
    assert regression_metrics(y, y, w)["r2"] == 1.0
    assert regression_metrics(y, np.full_like(y, y.mean()), w)["r2"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("bad", [
    (np.zeros(3), np.zeros(4), None),
    (np.array([]), np.array([]), None),
    (np.array([1.0, np.nan]), np.zeros(2), None),
    (np.zeros(2), np.zeros(2), np.array([-1.0, 1.0])),
])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(ValueError):
        regression_metrics(*bad)


def test_summarize_mean_and_std():
    rows = [{"r2": 0.9, "mae": 0.1}, {"r2": 0.8, "mae": 0.3}]
    s = summarize(rows)
    assert s["r2"] == {"mean": pytest.approx(0.85), "std": pytest.approx(0.05)}
    assert s["mae"]["mean"] == pytest.approx(0.2)
