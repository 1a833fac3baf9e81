"""The uncertainty helpers of bench/real_stars.py on synthetic residuals (no real data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def bench():
    from bench import real_stars

    return real_stars


def test_scale_and_constant_reach_68_percent(bench):
    rng = np.random.default_rng(0)
    own = rng.uniform(0.02, 0.2, 4000)
    resid = 2.5 * own * rng.standard_normal(4000)
    assert bench.scale_for(resid, own) == pytest.approx(2.5, rel=0.05)
    c = bench.extra_for(resid, own)
    assert np.mean(np.abs(resid) <= np.hypot(own, c)) == pytest.approx(0.6827, abs=0.002)
    assert bench.extra_for(0.5 * own * rng.standard_normal(4000), own) == 0.0  # covered already


def test_forms_tell_a_per_star_error_from_a_constant_one(bench):
    """Residuals that grow with the own term: the scale covers small and large own alike and
    has the better likelihood; a constant over-covers the small and under-covers the large."""
    rng = np.random.default_rng(1)
    own = rng.uniform(0.02, 0.2, 600)
    resid = 2.5 * own * rng.standard_normal(600)
    forms = bench.interval_forms(resid, own, repeats=50, reference=0.6)
    scale, const = forms["scale"], forms["constant_in_quadrature"]
    assert scale["coverage"] == pytest.approx(0.683, abs=0.03)
    assert abs(scale["coverage_own_below_median"] - scale["coverage_own_above_median"]) < 0.06
    assert const["coverage_own_below_median"] - const["coverage_own_above_median"] > 0.15
    assert scale["mean_nll_unflagged"] < const["mean_nll_unflagged"]
    assert 0.9 < scale["at_least_0.6000"] <= 1.0


def test_own_term_takes_the_real_star_terms_out(bench):
    own = np.array([0.05, 0.1, 0.2])
    flag = np.array([False, True, False])
    now = {"error_scale": 2.0, "extra_error": 0.03, "extra_error_out_of_range": 0.4}
    err = np.hypot(np.hypot(2.0 * own, 0.03), np.where(flag, 0.4, 0.0))
    rows = pd.DataFrame({"feh": [-1.0, -1.5, np.nan], "feh_label": [-1.1, -1.2, -2.0],
                         "feh_error": err, "out_of_range": flag})
    resid, got, got_flag = bench.own_term(rows, now)
    assert np.allclose(resid, [0.1, -0.3]) and got_flag.tolist() == [False, True]
    assert np.allclose(got, own[:2])  # the unscored star (no estimate) is left out


def test_the_resplits_report_coverage_per_epoch_group_and_flag_state(bench):
    rng = np.random.default_rng(3)
    n = 400
    own = rng.uniform(0.05, 0.2, n)
    flag = rng.random(n) < 0.15
    sd = np.where(flag, np.hypot(own, 0.5), own)
    resid = rng.normal(0, 1, n) * sd
    n_epochs = rng.integers(20, 90, n)
    forms = bench.interval_forms(resid, own, flag, repeats=100, n_epochs=n_epochs)
    groups = forms["scale"]["coverage_by_group"]
    assert set(groups) == {"lt50", "ge50", "unflagged", "flagged"}
    for g, cov in groups.items():  # Gaussian residuals on a right own term: 68 % in every group
        assert cov == pytest.approx(0.683, abs=0.07), g


def test_the_floor_ratio_against_the_noise_free_value():
    from bench.sim_floor import floor_ratios

    truth = pd.DataFrame({"source_id": [1, 2, 3, 4], "feh_relation": [-1.0, -1.5, -2.0, -1.2],
                          "feh_oracle": [-0.9, -1.6, -2.1, -1.1]})  # 0.1 off each
    pred = pd.DataFrame({"source_id": [1, 2, 3, 4], "feh_pred": [-0.8, -1.7, -2.2, -1.0],
                         "weight": [1.0, 1.0, 1.0, 1.0]})  # 0.2 off each
    r = floor_ratios(pred, truth)
    assert r["n"] == 4 and r["oracle_wrmse"] == pytest.approx(0.1) and r["ratio"] == pytest.approx(2.0)
