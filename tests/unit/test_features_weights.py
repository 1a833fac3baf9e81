"""split_weights, the one weighting: rare [Fe/H] weigh more, each set sums to its size, the KDE is
fitted on one set only, and a star beyond the fitted labels is bounded (pure: labels in, weights out)."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.errors import DataError
from rrlfeh.features.weights import split_weights


def test_tails_weigh_more_and_weights_sum_to_n():
    y = np.random.default_rng(0).normal(-1.5, 0.45, 2000)
    w, none = split_weights(y, [], 1.0)
    assert none.shape == (0,) and w.dtype == np.float32
    assert w.sum() == pytest.approx(len(y), rel=1e-5)
    order = np.argsort(y)
    centre = order[len(y) // 2 - 50 : len(y) // 2 + 50]
    tails = np.r_[order[:50], order[-50:]]
    assert w[tails].min() > 3 * w[centre].max()
    # monotone in the density: the stronger alpha, the more the tails weigh
    assert split_weights(y, [], 2.0)[0][tails].mean() > w[tails].mean()


def test_fit_on_one_set_evaluated_on_the_other():
    rng = np.random.default_rng(11)
    y = np.clip(rng.normal(-1.55, 0.45, 580), -2.8, 0.2)
    tr, va = y[:400], y[400:]
    w_tr, w_va = split_weights(tr, va, alpha=1.0)
    assert w_tr.shape == tr.shape and w_va.shape == va.shape
    assert w_tr.sum() == pytest.approx(len(tr), rel=1e-5) and w_va.sum() == pytest.approx(len(va), rel=1e-5)
    # changing an evaluated label changes only that star's weight relative to the others: the KDE
    # itself was not fitted on it
    va2 = va.copy()
    va2[0] = -2.7
    ratio = (split_weights(tr, va2, alpha=1.0)[1] / w_va)[1:]
    assert np.allclose(ratio, ratio[0])
    # nor do the evaluated labels change the fitted set's weights
    assert np.array_equal(split_weights(tr, va2, alpha=1.0)[0], w_tr)
    assert w_tr[np.argmin(tr)] > np.median(w_tr)  # rare metallicities weigh more


def test_star_beyond_the_fitted_labels_weighs_as_the_rarest_fitted_star():
    rng = np.random.default_rng(2)
    tr = np.clip(rng.normal(-1.55, 0.45, 700), -2.8, -0.4)
    va = np.r_[rng.normal(-1.55, 0.45, 185), 0.2]  # one star far beyond the training labels
    w_tr, w_va = split_weights(tr, va, alpha=1.0)
    assert w_va.sum() == pytest.approx(len(va), rel=1e-5)
    assert w_va[-1] / w_va.sum() < 0.2  # unclipped: ~1.0 of the fold's weight on this one star
    _, w_edge = split_weights(tr, np.r_[va[:-1], tr[np.argmax(w_tr)]], alpha=1.0)
    assert w_va[-1] == pytest.approx(w_edge[-1], rel=1e-4)


def test_max_weight_caps_every_set():
    rng = np.random.default_rng(3)
    tr, va = rng.normal(-1.5, 0.3, 300), np.r_[rng.normal(-1.5, 0.3, 50), -2.6]
    for w in split_weights(tr, va, 1.0, max_weight=2.0):
        assert w.max() <= 2.0 * (1 + 1e-6) and w.sum() == pytest.approx(len(w), rel=1e-5)


def test_degenerate_inputs():
    assert np.array_equal(split_weights([1.0, 2.0, 3.0], [4.0], 0.0)[1], np.ones(1))
    assert np.array_equal(split_weights([-1.0, -1.0], [], 1.0)[0], np.ones(2))
    assert [w.shape for w in split_weights([], [], 1.0)] == [(0,), (0,)]
    far = split_weights(np.linspace(-2, -1, 50), [-1.5, 3.0], 1.0)[1]  # density underflows far out
    assert np.isfinite(far).all() and far[1] >= far[0]
    with pytest.raises(DataError, match="y_fit has 1 non-finite"):
        split_weights([1.0, np.nan, 2.0], [], 1.0)
    with pytest.raises(ValueError, match="alpha"):
        split_weights([1.0, 2.0], [], -1.0)
