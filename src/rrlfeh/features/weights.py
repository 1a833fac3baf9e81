"""Sample weights from a Gaussian KDE of the [Fe/H] distribution: rare metallicities weigh more.

Pure: labels in, weights out. Cross-validation fits the KDE on the training folds only and
evaluates it on the validation fold (y_eval), so no validation label shapes its own weight.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from rrlfeh.errors import DataError


def kde_weights(y_fit, alpha: float, y_eval=None, max_weight: float = np.inf) -> np.ndarray:
    """w_i = density(y_eval_i) ** -alpha, density a Gaussian KDE (Scott's bandwidth) of y_fit.

    Normalized to sum to len(y_eval) (mean 1), then capped at `max_weight` times the mean
    (cap_weights). alpha = 0 gives unit weights; so does a y_fit without spread (a KDE needs at
    least two distinct values).
    """
    y_fit = np.asarray(y_fit, dtype=np.float64).ravel()
    y_eval = y_fit if y_eval is None else np.asarray(y_eval, dtype=np.float64).ravel()
    for name, y in (("y_fit", y_fit), ("y_eval", y_eval)):
        if not np.isfinite(y).all():
            n_bad = int((~np.isfinite(y)).sum())
            raise DataError(f"kde_weights: {name} has {n_bad} non-finite value(s)")
    if alpha < 0:
        raise ValueError(f"kde_weights: alpha must be >= 0, got {alpha}")
    if len(y_eval) == 0:
        return np.zeros(0)
    if alpha == 0 or len(np.unique(y_fit)) < 2:
        return np.ones(len(y_eval))
    # in log space: far from y_fit the density underflows, its logarithm does not
    log_w = -alpha * gaussian_kde(y_fit).logpdf(y_eval)
    w = np.exp(log_w - log_w.max())
    return cap_weights(w * (len(y_eval) / w.sum()), max_weight)


def cap_weights(w, max_weight: float = np.inf) -> np.ndarray:
    """Weights rescaled to mean 1 with none above `max_weight` (the excess spread over the rest).

    Without a cap the KDE's thin tails give a star at the edge of the label range up to ~90 times
    the mean weight: one star then carries a tenth of a fold's loss and of its weighted metrics.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        return w
    if not max_weight >= 1:
        raise ValueError(f"max_weight must be >= 1 (the mean weight), got {max_weight}")
    w = w * (w.size / w.sum())
    for _ in range(100):  # clip and renormalize until it holds (a handful of rounds)
        if w.max() <= max_weight * (1 + 1e-9):
            break
        w = np.minimum(w, max_weight)
        w = w * (w.size / w.sum())
    return w
