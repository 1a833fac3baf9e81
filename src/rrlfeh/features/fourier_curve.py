"""Folded epochs -> a Fourier series at an order set by the epoch count (`curve_model: fourier`).

The alternative to the smoothing spline (spline.py): each star's folded epochs are fitted by
weighted least squares with K = min(max_harmonics, (n / epochs_per_parameter - 1) / 2) harmonics
(at least 3), the order the simulator's oracle and the real labels' phi31 follow (docs/REAL_STARS.md,
"Fourier input"). The resampled curve then carries exactly the fit whose phi31 a catalogue turns
into [Fe/H]. The fits are core.fourier's batched normal equations, on phases (period 1).
"""

from __future__ import annotations

import numpy as np

from rrlfeh.core.fourier import fit_fourier, harmonics_for, series_at_epochs
from rrlfeh.core.ragged import LightCurves, segment_median


def fourier_order(n_epochs, max_harmonics: int, epochs_per_parameter: float) -> np.ndarray:
    """Harmonics fitted to stars with `n_epochs` epochs: what they support, within max_harmonics,
    and never below 3 (phi31 needs them; a sparse curve gets fewer epochs per parameter instead)."""
    return np.maximum(harmonics_for(n_epochs, max_harmonics, epochs_per_parameter), min(3, max_harmonics))


def fourier_resampled(phase: np.ndarray, mag: np.ndarray, star: np.ndarray, n_stars: int,
                      weight: np.ndarray | None, grid: np.ndarray, max_harmonics: int,
                      epochs_per_parameter: float) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curves at the phases `grid`, (n_stars, len(grid)), and the robust scatter
    (1.4826 x median absolute residual, mag) of each star's epochs around its curve.

    phase in [0, 1) and star ids 0..n_stars-1 (sorted ascending, every star with epochs); weight:
    relative epoch weights (1 / error^2 up to a per-star factor), None for equal ones.
    """
    counts = np.bincount(star, minlength=n_stars)
    error = np.ones(len(mag)) if weight is None else 1.0 / np.sqrt(weight)
    curves = LightCurves.from_counts(counts, phase, mag, period=np.ones(n_stars),
                                     epoch=np.zeros(n_stars), error=error)
    fit = fit_fourier(curves, fourier_order(counts, max_harmonics, epochs_per_parameter))
    # evaluate() takes cycles since each star's t_ref (its mean phase here)
    resampled = fit.evaluate(grid[None, :] - fit.t_ref[:, None])
    at_epochs = fit.mean[star] + series_at_epochs(curves, fit)
    mad = 1.4826 * segment_median(np.abs(mag - at_epochs), star, n_stars)
    return resampled, mad

