"""Store location (also from a `dvc exp run --temp` workspace), quiet environment, provenance tags."""

from __future__ import annotations

import os

import pytest

from rrlfeh import runtime, tracking


def test_project_root_from_dvc_temp_workspace(tmp_path):
    repo = tmp_path / "repo"
    exp = repo / ".dvc" / "tmp" / "exps" / "tmpabc"
    exp.mkdir(parents=True)
    (exp / "dvc.yaml").write_text("stages: {}\n")
    assert runtime.project_root(exp) == repo


def test_tracking_uri_is_absolute_sqlite(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///other.db")
    assert tracking.tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/other.db"


def test_configure_environment_keeps_user_choices(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    runtime.configure_environment()
    assert os.environ["KERAS_BACKEND"] == "jax"
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"


def test_md5_of_file_and_folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x")
    before = tracking.md5_of(tmp_path / "d")
    (tmp_path / "d" / "a.txt").write_text("y")
    assert tracking.md5_of(tmp_path / "d") != before
    assert len(tracking.md5_of(tmp_path / "d" / "a.txt")) == 32


def test_stage_run_tags_provenance(mlflow_store, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    data = tmp_path / "hparams.json"
    data.write_text("{}")
    with tracking.stage_run("unit", "stage", params={"train": {"k_folds": 5}}, inputs={"hparams": data}) as run:
        pass
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["train.k_folds"] == "5"
    assert got.data.tags["dvc_exp_name"] == "exp-test"
    assert not [k for k in got.data.tags if k.startswith("input_md5.")]  # datasets now (test_lineage)
    [logged] = got.inputs.dataset_inputs
    assert logged.dataset.digest == tracking.md5_of(data)  # a file: DVC's md5 is the file's md5
    assert "git_commit" in got.data.tags


def test_training_backend_comes_from_params_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    runtime.configure_environment(keras_backend=None)  # the CLI: the stage decides
    assert "KERAS_BACKEND" not in os.environ
    assert runtime.use_keras_backend("jax") == "jax" == os.environ["KERAS_BACKEND"]
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # the user's choice wins over params
    assert runtime.use_keras_backend("jax") == "tensorflow"
    with pytest.raises(ValueError, match="backend"):
        runtime.use_keras_backend("torch")


def test_experiments_open_on_their_runs_in_the_ui(mlflow_store):
    """MLflow 3's UI reads `mlflow.experimentKind`: untagged experiments land on the GenAI traces
    view, `custom_model_development` ones on the runs table."""
    import mlflow

    from rrlfeh.model.train import EXPERIMENT as TRAIN
    from rrlfeh.model.tune import EXPERIMENT as TUNE
    from rrlfeh.serving.registry import EXPERIMENT as REGISTER

    old = mlflow.create_experiment(TUNE)  # a store from before the tag: tagged when next used
    assert "mlflow.experimentKind" not in mlflow.get_experiment(old).tags
    for name in (TUNE, TRAIN, REGISTER):
        with tracking.stage_run(name, "stage", params={}):
            pass
        tags = mlflow.get_experiment_by_name(name).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development", name
        assert tags["mlflow.note.content"] == tracking.EXPERIMENT_NOTES[name]
    assert mlflow.get_experiment_by_name(TUNE).experiment_id == old


def test_a_second_store_in_one_process_gets_its_own_registry(tmp_path, monkeypatch):
    """mlflow.set_registry_uri exports MLFLOW_REGISTRY_URI; the next store must not inherit it
    (CI once registered a tiny pipeline's model into another test's registry)."""
    import mlflow

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    for name in ("one", "two"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / name}.db")
        uri = tracking.use_store()
        assert mlflow.get_registry_uri() == uri and uri.endswith(f"{name}.db")
    # a registry the user chose stays where it is
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'theirs.db'}")
    for _ in range(2):
        tracking.use_store()
        assert mlflow.get_registry_uri().endswith("theirs.db")


def test_a_tracking_server_keeps_the_artifacts(tmp_path, monkeypatch):
    """Against `mlflow server` the experiments take the server's (proxied) artifact store: a local
    file:// location would leave the models on the machine that logged them."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.delenv("MLFLOW_ARTIFACT_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.artifact_root(tmp_path) == (tmp_path / "mlartifacts").resolve().as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5050")
    assert tracking.artifact_root(tmp_path) is None
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", "s3://bucket/rrlfeh")  # the user's choice still wins
    assert tracking.artifact_root(tmp_path) == "s3://bucket/rrlfeh"
