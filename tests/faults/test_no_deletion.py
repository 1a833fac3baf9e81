"""`train` and `tune` never delete a file they did not write (a user's file is planted first)."""

from __future__ import annotations

import json

import pytest

from rrlfeh.config import load_params
from rrlfeh.errors import DataError

TINY = {
    "preprocess": {"n_points_rrab": 24},  # test_tune_train.N_POINTS
    "split": {"test_fraction": 0.15, "n_bins": 4},
    "train": {"k_folds": 2, "repeats": 1, "epochs": 2, "patience": 0, "warmup_epochs": 1, "n_jobs": 1},
}
HPARAMS = {"units": 8, "dropout": 0.1, "learning_rate": 0.01, "reg_type": "none",
           "reg_strength": 0.0, "batch_size": 16}


def test_train_keeps_user_files_in_plots_and_model_folders(mlflow_store, tmp_path):
    from tests.support.tiny_tensors import make_tensors, write_params

    from rrlfeh.model.train import run_train

    data = tmp_path / "rrab.npz"
    make_tensors(data, n=64)
    params = load_params(write_params(tmp_path / "params.yaml", **TINY))
    hp = tmp_path / "best_hparams.json"
    hp.write_text(json.dumps({"hparams": HPARAMS}))
    plots, models = tmp_path / "my_plots", tmp_path / "models"
    plots.mkdir()
    models.mkdir()
    mine = [plots / "thesis_figure.png", plots / "notes.txt", models / "fold_r9_k9.keras",
            models / "README"]
    for f in mine:
        f.write_text("the user's own file")
    run_train(params, "rrab", data, hp, models, tmp_path / "train.json", plots, None)
    run_train(params, "rrab", data, hp, models, tmp_path / "train.json", plots, None)  # re-run
    for f in mine:
        assert f.read_text() == "the user's own file", f
    assert (plots / "pred_vs_true.png").stat().st_size > 0
    manifest = json.loads((models / "manifest.json").read_text())
    assert sorted(p.name for p in models.glob("fold_r0_*.keras")) == sorted(
        f["file"] for f in manifest["folds"])


def test_tune_refuses_a_search_folder_it_did_not_create(tmp_path):
    from rrlfeh.model.tune import _previous_search

    search = tmp_path / "out" / "search"
    search.mkdir(parents=True)
    (search / "results.csv").write_text("someone else's search")
    with pytest.raises(DataError, match="not a search of `rrlfeh tune`"):
        _previous_search(search, "fingerprint")
    assert (search / "results.csv").read_text() == "someone else's search"


def test_a_stale_search_loses_only_what_tune_wrote(tmp_path):
    from rrlfeh.model.tune import _previous_search

    search = tmp_path / "search"
    (search / "trial_0000").mkdir(parents=True)
    (search / "trial_0000" / "checkpoint.weights.h5").write_text("x")
    (search / "oracle.json").write_text("{}")
    (search / "rrlfeh_search.json").write_text(json.dumps({"fingerprint": "old"}))
    (search / "my_notes.txt").write_text("keep me")
    assert _previous_search(search, "new") is None
    assert sorted(p.name for p in search.iterdir()) == ["my_notes.txt"]
    assert _previous_search(tmp_path / "absent", "new") is None
