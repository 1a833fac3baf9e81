"""The real-star measurement code (rrlfeh.evaluation): the fixed split, the shape parameters the
simulator calibration and the P-phi31 baseline read, and the scores."""

import dataclasses

import numpy as np
import pytest

from rrlfeh.core.ragged import LightCurves, star_index
from rrlfeh.evaluation.curve_stats import (chosen_harmonics, clipped_fit, relation_fit, residuals,
                                          scatter_profile, shape_parameters)
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


def test_weighted_fit_trusts_the_precise_epochs():
    """Half the epochs carry 20x the noise, and say so in their errors: the weighted phi31 is
    several times closer to the truth than the unweighted one."""
    rng = np.random.default_rng(3)
    n = 200
    period, phi31 = rng.uniform(0.45, 0.75, n), rng.uniform(1.8, 2.8, n)
    c = _curves(rng, phi31, period, n=60, noise=0.0)
    error = np.where(rng.random(len(c.mag)) < 0.5, 0.005, 0.1)
    c = dataclasses.replace(c, mag=c.mag + error * rng.standard_normal(len(c.mag)), error=error)
    unweighted = np.std(shape_parameters(c)["phi31"] - phi31)
    weighted = np.std(shape_parameters(c, weighted=True)["phi31"] - phi31)
    assert weighted < unweighted / 3


def test_clipping_drops_the_outliers_and_recovers_phi31():
    rng = np.random.default_rng(4)
    n = 100
    period, phi31 = rng.uniform(0.45, 0.75, n), rng.uniform(1.8, 2.8, n)
    c = _curves(rng, phi31, period, n=60, noise=0.01)
    bad = np.zeros(len(c.mag), bool)
    bad[c.starts + 7] = bad[c.starts + 31] = True  # two epochs of every star 1 mag too faint
    c = dataclasses.replace(c, mag=c.mag + np.where(bad, 1.0, 0.0))
    plain, clipped = shape_parameters(c), shape_parameters(c, clip_sigma=3.0)
    assert (plain["n_epochs"] == 60).all() and (clipped["n_epochs"] <= 58).all()
    assert (clipped["n_epochs"] >= 55).all()  # a 3-sigma clip of 0.01 mag noise keeps nearly all
    clean = np.std(shape_parameters(c.select(~bad))["phi31"] - phi31)  # the outliers never there
    assert np.std(clipped["phi31"] - phi31) < 1.2 * clean
    assert np.std(plain["phi31"] - phi31) > 3 * clean
    f, kept = clipped_fit(dataclasses.replace(c, error=np.ones_like(c.mag)), 4, 3.0)
    assert len(f.mean) == n and not np.isin(c.mag[bad], kept.mag).any()


def test_order_choice_follows_the_harmonics_in_the_curve():
    """A 3-harmonic curve: BIC keeps 3 (AIC, the lighter penalty, 3 or a few more); a 6-harmonic
    curve: both choose 6 or more. Per-star counts go to shape_parameters as an array."""
    rng = np.random.default_rng(5)
    n = 60
    period = rng.uniform(0.45, 0.75, n)
    three = _curves(rng, np.full(n, 2.3), period, n=80, noise=0.01)
    bic = chosen_harmonics(three, 8, "bic")
    assert np.mean(bic == 3) > 0.8 and (bic >= 3).all()
    assert np.median(chosen_harmonics(three, 8, "aic")) < 5
    star = three.star
    x = 2 * np.pi * three.time / period[star]
    six = dataclasses.replace(three, mag=three.mag + sum(0.04 * np.cos(k * x + k) for k in (4, 5, 6)))
    assert (chosen_harmonics(six, 8, "bic") >= 6).mean() > 0.9
    per_star = shape_parameters(three, np.where(np.arange(n) % 2 == 0, 3, 5))
    np.testing.assert_allclose(per_star["phi31"][::2], shape_parameters(three, 3)["phi31"][::2])
    np.testing.assert_allclose(per_star["phi31"][1::2], shape_parameters(three, 5)["phi31"][1::2])
    with pytest.raises(ValueError, match="criterion"):
        chosen_harmonics(three, 8, "waic")
