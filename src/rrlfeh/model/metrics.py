"""The paper's regression metrics: R², weighted and unweighted RMSE and MAE (dex)."""

from __future__ import annotations

import numpy as np

METRIC_NAMES = ("r2", "wrmse", "wmae", "rmse", "mae")


def regression_metrics(y_true, y_pred, weights=None) -> dict[str, float]:
    """R² (unweighted, as sklearn's r2_score), weighted and plain RMSE and MAE.

    `weights` are the KDE sample weights (None = all ones); the weighted metrics are
    sqrt(Σw·e²/Σw) and Σw·|e|/Σw, the same as scikit-learn's with `sample_weight`.
    """
    yt = np.asarray(y_true, dtype="float64").ravel()
    yp = np.asarray(y_pred, dtype="float64").ravel()
    w = np.ones_like(yt) if weights is None else np.asarray(weights, dtype="float64").ravel()
    if not (yt.shape == yp.shape == w.shape):
        raise ValueError(f"shapes differ: y_true {yt.shape}, y_pred {yp.shape}, weights {w.shape}")
    if yt.size == 0:
        raise ValueError("no stars to score")
    if not (np.isfinite(yt).all() and np.isfinite(yp).all() and np.isfinite(w).all()):
        raise ValueError("non-finite labels, predictions or weights")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    err = yp - yt
    ss_tot = float(((yt - yt.mean()) ** 2).sum())
    ss_res = float((err**2).sum())
    # sklearn's convention for a constant target: 1 for a perfect fit, else 0
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return {
        "r2": r2,
        "wrmse": float(np.sqrt(np.average(err**2, weights=w))),
        "wmae": float(np.average(np.abs(err), weights=w)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
    }


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) std of each metric over folds: {'r2': {'mean':..,'std':..}, ...}."""
    if not rows:
        return {}
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {
        k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
        for k in keys
    }
