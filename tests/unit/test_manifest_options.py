"""The served model's curve options come from its manifest as they are (serving/pyfunc.py)."""

from __future__ import annotations

import pytest

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.errors import DataError
from rrlfeh.serving.pyfunc import preprocess_kwargs

STORED = {k: v for k, v in PreprocessConfig().curve_options("rrab").items() if k != "n_points"}


def test_a_manifest_from_before_epoch_weights_is_read_as_trained():
    older = {k: v for k, v in STORED.items() if k != "epoch_weights"}
    assert preprocess_kwargs(older, 64, 20)["epoch_weights"] == "none"  # how every such model was fitted
    assert preprocess_kwargs({**STORED, "epoch_weights": "errors"}, 64, 20)["epoch_weights"] == "errors"


@pytest.mark.parametrize("change, words", [
    ({"drop": "smoothing"}, "missing ['smoothing']"),
    ({"add": ("smoothing_lam", 1.0)}, "unknown ['smoothing_lam']"),
])
def test_other_missing_or_unknown_keys_are_one_line(change, words):
    cfg = dict(STORED)
    if "drop" in change:
        del cfg[change["drop"]]
    else:
        cfg[change["add"][0]] = change["add"][1]
    with pytest.raises(DataError, match=words.replace("[", r"\[").replace("]", r"\]")):
        preprocess_kwargs(cfg, 64, 20)
