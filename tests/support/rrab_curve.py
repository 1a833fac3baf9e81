"""A known RRab-like light curve for the preprocessing tests: the cosine series, random epochs
over the DR3 span, and its noise-free standardized resampling."""

from __future__ import annotations

import numpy as np

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.features.tensors import phase_grid

N = PreprocessConfig().n_points("rrab")
# An RRab-like cosine series (SIMULATOR.md cross-check star): steep rise, 0.76 mag peak to peak.
AMPS = np.array([0.270, 0.125, 0.083, 0.050, 0.030, 0.017])
PHIS = np.array([0.0, 4.14, 2.34 + 2 * np.pi, 4.14 + 2 * 4.48, 4.14 + 3 * 4.48, 4.14 + 4 * 4.48])


def shape(phase_since_t0):
    k = np.arange(1, 7)
    return 15.0 + (AMPS * np.cos(2 * np.pi * k * np.asarray(phase_since_t0)[..., None] + PHIS)).sum(-1)


FINE = np.arange(100_000) / 100_000
PHASE_MAX = FINE[np.argmin(shape(FINE))]  # maximum light = minimum magnitude


def star(n_epochs, period=0.6, t0=2000.0, noise=0.0, seed=0):
    """Random-epoch light curve; returns (times, mags, period, epoch_g)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(1666.4, 2704.4, n_epochs))
    m = shape((t - t0) / period) + rng.normal(0, noise, n_epochs)
    return t, m, period, t0 + PHASE_MAX * period


def truth_standardized(period=0.6):
    """The noise-free curve at the N resampling phases, standardized (the period does not change it)."""
    y = shape(phase_grid(N) + PHASE_MAX)
    return (y - y.mean()) / y.std()
