"""Who trains, who validates, who tests: stratified on [Fe/H] quantile bins, deterministic from the seed.

The test split is set aside first, by `holdout_split`, the one function tune, train and register all
call, so no tuning or CV ever sees a test star. Splits are computed on the stars sorted by
source_id, so they do not depend on the row order of the input file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrlfeh.config.model import SplitConfig
from rrlfeh.errors import DataError


@dataclass(frozen=True)
class Holdout:
    """Row indices into the input arrays: development (tune + CV), test, and unlabelled rows."""

    dev: np.ndarray
    test: np.ndarray
    unlabelled: np.ndarray


@dataclass(frozen=True)
class Fold:
    repeat: int
    fold: int
    train: np.ndarray  # indices into the development rows
    val: np.ndarray


def feh_strata(y, n_bins: int, min_count: int = 2) -> np.ndarray:
    """Quantile-bin label of each y; fewer bins when needed so every bin holds >= min_count stars."""
    y = np.asarray(y, dtype="float64")
    if y.size < min_count:
        raise DataError(f"{y.size} labelled stars, at least {min_count} needed to stratify")
    for nb in range(max(int(n_bins), 1), 0, -1):
        edges = np.quantile(y, np.linspace(0, 1, nb + 1)[1:-1])
        labels = np.searchsorted(edges, y, side="right")
        _, labels, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if counts.min() >= min_count:
            return labels
    return np.zeros(y.size, dtype=int)  # unreachable: one bin holds every star


def stratified_subset(y, fraction: float, n_bins: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, subset) positions: a `fraction` of the stars drawn per [Fe/H] bin."""
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(y, dtype="float64")
    n = y.size
    n_sub = int(np.ceil(fraction * n))
    if n_sub < 1 or n - n_sub < 1:
        raise DataError(f"cannot set aside {fraction:.0%} of {n} labelled stars and keep both parts")
    # every bin needs a star on each side, and each side at least one star per bin
    bins = min(int(n_bins), n_sub, n - n_sub)
    strata = feh_strata(y, bins, min_count=2) if n >= 2 else np.zeros(n, dtype=int)
    sss = StratifiedShuffleSplit(n_splits=1, test_size=n_sub, random_state=int(seed))
    rest, sub = next(sss.split(np.zeros(n), strata))
    return np.sort(rest), np.sort(sub)


def holdout_split(source_id, y, cfg: SplitConfig, seed: int) -> Holdout:
    """Set the test stars aside (stratified, deterministic); NaN labels go to `unlabelled`."""
    sid = np.asarray(source_id, dtype="int64")
    y = np.asarray(y, dtype="float64")
    if sid.shape != y.shape:
        raise DataError(f"source_id {sid.shape} and y {y.shape} differ in length")
    labelled = np.flatnonzero(np.isfinite(y))
    unlabelled = np.flatnonzero(~np.isfinite(y))
    if labelled.size == 0:
        raise DataError(f"none of the {y.size} stars has a label: tuning and training need [Fe/H] labels")
    order = labelled[np.argsort(sid[labelled], kind="stable")]
    rest, sub = stratified_subset(y[order], cfg.test_fraction, cfg.n_bins, seed)
    return Holdout(dev=np.sort(order[rest]), test=np.sort(order[sub]), unlabelled=unlabelled)


def cv_folds(y_dev, k_folds: int, repeats: int, n_bins: int, seed: int) -> list[Fold]:
    """Repeated stratified K-fold over the development stars (indices into y_dev)."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    y_dev = np.asarray(y_dev, dtype="float64")
    if y_dev.size < 2 * k_folds:
        raise DataError(f"{y_dev.size} development stars are too few for {k_folds}-fold CV")
    strata = feh_strata(y_dev, n_bins, min_count=k_folds)
    rskf = RepeatedStratifiedKFold(n_splits=k_folds, n_repeats=repeats, random_state=int(seed))
    return [
        Fold(repeat=i // k_folds, fold=i % k_folds, train=np.sort(tr), val=np.sort(va))
        for i, (tr, va) in enumerate(rskf.split(np.zeros(y_dev.size), strata))
    ]
