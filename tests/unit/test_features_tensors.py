"""preprocess_arrays: raw light curves -> standardized, resampled tensors (or a rejection reason)."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.features.tensors import REASONS, phase_grid, preprocess_arrays
from tests.support.rrab_curve import FINE, PHASE_MAX, shape, star, truth_standardized

CFG = PreprocessConfig()
# the spline (the Fourier curve model has its own tests: test_features_fourier_curve.py)
OPTS = {**CFG.curve_options("rrab"), "curve_model": "spline"}
N = OPTS["n_points"]


def run(stars, **over):
    times, mags, periods, epochs = zip(*stars) if stars else ((), (), (), ())
    return preprocess_arrays(list(times), list(mags), np.array(periods), np.array(epochs),
                             {**OPTS, **over})


def test_known_curve_returns_to_its_noise_free_shape():
    res = run([star(60, noise=0.01, seed=s) for s in range(20)])
    assert res.ok.all()
    err = np.sqrt(((res.X[:, :, 1] - truth_standardized()) ** 2).mean(axis=1))
    assert np.median(err) < 0.06  # in units of the curve's std (0.25 mag): 0.015 mag
    # noise-free and well sampled: the spline reproduces the shape closely
    clean = run([star(200, noise=0.0, seed=1)])
    assert np.sqrt(((clean.X[0, :, 1] - truth_standardized()) ** 2).mean()) < 0.01
    assert clean.amplitude[0] == pytest.approx(np.ptp(shape(FINE)), abs=0.005)


def test_phase_zero_is_maximum_light_and_channels():
    res = run([star(120, period=0.55, noise=0.005, seed=2)])
    mag = res.X[0, :, 1]
    # minimum magnitude at index 0, up to a grid point either way (the grid wraps)
    assert np.argmin(mag) in (0, 1, N - 1)
    assert np.allclose(res.X[0, :, 0], phase_grid(N) * 0.55, atol=1e-6)
    assert res.X.dtype == np.float32 and res.X.shape == (1, N, 2)


def test_standardized_mean_zero_std_one():
    res = run([star(45, period=p, noise=0.02, seed=s) for s, p in enumerate([0.45, 0.6, 0.8])])
    mag = res.X[:, :, 1].astype(np.float64)
    assert np.allclose(mag.mean(axis=1), 0, atol=1e-5)
    assert np.allclose(mag.std(axis=1), 1, atol=1e-5)


def test_fewest_allowed_and_260_epochs_both_work():
    m = CFG.min_epochs
    # fewest epochs, spread over the cycle so the phase coverage holds
    t = 2000.0 + 0.6 * (np.arange(m) / m + np.arange(m) * 7)
    few = (t, shape((t - 2000.0) / 0.6), 0.6, 2000.0 + PHASE_MAX * 0.6)
    res = run([few, star(260, noise=0.01)])
    assert res.ok.all() and (res.n_epochs[:2] == [m, 260]).all()
    short = run([(t[:-1], few[1][:-1], 0.6, few[3])])
    assert not short.ok[0] and short.reason[0] == "few_epochs"


def test_bad_curves_are_rejected_with_a_reason_and_keep_their_row():
    t, m, p, e = star(50, noise=0.01)
    stars = [
        (t, np.full(50, 16.0), p, e),  # constant magnitudes
        (np.full(50, 2000.0) + 0.6 * np.arange(50), m, p, e),  # every epoch at one phase
        (t, m, np.nan, e),
        (t, m, 0.0, e),
        (t, m, p, np.nan),
        (t, m, p, e),  # a good one in between
        (np.array([]), np.array([]), p, e),
    ]
    res = run(stars)
    assert list(res.reason) == ["constant_magnitudes", "poor_phase_coverage", "bad_period",
                                "bad_period", "bad_epoch", "", "few_epochs"]
    assert set(res.reason) - {""} <= set(REASONS)
    assert list(res.ok) == [False] * 5 + [True, False]
    assert not res.X[~res.ok].any() and np.isfinite(res.X).all()
    assert np.isnan(res.amplitude[~res.ok]).all()


def test_nan_epochs_are_dropped_and_not_counted():
    t, m, p, e = star(40, noise=0.01)
    m = m.copy()
    m[:5] = np.nan
    t = t.copy()
    t[5] = np.nan
    res = run([(t, m, p, e)])
    assert res.ok[0] and res.n_epochs[0] == 34


def test_empty_input_and_mismatched_lengths():
    res = run([])
    assert res.X.shape == (0, N, 2) and len(res.ok) == 0
    with pytest.raises(ValueError, match="different lengths"):
        preprocess_arrays([np.arange(5.0)], [np.arange(4.0)], [0.5], [0.0], OPTS)
    with pytest.raises(ValueError, match="periods"):
        preprocess_arrays([np.arange(5.0)], [np.arange(5.0)], [0.5, 0.6], [0.0], OPTS)


def test_scatter_measures_how_well_the_curve_folds():
    # epochs scattered by 0.02 mag around a 0.76 mag curve: the scatter is that share of the amplitude
    good = run([star(120, noise=0.02, seed=s) for s in range(10)])
    ptp = np.ptp(shape(FINE))
    assert np.median(good.scatter) == pytest.approx(0.02 / ptp, rel=0.25)
    # the same epochs folded on a wrong (alias-like) period fold into noise: many times larger
    wrong = run([(t, m, p * 1.37, e) for t, m, p, e in (star(120, noise=0.02, seed=s) for s in range(10))],
                max_phase_gap=1.0)
    assert np.all(wrong.scatter > 5 * np.median(good.scatter))
    assert np.all((good.phase_gap > 0) & (good.phase_gap < 0.1))
    rejected = run([star(3)])
    assert np.isnan(rejected.scatter[0]) and np.isnan(rejected.amplitude[0])


def _with_errors(stars, errors, **over):
    times, mags, periods, epochs = zip(*stars)
    return preprocess_arrays(list(times), list(mags), np.array(periods), np.array(epochs),
                             {**OPTS, **over}, errors=errors)


def test_epoch_weights_follow_the_magnitude_errors():
    t, m, p, e = star(60, noise=0.005, seed=3)
    bad = np.zeros(60, bool)
    bad[::6] = True  # every sixth epoch off by 0.3 mag, and reported as such
    m_bad = m + 0.3 * bad
    err = np.where(bad, 0.3, 0.005)
    truth = truth_standardized()
    rms = lambda res: float(np.sqrt(((res.X[0, :, 1] - truth) ** 2).mean()))
    weighted = _with_errors([(t, m_bad, p, e)], [err], epoch_weights="errors")
    unweighted = _with_errors([(t, m_bad, p, e)], [err], epoch_weights="none")
    assert rms(weighted) < 0.6 * rms(unweighted)  # the bad epochs weigh 1/10 (the floor), not 0
    # equal errors, or none at all, give the unweighted curve exactly
    same = _with_errors([(t, m_bad, p, e)], [np.full(60, 0.02)], epoch_weights="errors")
    none = _with_errors([(t, m_bad, p, e)], [np.full(60, np.nan)], epoch_weights="errors")
    np.testing.assert_array_equal(same.X, unweighted.X)
    np.testing.assert_array_equal(none.X, unweighted.X)


def test_one_absurd_error_cannot_pin_the_curve():
    from rrlfeh.features.tensors import relative_weights

    err = np.array([0.01, 0.01, 1e-12, 0.01, 0.0, -1.0, np.inf, 0.02])
    w = relative_weights(err, np.zeros(8, np.int64), 1)
    assert w[2] == pytest.approx(10.0) and w[0] == w[1] == w[3] == 1.0  # kept within 10x of the median
    assert (w[4:7] == 1.0).all() and w[7] == pytest.approx(0.25)  # unusable errors weigh like the median
