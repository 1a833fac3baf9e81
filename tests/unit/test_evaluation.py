"""The real-star measurement code (rrlfeh.evaluation): the fixed split, the shape parameters the
simulator calibration and the P-phi31 baseline read, and the scores."""

import dataclasses

import numpy as np
import pytest

from rrlfeh.core.ragged import LightCurves, star_index
from rrlfeh.evaluation.curve_stats import relation_fit, residuals, scatter_profile, shape_parameters
from rrlfeh.evaluation.scores import baseline_cv, baseline_predict, fit_baseline, summary
from rrlfeh.evaluation.split import half_of, is_calibration


def test_split_is_fixed_about_half_and_works_on_ids_ending_in_zero_bits():
    ids = (np.arange(1, 2001, dtype=np.int64) * 2**20) + 10**18  # float64-rounded archive ids: all even
    cal = is_calibration(ids)
    assert 0.45 < cal.mean() < 0.55
    assert np.array_equal(cal, is_calibration(ids[::-1])[::-1])  # a property of the id alone
    assert set(half_of(ids[:50])) == {"calibration", "scoring"}


def _curves(rng, phi31, period, n=80, noise=0.002):
    """Cosine-series RRab curves with the given phi31 (phi21 fixed), random epochs."""
    counts = np.full(len(period), n)
    t = rng.uniform(1700, 2700, counts.sum())
    star = star_index(counts)
    phi1 = rng.uniform(0, 2 * np.pi, len(period))
    amp = np.array([0.3, 0.14, 0.09])
    phases = np.stack([phi1, 4.1 + 2 * phi1, phi31 + 3 * phi1], axis=1)
    x = 2 * np.pi * t / period[star]
    mag = 15 + sum(amp[k] * np.cos((k + 1) * x + phases[star, k]) for k in range(3))
    mag += noise * rng.standard_normal(len(t))
    order = np.lexsort((t, star))
    curves = LightCurves.from_counts(counts, t[order], mag[order], period, np.full(len(period), 2000.0))
    return dataclasses.replace(curves, source_id=np.arange(len(period)))


def test_shape_parameters_recover_phi31_and_the_baseline_recovers_the_relation():
    rng = np.random.default_rng(0)
    n = 300
    period = rng.uniform(0.45, 0.75, n)
    phi31 = rng.uniform(1.6, 3.0, n)
    c = _curves(rng, phi31, period)
    shape = shape_parameters(c)
    np.testing.assert_allclose(shape["phi31"], phi31, atol=0.02)
    np.testing.assert_allclose(shape["A1"], 0.3, atol=0.005)
    feh = -1.5 - 5.3 * (period - 0.6) + 0.85 * (phi31 - 2.3)
    coef = fit_baseline(shape, feh)
    np.testing.assert_allclose(coef, [-1.5, -5.3, 0.85], atol=0.03)
    assert relation_fit(shape, feh)["rms"] < 0.02
    oof = baseline_cv(shape, feh)
    assert summary(oof, feh)["rmse"] < 0.03
    assert np.allclose(baseline_predict(shape, coef), feh, atol=0.05)


def test_scatter_profile_finds_phase_jitter_on_the_rise():
    rng = np.random.default_rng(1)
    n = 200
    period = rng.uniform(0.5, 0.7, n)
    clean = _curves(rng, np.full(n, 2.3), period, noise=0.002)
    prof = scatter_profile(residuals(clean))
    assert prof["phase_jitter"] < 0.002 and prof["outlier_fraction"] < 0.01
    # a timing jitter of 0.01 cycles: the scatter follows the slope of the curve
    jittered = dataclasses.replace(clean, time=clean.time + 0.01 * period[clean.star]
                                   * rng.standard_normal(len(clean.time)))
    prof_j = scatter_profile(residuals(jittered))
    assert prof_j["phase_jitter"] == pytest.approx(0.01, rel=0.3)
    assert prof_j["star_scatter_median"] > 3 * prof["star_scatter_median"]


def test_summary_counts_coverage_and_ignores_missing():
    out = summary(np.array([0.1, -0.1, np.nan, 0.5]), np.zeros(4), np.array([0.2, 0.2, 0.2, 0.2]))
    assert out["n"] == 3 and out["coverage_1sigma"] == pytest.approx(2 / 3, abs=1e-3)
    assert out["bias"] == pytest.approx(0.5 / 3, abs=1e-3)
    assert summary(np.array([np.nan]), np.array([1.0])) == {"n": 0}
