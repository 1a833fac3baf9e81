"""Light-curve statistics measured the same way on real and simulated G epochs (docs/SIMULATOR.md,
"Calibration on real DR3 curves").

Per star: the Fourier parameters of a K-harmonic fit (the labels' P-phi31 relation uses K = 4), the
robust scatter around a fuller fit and the share of outlying epochs. Pooled over stars: the
scatter's profile along the phase, split into a part that follows the slope of the curve (phase
jitter) and a part that follows its shape (amplitude jitter), by non-negative least squares.
Fits are unweighted: the archive's errors understate the real scatter several times.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from rrlfeh.core import curve
from rrlfeh.core.fourier import FourierFit, fit_fourier, harmonics_for, series_at_epochs
from rrlfeh.core.ragged import LightCurves
from rrlfeh.sim.oracle import wrap_near

PHI31_PIVOT = 2.3  # rad: the RRab branch of phi31 (cosine convention, G band)
OUTLIER_MADS = 5.0


def curves_from_epochs(epochs: pd.DataFrame, stars: pd.DataFrame) -> LightCurves:
    """The contract's usable epochs (core.curve), finite, of the stars of `stars` (source_id,
    period, epoch_g), in the order of `stars`, in time order within a star; stars without epochs
    get a count of 0."""
    use = (curve.usable_epochs(epochs) & np.isfinite(epochs["mag"].to_numpy(dtype=float))
           & np.isfinite(epochs["time"].to_numpy(dtype=float)))
    e = epochs.loc[use, ["source_id", "time", "mag"]]
    order = pd.Index(stars["source_id"].to_numpy())
    pos = order.get_indexer(e["source_id"].to_numpy())
    e = e.assign(_pos=pos)[pos >= 0].sort_values(["_pos", "time"], kind="stable")
    counts = np.bincount(e["_pos"].to_numpy(), minlength=len(stars))
    curves = LightCurves.from_counts(counts, e["time"].to_numpy(float), e["mag"].to_numpy(float),
                                     stars["period"].to_numpy(float), stars["epoch_g"].to_numpy(float))
    return dataclasses.replace(curves, source_id=stars["source_id"].to_numpy(np.int64))


def _unweighted(c: LightCurves) -> LightCurves:
    return dataclasses.replace(c, error=np.ones_like(c.mag))


def _harmonics(c: LightCurves, harmonics, epochs_per_parameter: float = 1.0) -> np.ndarray:
    """`harmonics` (one count, or one per star), fewer where the epochs do not support them."""
    top = int(np.max(harmonics)) if np.size(harmonics) else 1
    return np.clip(harmonics_for(c.counts, top, epochs_per_parameter), 1, harmonics)


def clipped_fit(c: LightCurves, harmonics, n_sigma: float, max_iter: int = 10) -> tuple[FourierFit, LightCurves]:
    """Iterative sigma clipping: fit, drop the epochs more than `n_sigma` times the fit's rms
    (error-normalized) residual from it, refit on the rest (every epoch judged again each round)
    until the kept set stops changing. The last fit and the curves it was fitted to."""
    keep = np.ones(len(c.time), dtype=bool)
    for _ in range(max_iter):
        kept = c.select(keep)
        f = fit_fourier(kept, _harmonics(kept, harmonics))
        resid = (c.mag - f.mean[c.star] - series_at_epochs(c, f)) / c.error
        now = np.abs(resid) <= n_sigma * np.sqrt(f.chi2_red)[c.star]
        if np.array_equal(now, keep):
            break
        keep = now
    return f, kept


def shape_parameters(c: LightCurves, harmonics=4, weighted: bool = False,
                     clip_sigma: float | None = None) -> pd.DataFrame:
    """A1, R21, R31, phi21, phi31 (on the RRab branch near 2.3 rad) and phi31's error from a fit of
    up to `harmonics` harmonics (one count, or one per star; fewer where the epochs do not support
    them). Unweighted by default; `weighted` uses the curves' errors (1/error^2); `clip_sigma`
    drops outlying epochs by iterative clipping (`clipped_fit`), n_epochs then counts those kept."""
    c = c if weighted else _unweighted(c)
    if clip_sigma is None:
        f = fit_fourier(c, _harmonics(c, harmonics))
    else:
        f, c = clipped_fit(c, harmonics, clip_sigma)
    return pd.DataFrame({
        "source_id": c.source_id, "n_epochs": c.counts, "period": c.period, "mean_mag": f.mean,
        "A1": f.amp[:, 0], "R21": f.r_k1(2), "R31": f.r_k1(3), "phi21": f.phi_k1(2),
        "phi31": wrap_near(f.phi_k1(3), PHI31_PIVOT), "phi31_error": f.phi_k1_error(3),
    })


def chosen_harmonics(c: LightCurves, max_harmonics: int = 8, criterion: str = "bic",
                     weighted: bool = False, min_harmonics: int = 3) -> np.ndarray:
    """Per star, the harmonic count in [min_harmonics, max_harmonics] (at most what 2 epochs per
    parameter support, never below min_harmonics) with the lowest BIC or AIC,
    n ln(RSS / n) + penalty (2K + 1), RSS the (weighted) residual sum of squares."""
    if criterion not in ("bic", "aic"):
        raise ValueError(f"criterion is 'bic' or 'aic', not {criterion!r}")
    c = c if weighted else _unweighted(c)
    n = np.maximum(c.counts, 1)
    cap = np.maximum(harmonics_for(c.counts, max_harmonics, 2.0), min_harmonics)
    penalty = np.log(n) if criterion == "bic" else 2.0
    best, chosen = np.full(len(c), np.inf), np.full(len(c), min_harmonics)
    for k in range(min_harmonics, max_harmonics + 1):
        f = fit_fourier(c, np.minimum(k, cap))
        p = 2 * np.minimum(k, cap) + 1
        rss = f.chi2_red * np.maximum(c.counts - p, 1)
        ic = n * np.log(np.maximum(rss, 1e-300) / n) + penalty * p
        better = (k <= cap) & (ic < best)
        best, chosen = np.where(better, ic, best), np.where(better, k, chosen)
    return chosen


def residuals(c: LightCurves, harmonics: int = 6, epochs_per_parameter: float = 2.0) -> pd.DataFrame:
    """Per epoch: phase since maximum, residual, |slope| and shape of the fitted curve, the last
    three in units of the star's A1 (flat, grouped by star like `c`)."""
    f = fit_fourier(_unweighted(c), _harmonics(c, harmonics, epochs_per_parameter))
    star = c.star
    shape = series_at_epochs(c, f)
    h = 1e-3  # cycles: a central difference is plenty for a smooth series
    slope = (series_at_epochs(c, f, h) - series_at_epochs(c, f, -h)) / (2 * h)
    a1 = np.maximum(f.amp[star, 0], 1e-6)
    return pd.DataFrame({
        "star": star, "phase": np.mod((c.time - c.epoch[star]) / c.period[star], 1.0),
        "resid": (c.mag - f.mean[star] - shape) / a1, "slope": np.abs(slope) / a1,
        "shape": shape / a1,
    })


def _robust_sd(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def scatter_profile(res: pd.DataFrame, n_bins: int = 10) -> dict:
    """The pooled scatter along the phase and its split into phase and amplitude jitter:
    rms(resid)^2 = sigma_phase^2 slope^2 + sigma_amp^2 shape^2 + floor^2, fitted per phase bin.
    Also the spread of a star's scatter (sd of its log) and the outlier share."""
    bins = np.minimum((res["phase"].to_numpy() * n_bins).astype(int), n_bins - 1)
    g = res.assign(bin=bins).groupby("bin")
    rms = g["resid"].apply(_robust_sd).to_numpy()
    slope = g["slope"].median().to_numpy()
    shape = g["shape"].apply(lambda s: float(np.sqrt(np.mean(s**2)))).to_numpy()
    coef, _ = nnls(np.column_stack([slope**2, shape**2, np.ones(n_bins)]), rms**2)
    per_star = res.groupby("star")["resid"].apply(_robust_sd)
    mad = per_star.reindex(res["star"]).to_numpy()
    outlier = np.abs(res["resid"].to_numpy()) > OUTLIER_MADS * np.maximum(mad, 1e-9)
    return {
        "phase_jitter": float(np.sqrt(coef[0])), "amplitude_jitter": float(np.sqrt(coef[1])),
        "floor": float(np.sqrt(coef[2])),
        "rms_by_phase": [round(float(x), 4) for x in rms],
        "star_scatter_median": float(np.median(per_star)),
        "star_scatter_sd_ln": float(np.std(np.log(np.maximum(per_star, 1e-6)))),
        "outlier_fraction": float(outlier.mean()),
    }


def relation_fit(shape: pd.DataFrame, feh: np.ndarray, max_phi31_error: float = 0.3) -> dict:
    """Least squares [Fe/H] = a + b (P - 0.6) + c (phi31 - 2.3) on stars with a usable phi31."""
    ok = np.isfinite(feh) & (shape["phi31_error"].to_numpy() < max_phi31_error)
    x = np.column_stack([np.ones(ok.sum()), shape["period"].to_numpy()[ok] - 0.6,
                         shape["phi31"].to_numpy()[ok] - PHI31_PIVOT])
    coef, *_ = np.linalg.lstsq(x, feh[ok], rcond=None)
    rms = float(np.sqrt(np.mean((feh[ok] - x @ coef) ** 2)))
    return {"intercept": float(coef[0]), "period_slope": float(coef[1]),
            "shape_slope": float(coef[2]), "rms": rms, "n": int(ok.sum())}
