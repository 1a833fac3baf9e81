"""The tensor check stops bad tensors (NaN, wrong shape, duplicates) before they are written."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.errors import ValidationFailed
from rrlfeh.features.checks import check_tensors

N = 16


def arrays(n=4):
    rng = np.random.default_rng(0)
    mag = rng.normal(size=(n, N))
    mag = (mag - mag.mean(1, keepdims=True)) / mag.std(1, keepdims=True)
    period = rng.uniform(0.4, 0.8, n)
    X = np.stack([np.arange(N)[None, :] / N * period[:, None], mag], axis=-1).astype(np.float32)
    return {
        "X": X, "y": np.array([-1.5, -1.0, np.nan, -2.0][:n], dtype=np.float32),
        "w": np.array([1.1, 0.8, 1.0, 1.1][:n], dtype=np.float32),
        "source_id": np.arange(n, dtype=np.int64) + 100, "n_epochs": np.full(n, 50, np.int32),
        "period": period, "amplitude": np.full(n, 0.5),
        "feh_error": np.full(n, 0.3, np.float32),
    }


def test_good_tensors_pass():
    check_tensors(arrays(), N)
    check_tensors(arrays(0), N)


def test_nan_is_caught_with_the_source_id():
    a = arrays()
    a["X"][2, 5, 1] = np.nan
    with pytest.raises(ValidationFailed, match=r"X not finite for 1 star.*\[102\]"):
        check_tensors(a, N)


def test_wrong_shape_or_dtype_is_caught():
    with pytest.raises(ValidationFailed, match="expected float32"):
        check_tensors(arrays(), N + 1)
    a = arrays()
    a["X"] = a["X"].astype(np.float64)
    with pytest.raises(ValidationFailed, match="tensor shape"):
        check_tensors(a, N)
    a = arrays()
    a["w"] = a["w"][:3]
    with pytest.raises(ValidationFailed, match="w is"):
        check_tensors(a, N)


def test_duplicates_and_unstandardized_curves_are_caught():
    a = arrays()
    a["source_id"][3] = 100
    with pytest.raises(ValidationFailed, match=r"duplicated source_id, e.g. \[100\]"):
        check_tensors(a, N)
    a = arrays()
    a["X"][1, :, 1] *= 2
    with pytest.raises(ValidationFailed, match="not standardized.*101"):
        check_tensors(a, N)
    a = arrays()
    a["y"][2] = np.nan
    a["w"][2] = 1.3  # an unlabelled star cannot carry a KDE weight
    with pytest.raises(ValidationFailed, match="NaN with a weight"):
        check_tensors(a, N)
