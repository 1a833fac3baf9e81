"""The promotion gate and the train stage weigh the test stars alike (features.weights.split_weights),
so the gap between their test wRMSEs that register reports comes from the predictions alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.model import report
from rrlfeh.model.splits import Holdout
from rrlfeh.serving import gate

from tests.support.model_fixture import simulate


def _workspace(tmp_path):
    """data/clean of 40 RRab (+ RRc) stars, and an npz of the RRab with their float32 labels; every
    fifth RRab is a test star, the last of them at [Fe/H] 0.8, beyond every development label."""
    tables = simulate(40, seed=5)
    vari = tables["vari_rrlyrae"]
    sid = np.sort(vari.loc[vari["best_classification"] == "RRab", "source_id"].to_numpy(np.int64))
    labels = tables["labels"].set_index("source_id")
    test = np.arange(0, sid.size, 5)
    labels.loc[sid[test[-1]], "feh"] = 0.8  # development labels are <= 0.2
    tables["labels"] = labels.reset_index()
    clean, processed = tmp_path / "clean", tmp_path / "processed"
    for name, df in tables.items():
        schema.write_table(df, clean / f"{name}.parquet", name)
    y = labels.loc[sid, "feh"].to_numpy().astype(np.float32)  # as preprocess writes the npz
    processed.mkdir()
    np.savez(processed / "rrab.npz", source_id=sid, y=y)
    return sid, y, test, clean, processed


def test_gate_and_train_stage_compute_identical_test_weights(tmp_path):
    sid, y, test, clean, processed = _workspace(tmp_path)
    params = SimpleNamespace(preprocess=SimpleNamespace(kde_alpha=1.0, kde_max_weight=5.0))

    # the train stage: its test metrics' weights (the fold ensemble's predictions do not matter)
    holdout = Holdout(dev=np.setdiff1d(np.arange(sid.size), test), test=test, unlabelled=np.empty(0, int))
    folds = [SimpleNamespace(pred_test=np.zeros(test.size))]
    _, w_train = report.ensemble_test(params, SimpleNamespace(y=y), holdout, folds)
    # the gate, on the test ids the train stage's manifest lists
    manifests = {"rrab": {"test_source_ids": sid[test].tolist()}}
    w_gate = gate.build_scoring_sets(manifests, processed, clean, 1.0, 5.0)["rrab"].w

    assert w_gate[-1] > 1  # rare: more than the mean, bounded by the rarest development star
    np.testing.assert_array_equal(w_gate, np.asarray(w_train, np.float64))


def test_a_test_star_missing_from_the_npz_is_a_clear_error(tmp_path):
    sid, y, test, clean, processed = _workspace(tmp_path)
    keep = sid != sid[test[0]]
    np.savez(processed / "rrab.npz", source_id=sid[keep], y=y[keep])
    with pytest.raises(DataError, match=rf"absent or unlabelled, e\.g\. source_id \[{sid[test[0]]}\]"):
        gate.test_weights(processed / "rrab.npz", sid[test], 1.0, 5.0)
