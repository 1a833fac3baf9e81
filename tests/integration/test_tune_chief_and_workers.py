"""`tune.workers`: keras-tuner's chief with 2 local worker processes (gRPC) on a tiny dataset.

Every trial a worker trains is a nested MLflow run of the one search run the chief opened, and the
search folder is one that a later run, with any number of workers, resumes.
"""

from __future__ import annotations

import json
import os

import mlflow
import pytest

from rrlfeh.config import load_params
from rrlfeh.config.stages import restrict
from tests.support.tiny_tensors import TINY, make_tensors, write_params

pytestmark = [pytest.mark.integration, pytest.mark.tune_workers]


def test_a_chief_and_two_workers_log_every_trial_under_one_parent(mlflow_store, tmp_path):
    from rrlfeh.model.tune import run_tune

    data = tmp_path / "rrab.npz"
    make_tensors(data)
    params = load_params(write_params(tmp_path / "params.yaml", **{**TINY, "tune": {**TINY["tune"], "workers": 2}}))

    best = run_tune(restrict(params, "tune"), "rrab", data, tmp_path / "tune")

    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("rrlfeh-tune")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_id == best["mlflow_run_id"]
    assert parents[0].info.status == "FINISHED" and parents[0].data.tags["tune_workers"] == "2"
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == best["mlflow_run_id"]]
    assert len(trials) == len(runs) - 1 == best["n_trials"] == 5  # every trial, nested, none elsewhere
    assert all(t.info.status == "FINISHED" and t.data.tags["trial_status"] == "COMPLETED" for t in trials)
    assert {t.data.tags["tuner_id"] for t in trials} <= {"worker0", "worker1"}  # the chief trains none
    assert sorted(t.data.tags["trial_id"] for t in trials) == [f"{i:04d}" for i in range(5)]
    for t in trials:
        epochs = int(t.data.params["tuner/epochs"]) - int(t.data.params["tuner/initial_epoch"])
        assert len(client.get_metric_history(t.info.run_id, "val_wmse")) == epochs
    search = tmp_path / "tune" / "search"
    assert {"oracle.json", "chief.json", "rrlfeh_search.json"} <= {p.name for p in search.iterdir()}
    assert json.loads((search / "rrlfeh_search.json").read_text())["mlflow_run_id"] == best["mlflow_run_id"]
    assert not {"KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP"} & set(os.environ)  # the chief's variables restored

    # the finished search resumes in one process, in the same parent run, without new trials
    again = run_tune(restrict(load_params(write_params(tmp_path / "one.yaml", **TINY)), "tune"), "rrab", data,
                     tmp_path / "tune")
    assert again["mlflow_run_id"] == best["mlflow_run_id"] and again["n_trials"] == 5
    assert again["score"] == best["score"] and again["hparams"] == best["hparams"]
    assert len(client.search_runs([exp.experiment_id], max_results=100)) == 6
