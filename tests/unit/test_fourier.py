"""Batched Fourier fits: exact recovery, error propagation, curve summaries, odd inputs."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.core.fourier import cosine_series, fit_fourier, harmonics_for, pad, summarize
from rrlfeh.core.ragged import LightCurves, star_index


def _fit(counts, time, mag, sigma, period, n_harmonics):
    """fit_fourier on flat arrays grouped by star."""
    return fit_fourier(LightCurves.from_counts(counts, time, mag, period, error=sigma), n_harmonics)


def _stars(rng, n, n_epochs, k=4):
    """n random curves (amp, phase, period, mean) sampled at n_epochs random times each."""
    amp = np.sort(rng.uniform(0.02, 0.3, (n, k)), axis=1)[:, ::-1]
    phase = rng.uniform(0, 2 * np.pi, (n, k))
    period = rng.uniform(0.3, 0.8, n)
    mean = rng.uniform(14, 19, n)
    counts = np.full(n, n_epochs)
    time = rng.uniform(1666.4, 2704.4, counts.sum())
    star = star_index(counts)
    mag = mean[star] + cosine_series((time - 2000.0) / period[star], amp[star], phase[star])
    return amp, phase, period, mean, counts, time, mag


def test_noise_free_fit_recovers_amplitudes_and_phase_differences():
    rng = np.random.default_rng(1)
    amp, phase, period, mean, counts, time, mag = _stars(rng, 50, 60)
    fit = _fit(counts, time, mag, np.full(len(time), 0.01), period, np.full(50, 4))
    np.testing.assert_allclose(fit.mean, mean, atol=1e-8)
    np.testing.assert_allclose(fit.amp, amp, atol=1e-8)
    for k in (2, 3, 4):
        want = np.mod(phase[:, k - 1] - k * phase[:, 0], 2 * np.pi)
        got = fit.phi_k1(k)
        np.testing.assert_allclose(np.angle(np.exp(1j * (got - want))), 0, atol=1e-7)
        np.testing.assert_allclose(fit.r_k1(k), amp[:, k - 1] / amp[:, 0], rtol=1e-7)


def test_phase_differences_do_not_depend_on_the_time_origin():
    rng = np.random.default_rng(2)
    amp, phase, period, mean, counts, time, mag = _stars(rng, 20, 80)
    noisy = mag + 0.01 * rng.standard_normal(len(mag))
    sig = np.full(len(time), 0.01)
    a = _fit(counts, time, noisy, sig, period, np.full(20, 4))
    b = _fit(counts, time + 123.4567, noisy, sig, period, np.full(20, 4))
    np.testing.assert_allclose(a.phi_k1(3), b.phi_k1(3), atol=1e-8)
    np.testing.assert_allclose(a.r_k1(2), b.r_k1(2), rtol=1e-8)


def test_per_star_harmonics_in_one_batch():
    rng = np.random.default_rng(3)
    amp, phase, period, mean, counts, time, mag = _stars(rng, 3, 40, k=2)
    fit = _fit(counts, time, mag, np.full(len(time), 0.01), period, np.array([1, 2, 4]))
    assert np.all(fit.amp[0, 1:] == 0) and np.all(fit.amp[1, 2:] == 0)
    assert np.isnan(fit.phi_k1(3)[:2]).all() and np.isnan(fit.r_k1(2)[0])
    # the 4-harmonic star finds nothing above the true second harmonic
    np.testing.assert_allclose(fit.amp[2, :2], amp[2], atol=1e-8)
    np.testing.assert_allclose(fit.amp[2, 2:], 0, atol=1e-8)


def test_phi31_error_matches_monte_carlo_scatter():
    rng = np.random.default_rng(4)
    n_real, n_ep, sigma = 400, 60, 0.03
    amp = np.array([0.27, 0.125, 0.083, 0.05])
    phase = np.array([0.3, 1.9, 4.1, 0.7])
    time = np.sort(rng.uniform(1666.4, 2704.4, n_ep))  # one sampling, many noise draws
    clean = 17 + cosine_series((time - 2000) / 0.6, amp[None], phase[None])
    mags = clean + sigma * rng.standard_normal((n_real, n_ep))
    fit = _fit(np.full(n_real, n_ep), np.tile(time, n_real), mags.ravel(),
                      np.full(n_real * n_ep, sigma), np.full(n_real, 0.6), np.full(n_real, 4))
    phi31 = fit.phi_k1(3)
    scatter = np.std(np.angle(np.exp(1j * (phi31 - np.angle(np.mean(np.exp(1j * phi31)))))))
    assert np.median(fit.phi_k1_error(3)) == pytest.approx(scatter, rel=0.15)


def test_harmonics_for_fewer_when_epochs_are_few():
    np.testing.assert_array_equal(harmonics_for([12, 20, 30, 60, 300], 5, 3.0), [1, 2, 4, 5, 5])


def test_summary_of_a_known_curve():
    period, t_ref = 0.5, 2000.0
    time = t_ref + np.linspace(0, 50, 400)
    amp, phase = np.array([[0.3]]), np.array([[1.0]])
    mag = 16 + cosine_series((time - t_ref) / period, amp, phase)
    fit = _fit(np.array([400]), time, mag, np.full(400, 0.01), np.array([period]),
                      np.array([2]))
    s = summarize(fit, grid_points=256)
    # minimum magnitude where 2 pi x + 1 = pi
    cycles_max = (np.pi - 1.0) / (2 * np.pi)
    offset = np.mod((s.time_max_light[0] - t_ref) / period - cycles_max + 0.5, 1) - 0.5
    assert abs(offset) < 1e-4
    assert abs(s.time_max_light[0] - fit.t_ref[0]) <= period / 2
    assert s.peak_to_peak[0] == pytest.approx(0.6, abs=1e-4)
    x = np.linspace(0, 1, 100001)[:-1]
    want = -2.5 * np.log10(np.mean(10 ** (-0.4 * (16 + 0.3 * np.cos(2 * np.pi * x + 1)))))
    assert s.intensity_mean[0] == pytest.approx(want, abs=1e-6)
    assert s.intensity_mean[0] < 16  # intensity mean is brighter than the magnitude mean


def test_degenerate_sampling_stays_finite_and_does_not_spoil_the_batch():
    rng = np.random.default_rng(5)
    amp, phase, period, mean, counts, time, mag = _stars(rng, 2, 30)
    time[:30] = 2000.0  # first star: every epoch at the same instant
    fit = _fit(counts, time, mag, np.full(60, 0.01), period, np.array([3, 3]))
    assert np.isfinite(fit.coef).all()
    np.testing.assert_allclose(fit.amp[1, :3], amp[1, :3], atol=0.02)


def test_pad_ragged():
    t, mask = pad(np.array([2, 0, 3]), np.arange(5.0))
    np.testing.assert_array_equal(mask, [[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(t[2], [2, 3, 4])
