"""The vari_rrlyrae columns a Gaia SOS-like pipeline derives from a Fourier fit of the clean G
epochs at the known period: epoch of maximum light, peak-to-peak, phi31 and its error,
intensity-averaged magnitude and the number of clean epochs."""

from __future__ import annotations

import numpy as np

from rrlfeh.config.simulate import Fitting
from rrlfeh.core.fourier import fit_fourier, harmonics_for, summarize
from rrlfeh.core.ragged import LightCurves


def sos_columns(curves: LightCurves, cfg: Fitting) -> dict[str, np.ndarray]:
    """Catalogue columns per star from its clean epochs (with their errors, at the known periods)."""
    counts = curves.counts
    n_harm = np.maximum(harmonics_for(counts, cfg.catalogue_harmonics, cfg.epochs_per_parameter), 1)
    fit = fit_fourier(curves, n_harm, cfg.chunk_stars)
    curve = summarize(fit, cfg.grid_points, cfg.chunk_stars)
    return {
        "epoch_g": curve.time_max_light,
        "peak_to_peak_g": curve.peak_to_peak,
        "phi31_g": fit.phi_k1(3),
        "phi31_g_error": fit.phi_k1_error(3),
        "int_average_g": curve.intensity_mean,
        "num_clean_epochs_g": np.asarray(counts, dtype=float),
    }
