"""Sample weights from a Gaussian KDE of the [Fe/H] distribution: rare metallicities weigh more.

One API, `split_weights`, for every weighted number of the project: the training loss and the
validation metrics of a fold (tune, train), the development and test metrics of the train stage,
the promotion gate's test wRMSE, and the npz's `w`. Pure: labels in, weights out.

Why this weighting: the KDE is fitted on the stars a model learns from and evaluated at the
stars it is scored on, so no scored label shapes its own weight; a scored star beyond the fitted
labels weighs no more than the rarest fitted star (there the density is the KDE's Gaussian tail,
an artefact of its bandwidth, not a rarity of the population: uncapped, one test star at [Fe/H]
0.2 took all the weight of a 186-star fold); and no star weighs more than `max_weight` times its
set's mean. The train stage and the gate both weigh the test stars with the KDE of the same
development labels, so their test wRMSEs differ only where their predictions do.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from rrlfeh.errors import DataError


def split_weights(y_fit, y_eval, alpha: float, max_weight: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """(w_fit, w_eval), float32: KDE weights of the fitted labels, and of the evaluated ones by that
    same KDE, each no more than the rarest fitted star's.

    Each set is normalized to mean 1 (sum = its size), then capped at `max_weight` times the mean
    (cap_weights). alpha = 0, or fitted labels without spread, give unit weights. An empty
    `y_eval` gives the weights of a set by its own KDE (the npz's `w`).
    """
    y_fit = np.asarray(y_fit, dtype="float64")
    y_eval = np.asarray(y_eval, dtype="float64")
    w = _kde_weights(y_fit, alpha, y_eval=np.concatenate([y_fit, y_eval]))  # one scale for both
    w_fit, w_eval = w[: y_fit.size], np.minimum(w[y_fit.size :], w[: y_fit.size].max(initial=0.0))
    return (cap_weights(w_fit, max_weight).astype("float32"),
            cap_weights(w_eval, max_weight).astype("float32"))


def _kde_weights(y_fit, alpha: float, y_eval=None) -> np.ndarray:
    """w_i = density(y_eval_i) ** -alpha, density a Gaussian KDE (Scott's bandwidth) of y_fit,
    normalized to mean 1. alpha = 0 gives unit weights; so does a y_fit without spread (a KDE needs
    at least two distinct values). Unbounded beyond y_fit's range: split_weights bounds it.
    """
    y_fit = np.asarray(y_fit, dtype=np.float64).ravel()
    y_eval = y_fit if y_eval is None else np.asarray(y_eval, dtype=np.float64).ravel()
    for name, y in (("y_fit", y_fit), ("y_eval", y_eval)):
        if not np.isfinite(y).all():
            n_bad = int((~np.isfinite(y)).sum())
            raise DataError(f"weights: {name} has {n_bad} non-finite value(s)")
    if alpha < 0:
        raise ValueError(f"weights: alpha must be >= 0, got {alpha}")
    if len(y_eval) == 0:
        return np.zeros(0)
    if alpha == 0 or len(np.unique(y_fit)) < 2:
        return np.ones(len(y_eval))
    # in log space: far from y_fit the density underflows, its logarithm does not
    log_w = -alpha * gaussian_kde(y_fit).logpdf(y_eval)
    w = np.exp(log_w - log_w.max())
    return cap_weights(w * (len(y_eval) / w.sum()))


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
