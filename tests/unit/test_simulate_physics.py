"""The simulator's physics (docs/SIMULATOR.md): the spec's cross-checks, the [Fe/H] encoding,
the Bailey diagram, maximum light, noise, the DR3 population and the oracle's noise floor.

The mechanics are checked on the spec's laws (SPEC: the coefficients before the calibration on real
DR3 curves, no jitter), where the spec gives reference numbers; the calibrated defaults are checked
against the numbers they were fitted to."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rrlfeh.config.data import SimulateConfig
from rrlfeh.config.simulate import FehPrior
from rrlfeh.core.fourier import cosine_series, fit_fourier
from rrlfeh.sim.populations import draw_rrab, draw_rrc
from rrlfeh.sim.simulate import derived_columns, light_curve, observe

# the laws (rrab.shapes: laws): what these checks are written for; the default draws RRab shapes
# from the real copula instead (tests/unit/test_sim_shape_copula.py)
DEFAULT = replace(SimulateConfig(), rrab=replace(SimulateConfig().rrab, shapes="laws"))
CFG = replace(  # the spec's laws (docs/SIMULATOR.md), before the calibration on real curves
    DEFAULT,
    rrab=replace(DEFAULT.rrab, feh=FehPrior(), period_0=0.585, period_feh=-0.08, period_sd=0.07,
                 a1_0=0.27, a1_period=-0.56, a1_feh=-0.06, r21_0=0.460, r21_a1=0.306, r31_0=0.300,
                 r31_a1=0.556, phi21_0=3.236, phi21_phi31=0.392),
    sampling=replace(DEFAULT.sampling, phase_jitter=0.0, amplitude_jitter=0.0, jitter_sigma_ln=0.0),
    noise=replace(DEFAULT.noise, factor=2.0),
)
GRID = np.arange(20000) / 20000


def _sim(kind: str, n: int, seed: int, label_mode: str = "photometric", base: SimulateConfig = CFG):
    cfg = replace(base, label_mode=label_mode)
    rng = np.random.default_rng(seed)
    draw = draw_rrab if kind == "RRab" else draw_rrc
    pop = draw(rng, n, cfg.rrab if kind == "RRab" else cfg.rrc, label_mode)
    obs = observe(rng, pop, cfg)
    cat, oracle = derived_columns(obs, cfg)
    return pop, obs, cat, oracle


def _passes_default_cuts(kind, pop, cat):
    ok = (cat["num_clean_epochs_g"] >= 50) & (pop.feh_error < 0.4) & (cat["peak_to_peak_g"] < 1.2)
    if kind == "RRab":
        ok &= cat["phi31_g_error"] < 0.3
    return ok


def _shape(pop):
    m = cosine_series(GRID[None, :], pop.amp[:, None, :], pop.phase[:, None, :])
    ptp = m.max(axis=1) - m.min(axis=1)
    rise = np.mod(GRID[m.argmin(axis=1)] - GRID[m.argmax(axis=1)], 1.0)  # faintest -> brightest
    return ptp, rise


def _linfit(y, *xs):
    x = np.column_stack([np.ones(len(y)), *xs])
    return np.linalg.lstsq(x, y, rcond=None)[0]


def test_rrab_noise_free_cross_check():
    ab = replace(CFG.rrab, feh=FehPrior(-1.5, 0.0, -2.8, 0.2), period_0=0.6, period_sd=0.0,
                 a1_sd=0.0, r21_sd=0.0, r31_sd=0.0, phi21_sd=0.0)
    pop = draw_rrab(np.random.default_rng(0), 1, ab, "photometric")
    np.testing.assert_allclose(pop.amp[0], [0.270, 0.125, 0.083, 0.050, 0.030, 0.017], atol=0.001)
    ptp, rise = _shape(pop)
    assert ptp[0] == pytest.approx(0.76, abs=0.01)
    assert rise[0] == pytest.approx(0.17, abs=0.01)
    assert pop.label[0] == pytest.approx(-1.5, abs=0.002)


def test_rrc_noise_free_cross_check():
    c = replace(CFG.rrc, feh=FehPrior(-1.5, 0.0, -2.8, 0.2), period_0=0.32, period_sd=0.0,
                a1_sd=0.0, r31_sd=0.0, phi21_sd=0.0, phi31_sd=0.0)
    pop = draw_rrc(np.random.default_rng(0), 1, c, "photometric")
    ptp, rise = _shape(pop)
    assert ptp[0] == pytest.approx(0.37, abs=0.02)
    assert ptp[0] / (2 * pop.amp[0, 0]) == pytest.approx(1.0, abs=0.08)  # nearly sinusoidal
    assert 0.4 < rise[0] < 0.6 and pop.label[0] == pytest.approx(-1.5, abs=1e-9)


@pytest.fixture(scope="module")
def rrab():
    return _sim("RRab", 3000, 11)


def test_phi31_rises_with_metallicity_at_fixed_period(rrab):
    pop, obs, cat, _ = rrab
    good = cat["phi31_g_error"] < 0.1
    coef = _linfit(cat["phi31_g"][good], pop.period[good] - 0.6, pop.feh_true[good] + 1.5)
    assert coef[2] == pytest.approx(1.174, abs=0.06)
    assert coef[1] == pytest.approx(6.25, abs=0.4)
    assert coef[0] == pytest.approx(2.343, abs=0.03)


def test_bailey_diagram(rrab):
    pop, obs, cat, _ = rrab
    counts = cat["num_clean_epochs_g"].astype(int)
    fit = fit_fourier(obs.clean_curves(), np.full(len(pop), 4))
    good = counts >= 30
    coef = _linfit(fit.amp[good, 0], pop.period[good] - 0.6, pop.feh_true[good] + 1.5)
    assert coef[1] == pytest.approx(-0.56, abs=0.04)  # A1 falls with period at fixed [Fe/H]
    assert coef[2] == pytest.approx(-0.06, abs=0.015)
    # peak-to-peak ~ 2.9 A1 (spec)
    assert np.median(cat["peak_to_peak_g"][good] / fit.amp[good, 0]) == pytest.approx(2.9, abs=0.15)


def test_epoch_g_is_the_time_of_maximum_light(rrab):
    pop, obs, cat, _ = rrab
    bright = (obs.g0 < 17.5) & (cat["num_clean_epochs_g"] >= 40)
    idx = np.flatnonzero(bright)[:400]
    grid = np.arange(2000) / 2000
    t = cat["epoch_g"][idx][:, None] + pop.period[idx][:, None] * (grid[None, :] - 0.5)
    true = light_curve(pop, obs.g0, np.repeat(idx, len(grid)), t.ravel(), obs.t0).reshape(t.shape)
    offset = np.abs(grid[true.argmin(axis=1)] - 0.5)  # true maximum relative to epoch_g, in phase
    assert np.median(offset) < 0.005
    assert np.quantile(offset, 0.95) < 0.02
    assert np.all((cat["epoch_g"] > 1666.4) & (cat["epoch_g"] < 2704.4))


def test_noise_matches_the_error_model(rrab):
    _, obs, _, _ = rrab
    clean = ~obs.flagged
    pull = (obs.mag - obs.model)[clean] / obs.sigma[clean]
    assert np.std(pull) == pytest.approx(1.0, abs=0.02)
    flagged = (obs.mag - obs.model)[obs.flagged]
    assert np.std(flagged) > 5 * np.median(obs.sigma)  # flagged transits are outliers


def test_population_matches_real_dr3_rrab(rrab):
    """4-harmonic fits of simulated RRab (G < 18, >= 30 clean epochs) against 5,919 real DR3
    RRab (SIMULATOR.md)."""
    pop, obs, cat, _ = rrab
    counts = cat["num_clean_epochs_g"].astype(int)
    fit = fit_fourier(obs.clean_curves(), np.full(len(pop), 4))
    sel = (obs.g0 < 18) & (counts >= 30)
    real = {"P": (0.598, 0.075), "A1": (0.255, 0.070), "R21": (0.458, 0.064),
            "R31": (0.297, 0.075), "phi21": (4.108, 0.195), "phi31": (2.226, 0.413),
            "feh": (-1.53, 0.42)}
    sim = {"P": pop.period, "A1": fit.amp[:, 0], "R21": fit.r_k1(2), "R31": fit.r_k1(3),
           "phi21": fit.phi_k1(2), "phi31": fit.phi_k1(3), "feh": pop.label}
    # The spec's laws spread phi31 wider than DR3 does (6.25 rad/d times the 0.07 d period
    # scatter alone is 0.44 rad): ~0.55 against 0.41, so phi31's spread gets a looser bound.
    sd_max = {"phi31": 1.45}
    for name, (mean, sd) in real.items():
        x = sim[name][sel]
        assert abs(x.mean() - mean) < 0.4 * sd, name
        assert 0.75 < x.std() / sd < sd_max.get(name, 1.3), name
    assert np.median(counts[sel]) == pytest.approx(47, abs=3)


@pytest.mark.parametrize("kind", ["RRab", "RRc"])
def test_oracle_noise_floor_by_label_mode(kind):
    pop, _, cat, oracle = _sim(kind, 2400, 21)
    ok = _passes_default_cuts(kind, pop, cat)
    err = oracle[ok] - pop.label[ok]
    rmse = np.sqrt(np.mean(err**2))
    r2 = 1 - np.sum(err**2) / np.sum((pop.label[ok] - pop.label[ok].mean()) ** 2)
    # photometric: only the sparse noisy epochs limit it
    assert rmse < {"RRab": 0.07, "RRc": 0.11}[kind] and r2 > {"RRab": 0.97, "RRc": 0.94}[kind]
    pop, _, cat, oracle = _sim(kind, 2400, 22, "spectroscopic")
    ok = _passes_default_cuts(kind, pop, cat)
    rmse_spec = np.sqrt(np.mean((oracle[ok] - pop.label[ok]) ** 2))
    assert 0.2 < rmse_spec < 0.31  # the intrinsic-scatter floor (~0.2-0.28 dex) plus fit noise


def test_default_jitter_scatters_most_on_the_rising_branch():
    """The calibrated per-transit jitter: the scatter around the true curve follows its slope (phase
    jitter, largest on the rise) plus a share of its shape (amplitude jitter), as real curves do."""
    pop, obs, _, _ = _sim("RRab", 600, 5, base=DEFAULT)
    star = obs.star
    cyc = (obs.time - obs.t0) / pop.period[star]
    h = 1e-4
    slope = (cosine_series(cyc[:, None] + h, pop.amp[star][:, None, :], pop.phase[star][:, None, :])
             - cosine_series(cyc[:, None] - h, pop.amp[star][:, None, :], pop.phase[star][:, None, :]))[:, 0] / (2 * h)
    clean = ~obs.flagged
    jitter = (obs.mag - obs.model)  # noise only: the jitter is part of the model curve
    intrinsic = obs.model - light_curve(pop, obs.g0, star, obs.time, obs.t0)
    steep = np.abs(slope) > np.quantile(np.abs(slope), 0.8)
    flat = np.abs(slope) < np.quantile(np.abs(slope), 0.2)
    assert np.std(intrinsic[clean & steep]) > 3 * np.std(intrinsic[clean & flat])
    assert np.std(jitter[clean] / obs.sigma[clean]) == pytest.approx(1.0, abs=0.03)
    # the phase jitter explains most of the steep branch: sd ~ phase_jitter * E[k] * |slope|
    k_mean = np.exp(DEFAULT.sampling.jitter_sigma_ln**2 / 2)
    ratio = np.std(intrinsic[clean & steep]) / np.mean(DEFAULT.sampling.phase_jitter * k_mean * np.abs(slope[clean & steep]))
    assert 0.8 < ratio < 1.6  # plus the amplitude jitter, which the steep branch also carries


def test_default_population_matches_the_real_calibration_half():
    """The calibrated RRab laws, refitted on simulated stars (true values), return what they were
    fitted to on the real calibration half (docs/SIMULATOR.md, bench/calibrate_simulator.py)."""
    pop = draw_rrab(np.random.default_rng(3), 20000, DEFAULT.rrab, "photometric")
    x, dp = pop.feh_true + 1.5, pop.period - 0.6
    assert _linfit(pop.period, x)[1] == pytest.approx(-0.119, abs=0.01)
    a1 = _linfit(pop.amp[:, 0], dp, x)
    assert a1[1] == pytest.approx(-0.858, abs=0.05) and a1[2] == pytest.approx(-0.116, abs=0.01)
    assert np.mean(pop.feh_true) == pytest.approx(-1.52, abs=0.02)
    assert np.mean(pop.period) == pytest.approx(0.58, abs=0.01)


def test_higher_harmonic_diversity_leaves_everything_else_alone():
    base = DEFAULT.rrab
    varied = replace(base, higher_ratio_sd=[0.09, 0.145, 0.13], higher_phase_offset=[0.09, 0.25, 0.41],
                     higher_phase_sd=[0.14, 0.22, 0.40])
    a = draw_rrab(np.random.default_rng(7), 4000, base, "photometric")
    b = draw_rrab(np.random.default_rng(7), 4000, varied, "photometric")
    for name in ("feh_true", "label", "period", "feh_error"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.amp[:, :3], b.amp[:, :3])  # A1, R21, R31 as before
    np.testing.assert_array_equal(a.phase[:, :3], b.phase[:, :3])  # so phi21, phi31 and the label too
    frac = b.amp[:, 3:] / b.amp[:, 2:3]
    np.testing.assert_allclose(np.median(frac, axis=0), base.higher_over_r31, atol=0.01)
    np.testing.assert_allclose(frac.std(axis=0), [0.09, 0.145, 0.13], rtol=0.1)  # few clipped at 0
    shift = np.angle(np.exp(1j * (b.phase[:, 3:] - a.phase[:, 3:])))
    np.testing.assert_allclose(np.median(shift, axis=0), [0.09, 0.25, 0.41], atol=0.02)
