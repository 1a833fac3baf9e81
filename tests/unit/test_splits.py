"""Test split and CV folds: stratified on [Fe/H], disjoint, deterministic, order-independent."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.config.model import SplitConfig
from rrlfeh.errors import DataError
from rrlfeh.model.splits import cv_folds, feh_strata, holdout_split


@pytest.fixture
def stars():
    rng = np.random.default_rng(11)
    n = 600
    y = np.clip(rng.normal(-1.55, 0.45, n), -2.8, 0.2)
    y[rng.choice(n, 20, replace=False)] = np.nan  # unlabelled stars
    sid = rng.choice(10**12, n, replace=False).astype("int64")
    return sid, y


def test_strata_have_enough_members():
    y = np.r_[np.linspace(-2, -1, 50), [0.1, 0.2]]  # a thin tail
    s = feh_strata(y, 10, min_count=5)
    assert np.bincount(s).min() >= 5
    assert len(np.unique(s)) > 1


def test_holdout_is_disjoint_complete_and_stratified(stars):
    sid, y = stars
    h = holdout_split(sid, y, SplitConfig(test_fraction=0.1, n_bins=10), seed=42)
    labelled = np.flatnonzero(np.isfinite(y))
    assert set(h.dev).isdisjoint(h.test)
    assert sorted(np.r_[h.dev, h.test]) == sorted(labelled)
    assert sorted(h.unlabelled) == sorted(np.flatnonzero(~np.isfinite(y)))
    assert len(h.test) == int(np.ceil(0.1 * len(labelled)))
    # every [Fe/H] decile of the labelled stars is represented in the test set in proportion
    edges = np.quantile(y[labelled], np.linspace(0, 1, 11)[1:-1])
    counts = np.bincount(np.searchsorted(edges, y[h.test], side="right"), minlength=10)
    assert counts.min() >= 4 and counts.max() <= 8


def test_holdout_is_deterministic_and_independent_of_row_order(stars):
    sid, y = stars
    cfg = SplitConfig()
    a = holdout_split(sid, y, cfg, seed=42)
    b = holdout_split(sid, y, cfg, seed=42)
    assert np.array_equal(a.test, b.test)
    perm = np.random.default_rng(0).permutation(len(y))
    c = holdout_split(sid[perm], y[perm], cfg, seed=42)
    assert set(sid[perm][c.test]) == set(sid[a.test])
    d = holdout_split(sid, y, cfg, seed=7)
    assert set(d.test) != set(a.test)


def test_cv_folds_partition_the_development_set(stars):
    _, y = stars
    y_dev = y[np.isfinite(y)]
    folds = cv_folds(y_dev, k_folds=5, repeats=2, n_bins=10, seed=1)
    assert len(folds) == 10
    assert [(f.repeat, f.fold) for f in folds[:6]] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0)]
    for r in (0, 1):
        vals = np.concatenate([f.val for f in folds if f.repeat == r])
        assert np.array_equal(np.sort(vals), np.arange(len(y_dev)))  # each star validated once per repeat
    for f in folds:
        assert set(f.train).isdisjoint(f.val)
        assert len(f.train) + len(f.val) == len(y_dev)
        # stratified: the validation fold's median [Fe/H] is close to the whole set's
        assert abs(np.median(y_dev[f.val]) - np.median(y_dev)) < 0.08
    again = cv_folds(y_dev, k_folds=5, repeats=2, n_bins=10, seed=1)
    assert all(np.array_equal(a.val, b.val) for a, b in zip(folds, again))
    # the repeats reshuffle
    assert not np.array_equal(folds[0].val, folds[5].val)


def test_too_few_stars_is_a_clear_error():
    with pytest.raises(DataError, match="too few"):
        cv_folds(np.linspace(-2, -1, 7), k_folds=5, repeats=1, n_bins=10, seed=0)
    with pytest.raises(DataError):
        holdout_split(np.arange(1), np.array([-1.5]), SplitConfig(), seed=0)
    with pytest.raises(DataError, match="has a label"):
        holdout_split(np.arange(3), np.full(3, np.nan), SplitConfig(), seed=0)
