"""Stage `register` and the promotion gate in a real SQLite MLflow registry, with the tiny model.

The gate compares end-to-end wRMSE on the held-out test stars; `tiny_workspace.variant(shift)`
moves every prediction by `shift` dex, so larger shifts are strictly worse models.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.serving import registry
from rrlfeh.serving.payload import model_input_from_tables
from tests.support.model_fixture import register_tiny, tiny_params

pytestmark = pytest.mark.integration
NAME = "rrl-feh"
ROOT = Path(__file__).resolve().parents[2]


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def test_first_registration_becomes_champion(mlflow_store, tiny_workspace):
    result = register_tiny(tiny_workspace)
    client = MlflowClient()
    assert result["promoted"] is True and result["version"] == "1"
    assert result["aliases"] == ["challenger", "champion"] and _champion(client) == "1"
    saved = json.loads((tiny_workspace.root / "registered.json").read_text())
    assert saved["decision"] == "promoted" and saved["model_uri"] == "models:/rrl-feh/1"
    for t in ("rrab", "rrc"):
        m = result["challenger_metrics"][t]
        assert m["n_scored"] == m["n_test"] > 0 and 0 < m["wrmse"] < 2
    mv = client.get_model_version(NAME, "1")
    assert mv.tags["gate.decision"] == "promoted" and "no champion" in mv.tags["gate.reason"]
    assert float(mv.tags["gate.wrmse.rrab"]) == pytest.approx(result["challenger_metrics"]["rrab"]["wrmse"])
    assert "promoted" in mv.description
    # the run holds params, provenance and the gate's numbers
    run = mlflow.get_run(result["run_id"])
    assert run.data.params["register.tolerance"] == "0.0" and "git_commit" in run.data.tags
    assert "challenger_wrmse_rrc" in run.data.metrics
    # the model: models-from-code, the package shipped, signature with list columns, metadata
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{NAME}/1"))
    assert (local / "code" / "rrlfeh" / "features" / "tensors.py").exists()
    info = mlflow.models.get_model_info(f"models:/{NAME}/1")
    cols = {c.name: repr(c.type) for c in info.signature.inputs.inputs}
    assert cols["time"] == "Array(double)" and cols["source_id"] == "long"
    meta = info.metadata["types"]["rrab"]
    assert meta["preprocess"]["n_knots"] and meta["data_md5"] == "tiny" and "git_commit" in meta
    # the model's config is params.yaml's predict section, the keys the model itself uses
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())["predict"]
    assert info.metadata["predict"] == {k: raw[k] for k in (
        "min_epochs", "ensemble_size", "batch_size", "warmup", "error_scale", "extra_error",
        "extra_error_out_of_range",
        "time_window", "period_range", "mag_range", "epoch_weights")}
    assert (local / "artifacts" / "rrc" / "fold_r0_k1.keras").exists()
    # the logged model_config (params.predict) can be overridden at load: one fold, no spread
    vari = schema.read_table(tiny_workspace.clean_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")
    ep = schema.read_table(tiny_workspace.clean_dir / "epoch_photometry.parquet", "epoch_photometry")
    rows = model_input_from_tables(vari.iloc[[0, -1]], ep)
    full = mlflow.pyfunc.load_model(f"models:/{NAME}/1", model_config={"warmup": False}).predict(rows)
    one = mlflow.pyfunc.load_model(f"models:/{NAME}/1", model_config={"ensemble_size": 1}).predict(rows)
    assert (full["feh_std"] > 0).all() and (one["feh_std"] == 0).all()
    # predict.epoch_weights: the served fit weighs epochs by their mag_error ("errors"), or not
    noisy = rows.assign(mag_error=[np.where(np.arange(len(t)) % 3 == 0, 0.3, 0.01) for t in rows["time"]])
    answers = {w: mlflow.pyfunc.load_model(f"models:/{NAME}/1", model_config={"warmup": False, "epoch_weights": w})
               for w in ("errors", "none")}
    unweighted = answers["none"].predict(rows)["feh"]
    np.testing.assert_array_equal(answers["none"].predict(noisy)["feh"], unweighted)
    assert not np.allclose(answers["errors"].predict(noisy)["feh"], unweighted)
    np.testing.assert_array_equal(answers["errors"].predict(rows.drop(columns="mag_error"))["feh"], unweighted)
    equal = rows.assign(mag_error=[np.full(len(t), 0.02) for t in rows["time"]])
    np.testing.assert_array_equal(answers["errors"].predict(equal)["feh"], unweighted)
    assert (one["status"] == "ok").all() and not np.allclose(one["feh"], full["feh"])

    # predict.extra_error_out_of_range widens feh_error of the flagged stars only: a star with 4x the
    # amplitude of any training star is flagged
    loud = rows.iloc[[0]].assign(source_id=rows["source_id"].iloc[0] + 1,
                                 mag=[np.mean(rows["mag"].iloc[0]) + 4 * (np.asarray(rows["mag"].iloc[0])
                                                                           - np.mean(rows["mag"].iloc[0]))])
    rows = pd.concat([rows, loud], ignore_index=True)
    base, wide = (mlflow.pyfunc.load_model(f"models:/{NAME}/1", model_config={
        "warmup": False, "error_scale": 1.0, "extra_error": 0.0, "extra_error_out_of_range": x}
    ).predict(rows) for x in (0.0, 0.5))
    flagged = base["out_of_range"].to_numpy(dtype=bool)
    assert flagged.tolist() == [False, False, True], base["out_of_range_reason"].tolist()
    assert np.allclose(base["feh_error"], 0.2)  # the tiny models' own term alone
    assert np.allclose(wide["feh_error"][~flagged], base["feh_error"][~flagged])
    assert np.allclose(wide["feh_error"][flagged], np.hypot(base["feh_error"][flagged], 0.5))
    # predict.error_scale multiplies the own term of every star, then the terms in quadrature
    scaled = mlflow.pyfunc.load_model(f"models:/{NAME}/1", model_config={
        "warmup": False, "error_scale": 3.0, "extra_error": 0.1, "extra_error_out_of_range": 0.5}
    ).predict(rows)
    assert np.allclose(scaled["feh_error"][~flagged], np.hypot(0.6, 0.1))
    assert np.allclose(scaled["feh_error"][flagged], np.hypot(np.hypot(0.6, 0.1), 0.5))
    assert np.allclose(scaled["feh"], base["feh"])  # the estimates are untouched


def test_gate_then_manual_promote_and_rollback(mlflow_store, tiny_workspace):
    ws = tiny_workspace
    client = MlflowClient()
    cfg = tiny_params().register
    first = register_tiny(ws, ws.variant(0.5))  # a mediocre champion
    v1 = first["version"]
    worse = register_tiny(ws, ws.variant(1.2))
    v2 = worse["version"]
    assert worse["promoted"] is False and worse["decision"] == "kept_challenger"
    assert _champion(client) == v1
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == v2
    assert "worse for rrab, rrc" in worse["reason"]
    # same test data as the champion's: its recorded score is reused, not recomputed
    assert worse["champion_rescored"] == {"rrab": False, "rrc": False}
    for t in ("rrab", "rrc"):
        assert worse["challenger_metrics"][t]["wrmse"] > worse["champion_metrics"][t]["wrmse"]

    better = register_tiny(ws)
    v3 = better["version"]
    assert better["promoted"] is True and _champion(client) == v3
    assert better["previous_champion"] == v1
    assert client.get_model_version(NAME, v3).tags["previous_champion"] == v1
    for t in ("rrab", "rrc"):
        assert better["challenger_metrics"][t]["wrmse"] < first["challenger_metrics"][t]["wrmse"]

    # a person overrides the gate, then changes their mind
    res = registry.promote(cfg, v2, "hand-checked on the spectroscopic sample")
    assert res["changed"] and _champion(client) == v2
    tags = client.get_model_version(NAME, v2).tags
    assert tags["promotion.reason"] == "hand-checked on the spectroscopic sample"
    assert tags["previous_champion"] == v3
    assert "manual promotion" in client.get_model_version(NAME, v3).tags["demoted.reason"]
    back = registry.rollback(cfg, "v2 fails on faint stars")
    assert back == {"model_name": NAME, "champion": v3, "rolled_back_from": v2,
                    "reason": "v2 fails on faint stars"}
    assert _champion(client) == v3
    assert client.get_model_version(NAME, v3).tags["rollback.reason"] == "v2 fails on faint stars"
    assert client.get_model_version(NAME, v2).tags["rolled_back.reason"] == "v2 fails on faint stars"
    assert registry.rollback(cfg, "back to the first")["champion"] == v1
    assert json.loads(client.get_registered_model(NAME).tags["champion_history"]) == [v1]
    with pytest.raises(registry.RegistryError, match="no earlier champion"):
        registry.rollback(cfg, "again")
    with pytest.raises(registry.RegistryError, match="no version '99'"):
        registry.promote(cfg, "99", "typo")
    # registry aliases only, never the deprecated stages
    assert {mv.current_stage for mv in client.search_model_versions(f"name='{NAME}'")} <= {"None", None}


def test_champion_rescored_on_the_challengers_test_data(mlflow_store, tiny_workspace, tmp_path):
    ws = tiny_workspace
    register_tiny(ws)
    # a slightly worse challenger with a smaller test split: the champion is scored on its stars
    models = tmp_path / "models"
    shutil.copytree(ws.variant(0.3), models)
    for t in ("rrab", "rrc"):
        path = models / t / "manifest.json"
        man = json.loads(path.read_text())
        man["test_source_ids"] = man["test_source_ids"][::2]
        path.write_text(json.dumps(man))
    result = register_tiny(ws, models)
    assert result["champion_rescored"] == {"rrab": True, "rrc": True}
    for t in ("rrab", "rrc"):
        n = len(json.loads((models / t / "manifest.json").read_text())["test_source_ids"])
        assert result["champion_metrics"][t]["n_test"] == result["challenger_metrics"][t]["n_test"] == n
    assert result["promoted"] is False

    # the same challenger passes with a generous tolerance
    params = tiny_params()
    params = dataclasses.replace(params, register=dataclasses.replace(params.register, tolerance=5.0))
    again = registry.run_register(params, models, ws.processed_dir, ws.clean_dir, tmp_path / "r.json")
    assert again["promoted"] is True and "tolerance 5" in again["reason"]


def test_cli_errors_are_one_line(mlflow_store):
    mlflow.search_experiments()  # the store exists (rollback never creates one: tests/faults)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    rrlfeh = Path(sys.executable).parent / "rrlfeh"
    params = Path(__file__).resolve().parents[2] / "params.yaml"
    proc = subprocess.run([str(rrlfeh), "rollback", "--reason", "x", "--params", str(params)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "rrlfeh: error: rrl-feh has no champion to roll back"
    assert "Traceback" not in proc.stderr


def test_missing_models_or_mismatched_data_are_clear_errors(mlflow_store, tiny_workspace, tmp_path):
    ws = tiny_workspace
    with pytest.raises(DataError, match="no trained model"):
        registry.run_register(tiny_params(), tmp_path, ws.processed_dir, ws.clean_dir, tmp_path / "r.json")
    models = tmp_path / "models"
    shutil.copytree(ws.models_dir, models)
    man = json.loads((models / "rrab" / "manifest.json").read_text())
    man["test_source_ids"] = man["test_source_ids"] + [123]
    (models / "rrab" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match=r"missing from .*e\.g\. source_id \[123\]"):
        registry.run_register(tiny_params(), models, ws.processed_dir, ws.clean_dir, tmp_path / "r.json")
    (models / "rrc" / "fold_r0_k1.keras").unlink()
    with pytest.raises(DataError, match="fold model file"):
        registry.run_register(tiny_params(), models, ws.processed_dir, ws.clean_dir, tmp_path / "r.json")
