"""The helpers of bench/label_mode.py on synthetic arrays and curves (no real data needed)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core.ragged import LightCurves, star_index


@pytest.fixture(scope="module")
def lm():
    from bench import label_mode

    return label_mode


def _population(seed: int, n: int = 600):
    """P, noise-free phi31 (spread 0.3 rad at fixed P), each star's noise and a noisy phi31."""
    rng = np.random.default_rng(seed)
    period = rng.uniform(0.45, 0.75, n)
    true = 2.3 + 1.5 * (period - 0.6) + 0.3 * rng.standard_normal(n)
    sd = rng.uniform(0.03, 0.5, n)
    return period, true, sd, true + sd * rng.standard_normal(n)


def test_mode_names_cover_the_grid(lm):
    names = [m.name for m in lm.MODES]
    assert len(names) == len(set(names)) == 28
    assert {"K4", "K5_weighted", "BIC_weighted_clipped", "AIC", "ORACLE_weighted"} <= set(names)
    assert lm.by_epochs([10, 20, 40, 200], 6, 3.0).tolist() == [3, 3, 6, 6]  # floor 3 for phi31


def test_variance_test_tells_noise_free_labels_from_measured_ones(lm):
    rng = np.random.default_rng(0)
    noise = rng.uniform(0.02, 0.3, 3000)
    free = lm.variance_test(noise * rng.standard_normal(3000), noise, draws=50)
    assert free["median_abs_over_noise"] == pytest.approx(0.674, abs=0.05)
    assert free["share_abs_below_noise"] == pytest.approx(0.683, abs=0.03)
    assert free["k"] == pytest.approx(1.0, abs=0.2)
    same = lm.variance_test(0.05 * noise * rng.standard_normal(3000), noise, draws=50)
    assert same["share_abs_below_noise"] == 1.0 and same["k"] < 0.05
    assert [row["n"] for row in free["by_noise_tercile"]] == [1000, 1000, 1000]


def test_shrinkage_brings_phi31_closer_to_the_truth(lm):
    period, true, sd, obs = _population(1)
    phi_s, tau = lm.shrunk(period, obs, sd)
    assert tau == pytest.approx(0.3, abs=0.05)
    assert np.sqrt(np.mean((phi_s - true) ** 2)) < 0.8 * np.sqrt(np.mean((obs - true) ** 2))


def test_shrinkage_test_says_which_phi31_the_labels_follow(lm):
    period, true, sd, obs = _population(2)
    shape = pd.DataFrame({"period": period, "phi31": obs})
    x_true = lm.design(period, true)
    free = lm.shrinkage_test(shape, x_true @ [-1.5, -5.3, 0.87], sd, draws=100)
    assert free["rmse_line_shrunk"] < free["rmse_line_raw"]
    assert free["coef_shrunk"] > free["coef_raw"] and free["coef_shrunk_p16_p84"][0] > 0.4
    measured = lm.shrinkage_test(shape, lm.design(period, obs) @ [-1.5, -5.3, 0.87], sd, draws=100)
    assert measured["rmse_line_raw"] < 1e-9 < measured["rmse_line_shrunk"]
    assert measured["coef_raw"] == pytest.approx(0.87, abs=1e-6)
    assert measured["coef_shrunk"] == pytest.approx(0.0, abs=1e-6)


def _curves(rng, n_stars: int = 30, n: int = 60, noise: float = 0.02) -> LightCurves:
    counts = np.full(n_stars, n)
    star = star_index(counts)
    t = np.sort(rng.uniform(1700, 2700, (n_stars, n)), axis=1).ravel()
    period = rng.uniform(0.45, 0.75, n_stars)
    x = 2 * np.pi * t / period[star]
    mag = 15 + 0.3 * np.cos(x) + 0.14 * np.cos(2 * x + 4.1) + 0.09 * np.cos(3 * x + 2.3)
    c = LightCurves.from_counts(counts, t, mag + noise * rng.standard_normal(len(t)), period,
                                np.full(n_stars, 2000.0), error=np.full(len(t), noise))
    return dataclasses.replace(c, source_id=np.arange(n_stars, dtype=np.int64) * 2**20 + 10**18)


def test_twins_keep_the_sampling_and_know_their_phi31(lm):
    c = _curves(np.random.default_rng(3))
    twin, phi_true = lm.twins(c, seed=1)
    assert np.array_equal(twin.time, c.time) and np.array_equal(twin.period, c.period)
    assert np.isfinite(phi_true).all()
    resid = twin.mag - c.mag  # two noise draws of the same scatter around the same curve
    assert np.std(resid) == pytest.approx(0.02 * np.sqrt(2), rel=0.15)
    measured = lm.measure(twin, lm.Mode(4), 4)["phi31"].to_numpy()
    assert np.median(np.abs(measured - phi_true)) < 0.1


def test_errors_are_matched_to_the_curves_epochs(lm, tmp_path):
    c = _curves(np.random.default_rng(4), n_stars=3, n=5)
    foe = np.arange(1, len(c.time) + 1, dtype=float) * 100
    rows = pd.DataFrame({"source_id": c.source_id[c.star], "band": "G", "time": c.time,
                         "flux_over_error": foe})
    noise = pd.DataFrame({"source_id": c.source_id[:1], "band": ["BP"], "time": c.time[:1],
                          "flux_over_error": [1.0]})  # another band at the same time: not used
    missing = pd.DataFrame({"source_id": c.source_id[:1], "band": ["G"], "time": [np.nan],
                            "flux_over_error": [np.nan]})
    pd.concat([rows.iloc[::-1], noise, missing]).to_csv(tmp_path / "epoch_photometry.csv", index=False)
    np.testing.assert_allclose(lm.mag_errors(tmp_path, c), 2.5 / np.log(10) / foe)
    rows.iloc[1:].to_csv(tmp_path / "epoch_photometry.csv", index=False)
    with pytest.raises(ValueError, match="1 epochs without an error"):
        lm.mag_errors(tmp_path, c)


def test_skips_without_the_data(lm, tmp_path, capsys):
    lm.main(["--data", str(tmp_path / "absent")])
    assert "skipped" in json.loads(capsys.readouterr().out)
