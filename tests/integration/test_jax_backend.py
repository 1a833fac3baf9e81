"""The tune and train stages under KERAS_BACKEND=jax (how a GPU host without TensorFlow runs them).

Real `rrlfeh tune` and `rrlfeh train` processes with the JAX backend on tiny tensors; the fold models
they save must load and predict identically under TensorFlow, which the served model uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from tests.support.tiny_tensors import TINY, make_tensors, write_params

pytestmark = pytest.mark.integration  # the stages run as `rrlfeh` processes


def _stage(args: list[str], cwd: Path, env: dict) -> None:
    res = subprocess.run([sys.executable, "-m", "rrlfeh.cli", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def test_tune_and_train_run_on_jax_and_models_load_under_tensorflow(mlflow_store, tmp_path):
    import keras

    data = tmp_path / "rrab.npz"
    truth = make_tensors(data, n=72, seed=3)
    schema.write_table(truth, tmp_path / "truth.parquet", "truth")
    tiny = {**TINY, "tune": {**TINY["tune"], "max_epochs": 1, "units": [8], "reg_type": ["l2"]},
            "train": {**TINY["train"], "epochs": 4, "warmup_epochs": 1, "n_jobs": 1}}  # folds in-process
    params = write_params(tmp_path / "params.yaml", **tiny)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")}
    env["KERAS_BACKEND"] = "jax"
    common = ["--data", str(data), "--params", str(params)]
    _stage(["tune", "rrab", *common, "--out", str(tmp_path / "tune")], tmp_path, env)
    _stage(["train", "rrab", *common, "--hparams", str(tmp_path / "tune" / "best_hparams.json"),
            "--out", str(tmp_path / "models"), "--metrics", str(tmp_path / "train.json"),
            "--plots", str(tmp_path / "plots"), "--truth", str(tmp_path / "truth.parquet")], tmp_path, env)

    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert manifest["keras_backend"] == "jax"
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert all(np.isfinite(metrics["test"][m]) for m in ("r2", "wrmse", "wmae", "rmse", "mae"))

    # the test stars' ensemble mean written by the JAX process == the saved models run under TensorFlow
    assert keras.backend.backend() == "tensorflow"
    with np.load(data) as z:
        X, sid = z["X"], z["source_id"]
    test = pd.read_csv(tmp_path / "plots" / "predictions_test.csv")
    idx = np.searchsorted(sid, test["source_id"].to_numpy())
    assert len(test) == len(manifest["test_source_ids"]) and (sid[idx] == test["source_id"]).all()
    preds = [keras.saving.load_model(tmp_path / "models" / f["file"]).predict(X[idx], verbose=0).ravel()
             for f in manifest["folds"]]
    np.testing.assert_allclose(np.mean(preds, axis=0), test["feh_pred"].to_numpy(), atol=1e-4)
