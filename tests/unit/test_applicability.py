"""Out-of-range flags and the calibrated uncertainty (model.applicability)."""

import numpy as np
import pytest

from rrlfeh.model import applicability as ap

GRID = np.arange(64) / 64


def _curves(rng, n, noise=0.05):
    """Standardized RRab-like curves: a fundamental and a first harmonic of varying ratio."""
    r21 = rng.uniform(0.3, 0.6, n)[:, None]
    c = np.cos(2 * np.pi * GRID) + r21 * np.cos(4 * np.pi * GRID + 1.0)
    c = c + noise * rng.standard_normal(c.shape)
    return (c - c.mean(1, keepdims=True)) / c.std(1, keepdims=True)


def test_shape_distance_flags_a_curve_unlike_the_training_ones():
    rng = np.random.default_rng(0)
    train = _curves(rng, 2000)
    space = ap.curve_space(train, n_components=6, quantile=0.99)
    assert np.mean(ap.shape_distance(space, train) > space["threshold"]) == pytest.approx(0.01, abs=0.005)
    like = _curves(rng, 200)
    square = np.sign(np.cos(2 * np.pi * GRID))[None, :]  # folds nothing like an RR Lyrae
    assert np.mean(ap.shape_distance(space, like) > space["threshold"]) < 0.05
    assert ap.shape_distance(space, square)[0] > 5 * space["threshold"]


def test_out_of_range_names_each_quantity_and_scatter_is_upper_only():
    rng = np.random.default_rng(1)
    train = _curves(rng, 500)
    tr = ap.training_range(np.full(500, 0.6) + rng.uniform(-0.1, 0.1, 500), rng.uniform(0.3, 1.0, 500),
                           rng.uniform(0.005, 0.05, 500), rng.uniform(0.02, 0.1, 500),
                           rng.integers(50, 100, 500), train, quantile=1.0, n_components=4)
    curves = _curves(rng, 4)
    curves[3] = np.sign(np.cos(2 * np.pi * GRID))
    got = ap.out_of_range_reasons({
        "period": np.array([0.6, 0.3, 0.6, 0.6]), "amplitude": np.array([0.5, 0.5, 2.0, 0.5]),
        "scatter": np.array([0.0001, 0.02, 0.2, 0.02]), "phase_gap": np.array([0.05, 0.05, 0.05, 0.3]),
        "curves": curves}, tr)
    # a wide phase gap alone is not flagged: it did not predict the residuals of real stars
    assert got.tolist() == ["", "period", "amplitude,scatter", "shape"]
    assert tr["n_epochs"] == [50.0, 99.0]  # recorded, not a flag


def test_old_manifests_without_the_new_ranges_still_flag_what_they_have():
    got = ap.out_of_range_reasons({"period": np.array([0.5, 0.9]), "scatter": np.array([0.5, 0.5])},
                                  {"period": [0.4, 0.8]})
    assert got.tolist() == ["", "period"]


def test_fit_uncertainty_recovers_the_noise_model_and_covers_68_percent():
    rng = np.random.default_rng(2)
    n = 20000
    scatter, epochs = rng.uniform(0.005, 0.08, n), rng.integers(20, 120, n)
    sigma = np.sqrt(0.06**2 + 10.0**2 * scatter**2 / epochs)
    fit = ap.fit_uncertainty(sigma * rng.standard_normal(n), scatter, epochs)
    assert fit["floor"] == pytest.approx(0.06, rel=0.05)
    assert fit["shape"] == pytest.approx(10.0, rel=0.1)
    assert fit["scale"] == pytest.approx(1.0, abs=0.03)  # Gaussian residuals need no rescaling
    assert fit["coverage_1sigma"] == pytest.approx(0.683, abs=0.002)
    err = ap.feh_error(fit, scatter, epochs)
    assert np.all(np.diff(ap.feh_error(fit, np.array([0.01, 0.05]), np.array([50, 50]))) > 0)
    # new residuals from the same law: covered at the nominal rate
    assert np.mean(np.abs(sigma * rng.standard_normal(n)) <= err) == pytest.approx(0.683, abs=0.015)


def test_heavy_tails_are_rescaled_to_the_nominal_coverage():
    rng = np.random.default_rng(3)
    n = 20000
    scatter, epochs = np.full(n, 0.02), np.full(n, 50)
    r = 0.1 * rng.standard_t(2, n)  # outliers inflate the Gaussian fit: 1 sigma covers too much
    fit = ap.fit_uncertainty(r, scatter, epochs)
    assert fit["scale"] < 0.9
    assert fit["coverage_1sigma"] == pytest.approx(0.683, abs=0.002)
    fresh = 0.1 * rng.standard_t(2, n)
    assert np.mean(np.abs(fresh) <= ap.feh_error(fit, scatter, epochs)) == pytest.approx(0.683, abs=0.015)


def test_feh_error_is_nan_without_a_calibration_and_adds_the_real_term():
    assert np.isnan(ap.feh_error(None, np.array([0.01]), np.array([50]))).all()
    fit = {"floor": 0.1, "shape": 0.0, "scale": 1.0}
    assert ap.feh_error(fit, np.array([0.01]), np.array([50]), extra=0.1)[0] == pytest.approx(np.sqrt(0.02))
    # the real-star scale multiplies the models' own term before the term in quadrature
    assert ap.feh_error(fit, np.array([0.01]), np.array([50]), real_scale=2.5)[0] == pytest.approx(0.25)
    assert ap.feh_error(fit, np.array([0.01]), np.array([50]), extra=0.1, real_scale=2.0)[0] == \
        pytest.approx(np.sqrt(0.05))
