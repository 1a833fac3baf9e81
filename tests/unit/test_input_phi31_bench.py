"""The line of bench/input_phi31.py on synthetic stars (no real data needed)."""

from __future__ import annotations

import numpy as np


def test_the_line_is_fitted_on_the_calibration_half_and_scored_on_both():
    from bench.input_phi31 import line_scores

    rng = np.random.default_rng(0)
    n = 400
    period, phi31 = rng.uniform(0.45, 0.75, n), rng.uniform(1.5, 3.0, n)
    feh = -1.5 - 5.3 * (period - 0.6) + 0.9 * (phi31 - 2.3)
    calibration = np.arange(n) % 2 == 0
    n_epochs = np.where(np.arange(n) % 4 < 2, 40, 60)
    noisy = feh + np.where(calibration, 0.0, 0.1 * rng.standard_normal(n))  # only the scoring half
    out = line_scores(noisy, period, phi31, np.ones(n, bool), calibration, n_epochs)
    np.testing.assert_allclose(out["coefficients"], [-1.5, -5.3, 0.9], atol=1e-4)
    assert out["calibration"]["rmse"] < 1e-4 and 0.08 < out["scoring"]["rmse"] < 0.12
    assert out["scoring"]["n"] == n // 2 and out["scoring"]["rmse_lt50"] is not None
