"""A stage run's inputs as MLflow datasets with DVC's own hashes; system metrics; metrics linked to
a logged model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from rrlfeh import lineage, tracking

DVC = str(Path(sys.executable).with_name("dvc"))


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "SystemMetricsMonitor" and t.is_alive()]


@pytest.fixture()
def dvc_repo(tmp_path):
    """A DVC repository (no git) with an array file and a folder in it, one file of it .dvcignored."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([DVC, "init", "-q", "--no-scm"], cwd=tmp_path, env=env, check=True)
    np.savez(tmp_path / "rrab.npz", X=np.zeros((3, 4, 2)), y=np.array([-1.5, -1.0, -2.0]),
             source_id=np.arange(3))
    folder = tmp_path / "models" / "rrab"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text('{"a": 1}\n')
    (folder / "sub" / "b.bin").write_bytes(bytes(range(200)))
    (folder / "scratch.tmp").write_text("not DVC's")
    (tmp_path / ".dvcignore").write_text("*.tmp\n")
    return tmp_path


def _dvc_add(repo: Path, target: str) -> str:
    subprocess.run([DVC, "add", "-q", target], cwd=repo, check=True,
                   env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    return yaml.safe_load((repo / f"{target}.dvc").read_text())["outs"][0]["md5"]


@pytest.mark.integration  # runs `dvc init` / `dvc add`
def test_dvc_md5_is_what_dvc_records(dvc_repo):
    folder, npz = dvc_repo / "models" / "rrab", dvc_repo / "rrab.npz"
    mine = lineage.dvc_md5(folder, dvc_repo), lineage.dvc_md5(npz, dvc_repo)
    assert mine == (_dvc_add(dvc_repo, "models/rrab"), _dvc_add(dvc_repo, "rrab.npz"))
    assert mine[0].endswith(".dir") and len(mine[0]) == 36  # fits MLflow's dataset digest column
    assert mine[0].removesuffix(".dir") != tracking.md5_of(folder)  # why the old tags were wrong
    with pytest.raises(FileNotFoundError, match="no such input"):
        lineage.dvc_md5(dvc_repo / "missing", dvc_repo)


@pytest.mark.integration  # its dvc_repo fixture runs `dvc init`
def test_stage_run_logs_inputs_as_datasets(mlflow_store, dvc_repo, monkeypatch):
    import mlflow

    monkeypatch.chdir(dvc_repo)
    inputs = {"data": dvc_repo / "rrab.npz", "models_rrab": dvc_repo / "models" / "rrab",
              "absent": dvc_repo / "nothing.json"}
    with tracking.stage_run("unit", "stage", inputs=inputs) as run:
        pass
    logged = {d.dataset.name: d for d in mlflow.get_run(run.info.run_id).inputs.dataset_inputs}
    assert set(logged) == {"rrab.npz", "models/rrab"}
    arrays, models = logged["rrab.npz"], logged["models/rrab"]
    assert arrays.dataset.digest == lineage.dvc_md5(inputs["data"], dvc_repo)
    assert models.dataset.digest == lineage.dvc_md5(inputs["models_rrab"], dvc_repo)
    assert {t.key: t.value for t in arrays.tags}["mlflow.data.context"] == "training"
    assert {t.key: t.value for t in models.tags}["mlflow.data.context"] == "models_rrab"
    assert arrays.dataset.source_type == "local" and "rrab.npz" in arrays.dataset.source
    assert json.loads(arrays.dataset.profile)["targets_shape"] == [3]  # the arrays, not metadata only


def test_system_metrics_are_sampled_and_stop_with_the_run(mlflow_store, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    with tracking.stage_run("unit", "short", system_metrics=True) as run:
        assert len(_monitor_threads()) == 1
        time.sleep(1.0)
    assert not _monitor_threads()
    keys = mlflow.get_run(run.info.run_id).data.metrics
    assert any(k.startswith("system/cpu_utilization") for k in keys), keys
    with pytest.raises(RuntimeError), tracking.stage_run("unit", "failing", system_metrics=True):
        raise RuntimeError("stage failed")
    assert not _monitor_threads()  # an exception ends the run and its sampling thread too
    with tracking.stage_run("unit", "plain") as run:
        assert not _monitor_threads()


def test_metrics_inside_linked_model_belong_to_it(mlflow_store):
    import mlflow

    with tracking.stage_run("unit", "register") as run:
        mine = mlflow.initialize_logged_model(name="mine").model_id
        other = mlflow.initialize_logged_model(name="other").model_id
        with tracking.linked_model(mine):
            mlflow.log_metric("challenger_wrmse", 0.2)
            mlflow.log_metric("champion_wrmse", 0.3, model_id=other)
        with tracking.linked_model(None):
            mlflow.log_metric("unlinked", 1.0)
    client = mlflow.MlflowClient()
    assert {m.key for m in client.get_logged_model(mine).metrics} == {"challenger_wrmse"}
    assert {m.key for m in client.get_logged_model(other).metrics} == {"champion_wrmse"}
    assert mlflow.get_active_model_id() is None
    assert run.info.run_id


def test_version_model_id_reads_the_source_where_the_store_left_it_empty():
    from types import SimpleNamespace as V

    assert tracking.version_model_id(V(model_id="m-1", source="models:/m-2")) == "m-1"
    assert tracking.version_model_id(V(model_id=None, source="models:/m-2")) == "m-2"
    assert tracking.version_model_id(V(model_id=None, source="runs:/abc/model")) is None
