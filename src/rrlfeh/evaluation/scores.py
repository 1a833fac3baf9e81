"""Scores of [Fe/H] estimates against real labels: the summary statistics, the linear P-phi31
baseline (fitted on the calibration half, or cross-validated), the coverage of an interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rrlfeh.evaluation.curve_stats import PHI31_PIVOT


def summary(pred: np.ndarray, label: np.ndarray, sigma: np.ndarray | None = None) -> dict:
    """n, RMSE, bias (pred - label), MAE, R2, and the share of |pred - label| <= sigma."""
    pred, label = np.asarray(pred, float), np.asarray(label, float)
    ok = np.isfinite(pred) & np.isfinite(label)
    d, y = pred[ok] - label[ok], label[ok]
    if not ok.any():
        return {"n": 0}
    out = {"n": int(ok.sum()), "rmse": float(np.sqrt(np.mean(d**2))), "bias": float(d.mean()),
           "mae": float(np.mean(np.abs(d))),
           "r2": float(1 - np.sum(d**2) / np.sum((y - y.mean()) ** 2)) if ok.sum() > 1 else None}
    if sigma is not None:
        s = np.asarray(sigma, float)[ok]
        out["coverage_1sigma"] = float(np.mean(np.abs(d) <= s)) if np.isfinite(s).all() else None
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _design(shape: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(shape)), shape["period"].to_numpy() - 0.6,
                            shape["phi31"].to_numpy() - PHI31_PIVOT])


def fit_baseline(shape: pd.DataFrame, feh: np.ndarray, max_phi31_error: float = 0.3) -> np.ndarray:
    """Coefficients of [Fe/H] = a + b (P - 0.6) + c (phi31 - 2.3), least squares on the stars with
    a usable phi31 (error below `max_phi31_error`)."""
    x, feh = _design(shape), np.asarray(feh, float)
    ok = np.isfinite(feh) & np.isfinite(x).all(axis=1) & (shape["phi31_error"].to_numpy() < max_phi31_error)
    return np.linalg.lstsq(x[ok], feh[ok], rcond=None)[0]


def baseline_predict(shape: pd.DataFrame, coef: np.ndarray) -> np.ndarray:
    return _design(shape) @ coef


def baseline_cv(shape: pd.DataFrame, feh: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold baseline estimates: each star predicted by the formula fitted without it."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(shape)) % k
    out = np.full(len(shape), np.nan)
    for f in range(k):
        coef = fit_baseline(shape[fold != f], np.asarray(feh)[fold != f])
        out[fold == f] = baseline_predict(shape[fold == f], coef)
    return out
