"""Scores of [Fe/H] estimates against real labels: the summary statistics, the linear P-phi31
baseline (fitted on the calibration half, or cross-validated), the coverage of an interval, and the
model against that baseline on the same stars: per bin of epoch count, and by a paired bootstrap."""

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


EPOCH_EDGES = (40, 50, 60)  # clean G epochs: bins < 40, 40-49, 50-59, >= 60
BEATS_LINE_SHARE = 0.84  # the model beats the line where its RMSE is lower in this share of draws


def epoch_bin_names(edges=EPOCH_EDGES) -> list[str]:
    """'<40', '40-49', '50-59', '>=60' for the default edges."""
    inner = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])]
    return [f"<{edges[0]}", *inner, f">={edges[-1]}"]


def epoch_bins(n_epochs, edges=EPOCH_EDGES) -> np.ndarray:
    """The bin name of each star's epoch count (edges belong to the bin above)."""
    return np.asarray(epoch_bin_names(edges))[np.searchsorted(edges, np.asarray(n_epochs), side="right")]


def _finite(*arrays) -> list[np.ndarray]:
    arrays = [np.asarray(a, float) for a in arrays]
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return [a[ok] for a in arrays]


def _rmse(d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(d**2)))


def versus_line_by_bin(pred, line, label, n_epochs, edges=EPOCH_EDGES) -> dict:
    """Per epoch bin, on the stars with all four values: n, the RMSE and median |error| of the model
    (`pred`) and of the line, and the model's bias (pred - label)."""
    pred, line, label, n_epochs = _finite(pred, line, label, n_epochs)
    names = epoch_bins(n_epochs, edges)
    out = {}
    for name in epoch_bin_names(edges):
        sel = names == name
        dm, dl = pred[sel] - label[sel], line[sel] - label[sel]
        row = {"n": int(sel.sum())}
        if sel.any():
            row.update(model_rmse=_rmse(dm), line_rmse=_rmse(dl),
                       model_median_abs=float(np.median(np.abs(dm))),
                       line_median_abs=float(np.median(np.abs(dl))), model_bias=float(dm.mean()))
        out[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
    return out


def paired_bootstrap(pred, line, label, draws: int = 1000, seed: int = 0,
                     bar: float = BEATS_LINE_SHARE) -> dict:
    """Model (`pred`) against the line on the same stars: `draws` resamples of the stars (with
    replacement, one index set for both, so each draw compares them on the same stars), the share
    of draws where the model's RMSE is below the line's, the 16/50/84 percentiles of
    RMSE(model) - RMSE(line), and `beats_line` = share >= `bar`."""
    pred, line, label = _finite(pred, line, label)
    n = len(label)
    if n == 0:
        return {"n": 0, "beats_line": False}
    sq_model, sq_line = (pred - label) ** 2, (line - label) ** 2
    idx = np.random.default_rng(seed).integers(0, n, size=(draws, n))
    diff = np.sqrt(sq_model[idx].mean(axis=1)) - np.sqrt(sq_line[idx].mean(axis=1))
    share = float(np.mean(diff < 0))
    p16, p50, p84 = (round(float(v), 4) for v in np.percentile(diff, [16, 50, 84]))
    return {"n": int(n), "draws": int(draws), "seed": int(seed),
            "model_rmse": round(_rmse(pred - label), 4), "line_rmse": round(_rmse(line - label), 4),
            "share_model_rmse_below_line": round(share, 4),
            "rmse_difference_p16_p50_p84": [p16, p50, p84], "beats_line": bool(share >= bar)}


def versus_line(pred, line, label, n_epochs, split: int = 50, draws: int = 1000, seed: int = 0) -> dict:
    """The model against the line on the stars both score: the epoch-bin table and a paired
    bootstrap in each epoch group (< `split`, >= `split`, all), each group with its own fixed seed."""
    pred, line, label, n_epochs = _finite(pred, line, label, n_epochs)
    groups = {f"<{split}": n_epochs < split, f">={split}": n_epochs >= split,
              "all": np.ones(len(label), bool)}
    return {"epoch_bins": versus_line_by_bin(pred, line, label, n_epochs),
            "paired_bootstrap": {name: paired_bootstrap(pred[g], line[g], label[g], draws, seed + i)
                                 for i, (name, g) in enumerate(groups.items())}}
