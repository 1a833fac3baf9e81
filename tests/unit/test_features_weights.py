"""kde_weights: rare [Fe/H] weigh more, weights sum to N, pure (labels in, weights out)."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.errors import DataError
from rrlfeh.features.weights import kde_weights


def test_tails_weigh_more_and_weights_sum_to_n():
    y = np.random.default_rng(0).normal(-1.5, 0.45, 2000)
    w = kde_weights(y, 1.0)
    assert w.sum() == pytest.approx(len(y))
    order = np.argsort(y)
    centre = order[len(y) // 2 - 50 : len(y) // 2 + 50]
    tails = np.r_[order[:50], order[-50:]]
    assert w[tails].min() > 3 * w[centre].max()
    # monotone in the density: the stronger alpha, the more the tails weigh
    assert kde_weights(y, 2.0)[tails].mean() > w[tails].mean()


def test_evaluated_on_other_labels_without_them_shaping_the_kde():
    rng = np.random.default_rng(1)
    y_fit, y_eval = rng.normal(-1.5, 0.4, 500), rng.normal(-1.5, 0.4, 100)
    w = kde_weights(y_fit, 1.0, y_eval)
    assert len(w) == 100 and w.sum() == pytest.approx(100)
    # a validation star's weight depends on the training labels only, not on its fellows
    w_alone = kde_weights(y_fit, 1.0, y_eval[:10])
    assert np.allclose(w[:10] / w[0], w_alone / w_alone[0])


def test_degenerate_inputs():
    assert np.array_equal(kde_weights([1.0, 2.0, 3.0], 0.0), np.ones(3))
    assert np.array_equal(kde_weights([-1.0, -1.0], 1.0), np.ones(2))
    assert kde_weights([-1.0, -2.0], 1.0, []).shape == (0,)
    far = kde_weights(np.linspace(-2, -1, 50), 1.0, [-1.5, 3.0])  # density underflows far out
    assert np.isfinite(far).all() and far[1] > far[0]
    with pytest.raises(DataError, match="y_fit has 1 non-finite"):
        kde_weights([1.0, np.nan, 2.0], 1.0)
    with pytest.raises(ValueError, match="alpha"):
        kde_weights([1.0, 2.0], -1.0)
