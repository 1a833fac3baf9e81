"""Where a model's estimate can be trusted, and how far: the training stars' ranges that serving
flags a star outside of (period, amplitude, fold scatter, curve shape; the phase gap and the epoch
count are recorded beside them, not flagged), and the calibrated 1-sigma uncertainty feh_error
(docs/REAL_STARS.md).

Both are fitted at training time on the development stars and stored in the type's manifest;
serving applies them with the same functions, so training and serving cannot disagree.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

# Per-star quantities the serving flags; scatter and shape only above their bound. The phase gap
# and the epoch count are recorded, not flagged: on the real calibration half neither predicted the
# residuals once the fold scatter and the shape were flagged (docs/REAL_STARS.md).
RANGE_KEYS = ("period", "amplitude", "scatter", "shape")
UPPER_ONLY = ("scatter", "shape")


def curve_space(curves: np.ndarray, n_components: int, quantile: float) -> dict:
    """Principal components of the training curves (standardized magnitudes, (n, N)) and the
    `quantile` of their squared Mahalanobis distance in that space: a curve beyond it has a
    shape the models have not seen."""
    mean = curves.mean(axis=0)
    _, s, vt = np.linalg.svd(curves - mean, full_matrices=False)
    k = min(n_components, len(s))
    variance = s[:k] ** 2 / max(len(curves) - 1, 1)
    space = {"mean": mean.tolist(), "components": vt[:k].tolist(), "variance": variance.tolist()}
    space["threshold"] = float(np.quantile(shape_distance(space, curves), quantile))
    return space


def shape_distance(space: dict, curves: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each curve in the training curves' principal components."""
    z = (np.asarray(curves, dtype=np.float64) - np.asarray(space["mean"])) @ np.asarray(
        space["components"]).T
    return np.sum(z**2 / np.asarray(space["variance"]), axis=1)


def training_range(period, amplitude, scatter, phase_gap, n_epochs, curves, quantile: float,
                   n_components: int) -> dict:
    """Spans of the training stars (period, amplitude: full span; scatter, phase gap: upper
    `quantile`) and the curve space; n_epochs and the phase gap are recorded, not flagged: a star
    with fewer epochs than training had is judged by how well its curve folds, not by the count."""
    def span(a):
        return [float(np.nanmin(a)), float(np.nanmax(a))]

    def upper(a):
        return [0.0, float(np.nanquantile(a, quantile))]

    return {"period": span(period), "amplitude": span(amplitude), "scatter": upper(scatter),
            "phase_gap": upper(phase_gap), "n_epochs": span(n_epochs), "quantile": quantile,
            "shape": curve_space(curves, n_components, quantile)}


def out_of_range_reasons(values: dict[str, np.ndarray], training_range: dict) -> np.ndarray:
    """Per star, the comma-joined names of the quantities outside the training range ('' if none).
    values: period, amplitude, scatter and curves ((n, N) standardized magnitudes)."""
    n = len(next(iter(values.values())))
    out = np.full(n, "", dtype=object)
    for key in RANGE_KEYS:
        if key not in training_range:
            continue
        if key == "shape":
            if "curves" not in values:
                continue
            v, lo, hi = shape_distance(training_range["shape"], values["curves"]), -np.inf, \
                training_range["shape"]["threshold"]
        elif key in values:
            v = np.asarray(values[key], dtype=np.float64)
            lo, hi = training_range[key]
            lo = -np.inf if key in UPPER_ONLY else lo
        else:
            continue
        with np.errstate(invalid="ignore"):
            bad = (v < lo) | (v > hi)
        out = np.where(bad, np.where(out == "", key, out + "," + key), out)
    return out.astype(object)


def _shape_noise(scatter, n_epochs) -> np.ndarray:
    """scatter^2 / n: the variance of the curve's shape that the epochs leave."""
    return np.asarray(scatter, float) ** 2 / np.maximum(np.asarray(n_epochs, float), 1.0)


def fit_uncertainty(residual, scatter, n_epochs, coverage: float = 0.6827) -> dict:
    """sigma = scale sqrt(floor^2 + (shape x scatter)^2 / n_epochs), from out-of-fold residuals (dex).

    floor and shape by Gaussian maximum likelihood (the floor is what the models miss on a perfect
    curve); then `scale` sets the share of residuals within 1 sigma to `coverage` exactly, as a
    conformal step would: the residuals have heavier tails than a Gaussian."""
    r = np.asarray(residual, float)
    q = _shape_noise(scatter, n_epochs)
    ok = np.isfinite(r) & np.isfinite(q)
    r, q = r[ok], q[ok]

    def nll(p):
        var = np.exp(2 * p[0]) + np.exp(2 * p[1]) * q
        return float(np.sum(np.log(var) + r**2 / var))

    start = [np.log(np.std(r) + 1e-6), np.log(1.0)]
    p = minimize(nll, start, method="Nelder-Mead").x
    floor, shape = float(np.exp(p[0])), float(np.exp(p[1]))
    sigma = np.sqrt(floor**2 + shape**2 * q)
    scale = float(np.quantile(np.abs(r) / sigma, coverage))
    return {"floor": floor, "shape": shape, "scale": scale, "n": int(ok.sum()),
            "coverage_1sigma": float(np.mean(np.abs(r) <= scale * sigma))}


def feh_error(uncertainty: dict | None, scatter, n_epochs, extra: float = 0.0,
              real_scale: float = 1.0) -> np.ndarray:
    """The 1-sigma uncertainty of each estimate: the models' own (calibrated on simulated stars
    they did not train on) times `real_scale` and, in quadrature, `extra`: the simulation-to-real
    terms calibrated on real stars (predict.error_scale, predict.extra_error; 1 and 0 for
    simulated stars)."""
    q = _shape_noise(scatter, n_epochs)
    if not uncertainty:
        return np.full(len(q), np.nan)
    own = uncertainty.get("scale", 1.0) * np.sqrt(uncertainty["floor"] ** 2 + uncertainty["shape"] ** 2 * q)
    return np.hypot(float(real_scale) * own, float(extra))
