"""Sample weights from a Gaussian KDE of the [Fe/H] distribution: rare metallicities weigh more.

Pure: labels in, weights out. Cross-validation fits the KDE on the training folds only and
evaluates it on the validation fold (y_eval), so no validation label shapes its own weight.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from rrlfeh.errors import DataError


def kde_weights(y_fit, alpha: float, y_eval=None) -> np.ndarray:
    """w_i = density(y_eval_i) ** -alpha, density a Gaussian KDE (Scott's bandwidth) of y_fit.

    Normalized to sum to len(y_eval) (mean 1). alpha = 0 gives unit weights; so does a y_fit
    without spread (a KDE needs at least two distinct values).
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
    return w * (len(y_eval) / w.sum())
