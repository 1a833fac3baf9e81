"""The two-sample AUC of bench/sim_real_gap.py on synthetic samples (no real data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.mark.integration  # scikit-learn's gradient boosting runs `lscpu` once to count the cores
def test_auc_is_a_half_for_one_distribution_and_near_one_for_two():
    from bench.sim_real_gap import auc

    rng = np.random.default_rng(0)
    cols = ["a", "b", "c"]
    same = [pd.DataFrame(rng.normal(size=(600, 3)), columns=cols) for _ in range(2)]
    assert abs(auc(*same, cols) - 0.5) < 0.06
    # a difference in the joint distribution only (each column alone looks alike): still found
    x, z = rng.normal(size=(600, 2)), rng.normal(size=(600, 2))
    real = pd.DataFrame({"a": x[:, 0], "b": x[:, 0] + 0.1 * x[:, 1], "c": x[:, 1]})
    sim = pd.DataFrame({"a": z[:, 0], "b": -z[:, 0] + 0.1 * z[:, 1], "c": z[:, 1]})
    assert auc(real, sim, cols) > 0.9
    assert abs(auc(real, sim, ["a"]) - 0.5) < 0.06


@pytest.mark.integration  # gradient boosting (see above)
def test_the_interval_brackets_the_auc_and_shrinks_with_more_stars():
    from bench.sim_real_gap import auc_with_interval

    rng = np.random.default_rng(1)
    cols = ["a", "b"]

    def samples(n):
        return (pd.DataFrame(rng.normal(0.5, 1, size=(n, 2)), columns=cols),
                pd.DataFrame(rng.normal(0.0, 1, size=(n, 2)), columns=cols))

    small, large = auc_with_interval(*samples(200), cols, draws=200), auc_with_interval(*samples(1600), cols, draws=200)
    for r in (small, large):
        assert r["interval_95"][0] < r["auc"] < r["interval_95"][1]
        assert 0.6 < r["auc"] < 0.8  # two unit Gaussians 0.5 apart in both columns: AUC ~0.69
    assert large["se"] < 0.6 * small["se"]  # ~ 1 / sqrt(n): 8x the stars, ~0.35x the error


def test_the_classes_follow_the_fold_and_the_shape():
    from bench.real_classes import FOLD_RATIO, MIN_R21, classify

    ok = np.array([True, True, True, True, False])
    ratio = np.array([0.1, FOLD_RATIO + 0.01, 0.1, np.nan, np.nan])
    r21 = np.array([0.45, 0.45, MIN_R21 - 0.01, 0.45, np.nan])
    assert classify(ok, ratio, r21).tolist() == ["rrab_clean", "bad_fold", "sinusoidal", "bad_fold",
                                                 "not_preprocessed"]


def test_r21_and_the_fold_ratio_of_known_curves():
    from bench.real_classes import fold_ratio, r21
    from rrlfeh.core.ragged import LightCurves
    from rrlfeh.features.tensors import preprocess_curves

    rng = np.random.default_rng(2)
    t = np.sort(rng.uniform(1700, 2700, 80))
    phase = t / 0.6
    clean = 15 + 0.3 * np.cos(2 * np.pi * phase) + 0.12 * np.cos(4 * np.pi * phase + 1) + rng.normal(0, 0.01, 80)
    noise = 15 + rng.normal(0, 0.2, 80)  # a star folded at a wrong period: no curve
    curves = LightCurves.from_counts([80, 80], np.r_[t, t], np.r_[clean, noise], [0.6, 0.6], [0.0, 0.0])
    res = preprocess_curves(curves, {"n_points": 64, "smoothing": 5e-6})
    ratio = fold_ratio(curves, res)
    assert ratio[0] < 0.1 and ratio[1] > 0.5
    assert r21(res.X)[0] == pytest.approx(0.4, abs=0.05)
