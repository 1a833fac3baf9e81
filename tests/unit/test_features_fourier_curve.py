"""curve_model fourier: the folded epochs fitted by a Fourier series at an order set by the epoch
count, resampled like the spline."""

from __future__ import annotations

import numpy as np

from rrlfeh.config.preprocess import PreprocessConfig

from rrlfeh.evaluation.curve_stats import shape_parameters
from rrlfeh.core.ragged import LightCurves
from rrlfeh.features.fourier_curve import fourier_order
from rrlfeh.features.tensors import preprocess_arrays
from tests.support.rrab_curve import PHIS, star, truth_standardized

OPTS = PreprocessConfig().curve_options("rrab")
FOURIER = {"curve_model": "fourier", "fourier_harmonics": 6, "fourier_epochs_per_parameter": 3.0}


def run(stars):
    times, mags, periods, epochs = zip(*stars)
    return preprocess_arrays(list(times), list(mags), np.array(periods), np.array(epochs), {**OPTS, **FOURIER})


def test_the_order_follows_the_epoch_count():
    # (n / 3 - 1) / 2 harmonics, at most 6, never below the 3 phi31 needs
    np.testing.assert_array_equal(fourier_order([12, 20, 30, 36, 42, 50, 200], 6, 3.0), [3, 3, 4, 5, 6, 6, 6])
    np.testing.assert_array_equal(fourier_order([200], 2, 3.0), [2])


def test_a_noise_free_six_harmonic_curve_is_resampled_exactly():
    res = run([star(60)])
    assert res.ok.all()
    np.testing.assert_allclose(res.X[0, :, 1], truth_standardized(), atol=2e-4)
    assert res.scatter[0] < 1e-6


def test_the_input_carries_the_fitted_phi31():
    # sparse noisy epochs: the resampled curve's phi31 is the 5-harmonic fit's (36 epochs: 5 at 3
    # per parameter), not the true one; that is the measurement the labels follow
    t, m, p, e = star(36, noise=0.02, seed=5)
    res = run([(t, m, p, e)])
    n = res.X.shape[1]
    grid = LightCurves.from_counts([n], np.arange(n) / n, res.X[0, :, 1].astype(float), [1.0], [0.0])
    epochs = LightCurves.from_counts([36], t, m, [p], [e])
    resampled = shape_parameters(grid, 6)["phi31"].iloc[0]
    fitted = shape_parameters(epochs, 5)["phi31"].iloc[0]
    true = np.mod(PHIS[2] - 3 * PHIS[0], 2 * np.pi)
    assert abs(resampled - fitted) < 0.02
    assert abs(fitted - true) > 0.05  # the noise moved it: the check above is not trivial


def test_errors_weigh_the_fourier_fit():
    t, m, p, e = star(60, noise=0.005, seed=3)
    bad = np.zeros(60, bool)
    bad[::6] = True
    err = np.where(bad, 0.3, 0.005)
    truth = truth_standardized()

    def rms(weights):
        res = preprocess_arrays([t], [m + 0.3 * bad], np.array([p]), np.array([e]),
                                {**OPTS, **FOURIER, "epoch_weights": weights}, errors=[err])
        return float(np.sqrt(((res.X[0, :, 1] - truth) ** 2).mean()))

    # the bad epochs weigh 1/10 (the floor of the relative weights), not 0
    assert rms("errors") < 0.7 * rms("none")
