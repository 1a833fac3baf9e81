"""Gaia DR3-like time sampling and photometric noise for simulated light curves.

Epochs come in visits spread over the 34-month span; a visit is 1..4 consecutive spins (6 h apart),
each with one or two field-of-view transits 106.5 min apart. Times are BJD(TCB) - 2455197.5.
"""

from __future__ import annotations

import numpy as np

from rrlfeh.config.simulate import Noise, Sampling
from rrlfeh.core.ragged import star_index, starts_of

LN10_OVER_2_5 = np.log(10.0) / 2.5


def epoch_counts(rng: np.random.Generator, n: int, cfg: Sampling) -> np.ndarray:
    """G transits per star: lognormal around the median, clipped to [epochs_min, epochs_max]."""
    raw = np.exp(np.log(cfg.epochs_median) + cfg.epochs_sigma_ln * rng.standard_normal(n))
    return np.clip(np.round(raw), cfg.epochs_min, cfg.epochs_max).astype(np.int64)


def transit_times(rng: np.random.Generator, counts: np.ndarray, cfg: Sampling) -> np.ndarray:
    """Flat transit times grouped by star (counts[i] each), sorted in time within a star.

    Each star gets counts[i] candidate visits (always enough, as a visit has >= 1 transit); visits
    are used in random order until the star's count is reached, the last one possibly cut short.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) == 0:
        return np.zeros(0)
    n_vis = int(counts.sum())
    slots = 2 * cfg.max_spins_per_visit
    star = star_index(counts)
    spins = rng.integers(1, cfg.max_spins_per_visit + 1, size=n_vis)
    two_fov = rng.random((n_vis, cfg.max_spins_per_visit)) < cfg.second_fov_probability
    # slot (spin s, fov f) of a visit holds a transit if s < spins and (f == 0 or two_fov[s])
    s_idx = np.arange(cfg.max_spins_per_visit)
    used = np.stack([s_idx[None, :] < spins[:, None],
                     (s_idx[None, :] < spins[:, None]) & two_fov], axis=2)  # (visit, spin, fov)
    per_visit = used.reshape(n_vis, slots).sum(axis=1)
    # Transits already taken by the star's earlier visits; a visit is kept while that is < count.
    before = starts_of(per_visit)
    before -= np.repeat(before[starts_of(counts)], counts)
    keep = before < counts[star]
    used, star = used[keep], star[keep]
    span_end = cfg.time_end - cfg.max_spins_per_visit * cfg.spin_interval - cfg.fov_interval
    start = cfg.time_start + (span_end - cfg.time_start) * rng.random(len(star))
    offsets = s_idx[:, None] * cfg.spin_interval + np.array([0.0, cfg.fov_interval])[None, :]
    t_flat = (start[:, None, None] + offsets[None, :, :])[used]
    s_flat = np.repeat(star, used.reshape(len(star), slots).sum(axis=1))  # grouped by star
    star_start = starts_of(np.bincount(s_flat, minlength=len(counts)))
    take = np.arange(len(s_flat)) - star_start[s_flat] < counts[s_flat]
    t_flat, s_flat = t_flat[take], s_flat[take]
    return t_flat[np.lexsort((t_flat, s_flat))]


def g_error(mag: np.ndarray, cfg: Noise) -> np.ndarray:
    """Per-transit G uncertainty (mag): the DR3-like formula times `factor`, plus a floor in
    quadrature."""
    z = 10.0 ** (0.4 * (np.maximum(mag, cfg.g_bright) - cfg.g_pivot))
    sigma = cfg.factor * cfg.scale * np.sqrt(cfg.c2 * z**2 + cfg.c1 * z + cfg.c0)
    return np.hypot(sigma, cfg.floor)


def mag_to_flux(mag: np.ndarray, sigma_mag: np.ndarray, zero_point: float):
    """Archive flux columns (e-/s) from a magnitude and its error: flux, flux_error and
    flux_over_error."""
    flux = 10.0 ** (-0.4 * (mag - zero_point))
    flux_error = flux * sigma_mag * LN10_OVER_2_5
    return flux, flux_error, flux / flux_error
