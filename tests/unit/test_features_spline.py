"""The batched periodic smoothing spline: exact roughness penalty, same fit as scipy's spline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import make_smoothing_spline

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core.ragged import concat, star_index
from rrlfeh.features.folding import fold, largest_phase_gap
from rrlfeh.features.spline import basis_matrix, fit_periodic, penalty_matrix


def test_basis_is_a_periodic_partition_of_unity():
    phase = np.linspace(0, 1, 1001)[:-1]
    B = basis_matrix(phase, 16)
    assert np.allclose(B.sum(axis=1), 1.0)
    # phase 1 is phase 0 again
    assert np.allclose(basis_matrix(np.array([0.0]), 16), basis_matrix(np.array([1.0 - 1e-12]), 16),
                       atol=1e-9)


@pytest.mark.parametrize("n_knots", [8, 48])
def test_penalty_is_the_exact_integral_of_the_squared_second_derivative(n_knots):
    c = np.random.default_rng(1).normal(size=n_knots)
    x = np.linspace(0, 1, 400_001)[:-1]
    f = basis_matrix(x, n_knots) @ c
    h = x[1] - x[0]
    f2 = (np.roll(f, -1) - 2 * f + np.roll(f, 1)) / h**2
    assert c @ penalty_matrix(n_knots) @ c == pytest.approx(np.mean(f2**2), rel=1e-4)


def test_same_fit_as_scipy_smoothing_spline_at_the_same_lam():
    """Our objective is make_smoothing_spline's with a periodic curve: on data wrapped three
    times (so scipy's natural-spline ends are far away) the two fits agree to a few mmag."""
    rng = np.random.default_rng(3)
    phase = np.sort(rng.uniform(0, 1, 60))
    mag = 0.3 * np.cos(2 * np.pi * phase) + 0.1 * np.cos(4 * np.pi * phase + 1) \
        + rng.normal(0, 0.01, 60)
    grid = np.linspace(0, 1, 200, endpoint=False)
    k = PreprocessConfig().n_knots
    for lam in (PreprocessConfig().smoothing, 1e-5):
        coef = fit_periodic(phase, mag, np.zeros(60, dtype=int), 1, k, lam)
        ours = basis_matrix(grid, k) @ coef[0]
        wrapped = make_smoothing_spline(np.r_[phase - 1, phase, phase + 1], np.tile(mag, 3), lam=lam)
        assert np.abs(ours - wrapped(grid)).max() < 2e-3  # mag, on a 0.8 mag curve


def test_many_stars_are_solved_independently():
    rng = np.random.default_rng(4)
    n_stars = 1500  # more than one solve block
    counts = rng.integers(5, 40, n_stars)
    star = np.repeat(np.arange(n_stars), counts)
    phase = rng.uniform(0, 1, len(star))
    mag = np.sin(2 * np.pi * phase) * (1 + star % 7) + rng.normal(0, 0.05, len(star))
    coef = fit_periodic(phase, mag, star, n_stars, 24, 1e-5)
    for s in (0, 1023, 1024, n_stars - 1):
        sel = star == s
        alone = fit_periodic(phase[sel], mag[sel], np.zeros(sel.sum(), dtype=int), 1, 24, 1e-5)
        assert np.allclose(coef[s], alone[0], atol=1e-10)


def test_fold_and_phase_gap():
    time, offsets = concat([np.array([10.0, 10.25, 10.5]), np.array([3.0, 3.0, 3.0]), np.array([1.0])])
    star = star_index(np.diff(offsets))
    phase = fold(time, np.array([10.0, 0.0, 0.0])[star], np.array([1.0, 0.5, 0.5])[star])
    assert np.allclose(phase[:3], [0.0, 0.25, 0.5])
    gaps = largest_phase_gap(phase, star, 3)
    assert gaps[0] == pytest.approx(0.5)  # 0.5 -> 1.0 wraps to 0
    assert gaps[1] == pytest.approx(1.0)  # all points at one phase
    assert gaps[2] == 1.0  # a single point covers nothing
