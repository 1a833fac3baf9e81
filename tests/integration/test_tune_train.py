"""tune@type and train@type end to end on a tiny dataset, in a real MLflow store.

Small synthetic tensors in the contract's layout (a light-curve shape that encodes [Fe/H]), a
budget of a few epochs, and the real stages: Hyperband with a nested run per trial, an interrupted
search resumed without redoing finished trials, the CV with a nested run per fold, the files the
next stages read, and one `mlflow run` of the project's MLproject.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from rrlfeh import lineage, tracking
from rrlfeh.config import load_params
from rrlfeh.config.stages import restrict
from rrlfeh.core import schema
from rrlfeh.model.report import PLOT_FILES
from tests.support.tiny_tensors import N_POINTS, TINY, make_tensors, write_params

ROOT = Path(__file__).resolve().parents[2]
TRIAL_PARAMS = ("hp.units", "hp.dropout", "hp.learning_rate", "hp.batch_size", "hp.reg_type",
                "hp.reg_strength", "tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
METRICS = ("r2", "wrmse", "wmae", "rmse", "mae")


def _runs(experiment: str) -> pd.DataFrame:
    exp = mlflow.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment}"
    return mlflow.search_runs([exp.experiment_id], output_format="pandas")


def _datasets(run_id: str) -> dict[str, str]:
    """The run's logged input datasets: name (the path) -> digest (DVC's md5 of it)."""
    run = mlflow.MlflowClient().get_run(run_id)
    return {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}


def _children(runs: pd.DataFrame, parent_id: str) -> pd.DataFrame:
    return runs[runs["tags.mlflow.parentRunId"] == parent_id]


def test_tune_then_train_track_everything(mlflow_store, tmp_path, monkeypatch):
    from rrlfeh.model.train import run_train
    from rrlfeh.model.tune import run_tune

    monkeypatch.setenv("DVC_EXP_NAME", "exp-tiny")
    data = tmp_path / "rrab.npz"
    truth = make_tensors(data)
    schema.write_table(truth, tmp_path / "truth.parquet", "truth")
    params = load_params(write_params(tmp_path / "params.yaml", **TINY))

    # as the CLI runs them: each stage may read only the params keys it declares (config.stages)
    best = run_tune(restrict(params, "tune"), "rrab", data, tmp_path / "tune")
    on_disk = json.loads((tmp_path / "tune" / "best_hparams.json").read_text())
    assert on_disk == best and on_disk["hparams"]["batch_size"] == 16
    assert best["counts"]["n_unlabelled"] == 4 and best["counts"]["n_test"] == 14

    runs = _runs("rrlfeh-tune")
    parent = runs[runs["tags.mlflow.parentRunId"].isna()].iloc[0]
    assert parent["status"] == "FINISHED"
    assert parent["tags.dvc_exp_name"] == "exp-tiny" and parent["tags.git_commit"]
    assert _datasets(parent["run_id"]) == {lineage.source_path(data): tracking.md5_of(data)}  # a file: DVC md5
    assert parent["params.tune.max_epochs"] == "2"
    assert parent["params.split.n_bins"] == "4" and parent["params.seed"] == str(params.seed)
    assert parent["tags.best.batch_size"] == str(best["hparams"]["batch_size"])
    trials = _children(runs, parent["run_id"])
    assert len(trials) == best["n_trials"] == 5  # Hyperband(max_epochs=2, factor=2): 2+1 and 2 trials
    assert (trials["tags.trial_status"] == "COMPLETED").all() and (trials["status"] == "FINISHED").all()
    client = mlflow.MlflowClient()
    for _, t in trials.iterrows():
        for p in TRIAL_PARAMS:
            assert f"params.{p}" in t and isinstance(t[f"params.{p}"], str), p
        epochs = int(t["params.tuner/epochs"]) - int(t["params.tuner/initial_epoch"])
        curve = client.get_metric_history(t["run_id"], "val_wmse")
        assert len(curve) == epochs and len(client.get_metric_history(t["run_id"], "loss")) == epochs
        assert np.isfinite(t["metrics.objective"])
    resumed_rounds = trials[trials["params.tuner/trial_id"] != "none"]
    assert len(resumed_rounds) == 1 and (resumed_rounds["params.tuner/round"] == "1").all()

    summary = run_train(restrict(params, "train", "rrab"), "rrab", data, tmp_path / "tune" / "best_hparams.json", tmp_path / "models",
                        tmp_path / "metrics" / "train.json", tmp_path / "plots", tmp_path / "truth.parquet")
    models = tmp_path / "models"
    assert sorted(p.name for p in models.iterdir()) == ["fold_r0_k0.keras", "fold_r0_k1.keras", "manifest.json"]
    manifest = json.loads((models / "manifest.json").read_text())
    for key in ("type", "n_points", "preprocess", "hparams", "folds", "test_source_ids", "training_range",
                "cv_metrics", "test_metrics", "oracle_metrics", "data_md5", "git_commit", "mlflow_run_id",
                "keras_backend"):
        assert key in manifest, key
    assert manifest["n_points"] == N_POINTS
    assert all(manifest["hparams"][k] == v for k, v in best["hparams"].items())
    assert [f["file"] for f in manifest["folds"]] == ["fold_r0_k0.keras", "fold_r0_k1.keras"]
    assert len(manifest["test_source_ids"]) == 14
    assert set(manifest["training_range"]) == {"period", "amplitude", "scatter", "phase_gap", "n_epochs",
                                               "quantile", "shape"}
    unc = manifest["uncertainty"]
    assert unc["floor"] > 0 and 0 < unc["coverage_1sigma"] < 1 and unc["n"] == 96 - 4 - 14
    assert manifest["finetune"] is None
    assert set(manifest["oracle_metrics"]) == {"cv_val", "oof", "test"}

    metrics = json.loads((tmp_path / "metrics" / "train.json").read_text())
    assert metrics["n_stars"] == {"total": 96, "dev": 78, "test": 14, "unlabelled": 4, "folds": 2}
    for split in ("train", "val"):
        assert set(metrics["cv"][split]) == set(METRICS)
    assert set(metrics["test"]) == set(METRICS) and set(metrics["oracle"]["test"]) == set(METRICS)
    assert metrics["oracle"]["test"]["rmse"] < 0.1  # the oracle's 0.05 dex scatter
    # pooled out-of-fold metrics, and the model/oracle ratios on the same stars
    assert set(metrics["oof"]) == set(METRICS) and set(metrics["oracle"]["oof"]) == set(METRICS)
    ratios = metrics["ratio_to_oracle"]
    assert set(ratios) == {"oof_wrmse", "oof_rmse", "test_wrmse", "test_rmse"}
    assert ratios["oof_rmse"] == pytest.approx(metrics["oof"]["rmse"] / metrics["oracle"]["oof"]["rmse"])
    assert "reliability.png" in PLOT_FILES
    for f in PLOT_FILES:
        assert (tmp_path / "plots" / f).stat().st_size > 0, f
    oof = pd.read_csv(tmp_path / "plots" / "predictions_val.csv")
    assert len(oof) == 78 and oof["feh_pred"].notna().all()

    # the loss falls in every fold, well below the (weighted) label variance it starts from
    curves = pd.read_csv(tmp_path / "plots" / "learning_curves.csv")
    for _, c in curves.groupby("fold"):
        assert c["loss"].iloc[-3:].mean() < 0.75 * c["loss"].iloc[0]

    runs = _runs("rrlfeh-train")
    parent = runs[runs["run_id"] == manifest["mlflow_run_id"]].iloc[0]
    assert parent["status"] == "FINISHED" and parent["tags.dvc_exp_name"] == "exp-tiny"
    assert "params.train.n_jobs" not in parent and "params.preprocess.n_points_rrc" not in parent
    assert parent["params.train.k_folds"] == "2" and parent["params.hp.units"] == str(best["hparams"]["units"])
    assert _datasets(parent["run_id"])[lineage.source_path(data)] == manifest["data_md5"]
    for m in METRICS:
        for name in (f"cv_val_{m}_mean", f"cv_val_{m}_std", f"cv_train_{m}_mean", f"test_{m}",
                     f"oracle_cv_val_{m}_mean", f"oracle_test_{m}", f"oof_{m}", f"oracle_oof_{m}"):
            assert np.isfinite(parent[f"metrics.{name}"]), name
    assert parent["metrics.test_wrmse"] == pytest.approx(summary["test"]["wrmse"])
    assert parent["metrics.ratio_to_oracle_oof_wrmse"] == pytest.approx(ratios["oof_wrmse"])
    plots = {a.path for a in client.list_artifacts(parent["run_id"], "plots")}
    assert {f"plots/{f}" for f in PLOT_FILES} <= plots  # the reliability figure in MLflow too
    folds = _children(runs, parent["run_id"])
    assert len(folds) == 2 and (folds["status"] == "FINISHED").all()
    for _, f in folds.iterrows():
        for m in METRICS:
            assert np.isfinite(f[f"metrics.train_{m}"]) and np.isfinite(f[f"metrics.val_{m}"])
            assert np.isfinite(f[f"metrics.oracle_val_{m}"])
        assert len(client.get_metric_history(f["run_id"], "val_loss")) == f["metrics.epochs_run"]
        name = f["tags.mlflow.runName"]
        assert [a.path for a in client.list_artifacts(f["run_id"], "model")] == [f"model/{name}.keras"]


@pytest.mark.integration
def test_interrupted_search_resumes_without_redoing_trials(mlflow_store, tmp_path):
    """Kill a real `rrlfeh tune` after two trials; the rerun finishes the search in the same parent run."""
    from rrlfeh.model.tune import run_tune

    data = tmp_path / "rrab.npz"
    make_tensors(data, seed=1)
    tiny = {**TINY, "tune": {**TINY["tune"], "max_epochs": 3, "factor": 3}}  # 6 trials
    params_path = write_params(tmp_path / "params.yaml", **tiny)
    out = tmp_path / "tune"
    oracle_file = out / "search" / "oracle.json"
    cmd = [sys.executable, "-m", "rrlfeh.cli", "tune", "rrab", "--data", str(data), "--out", str(out),
           "--params", str(params_path)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        state = _read_json(oracle_file)
        if len(state.get("end_order", [])) >= 2 and state.get("ongoing_trials"):
            time.sleep(0.5)  # into the third trial's fit
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"search ended before it could be interrupted: {proc.stderr.read()[-2000:]!r}"
    killed_at = time.time() * 1000
    assert not (out / "best_hparams.json").exists()
    state = _read_json(oracle_file)  # what the killed search left on disk
    done_before, cut_off = state["end_order"], list(state["ongoing_trials"].values())
    assert 2 <= len(done_before) < 6

    best = run_tune(load_params(params_path), "rrab", data, out)
    assert best["n_trials"] == 6 and best["n_completed"] == 6

    runs = _runs("rrlfeh-tune")
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parents) == 1 and parents.iloc[0]["run_id"] == best["mlflow_run_id"]
    assert parents.iloc[0]["status"] == "FINISHED"
    trials = _children(runs, best["mlflow_run_id"])
    finished = trials[trials["status"] == "FINISHED"]
    assert sorted(finished["tags.trial_id"]) == sorted(set(finished["tags.trial_id"]))  # none run twice
    assert len(finished) == 6
    for tid in done_before:  # finished before the kill: logged once, by the first process
        row = finished[finished["tags.trial_id"] == tid]
        assert len(row) == 1 and row.iloc[0]["start_time"].timestamp() * 1000 < killed_at
    for tid in cut_off:  # cut off mid-run: run again after the restart
        row = finished[finished["tags.trial_id"] == tid]
        assert len(row) == 1 and row.iloc[0]["start_time"].timestamp() * 1000 > killed_at
    # the cut-off trial's first run is closed as KILLED, none is left RUNNING
    assert set(trials[trials["status"] == "KILLED"]["tags.trial_id"]) <= set(cut_off)
    assert not (trials["status"] == "RUNNING").any()


def _read_json(path: Path) -> dict:
    """A state file another process may be rewriting: {} until it parses."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


@pytest.mark.integration
def test_mlflow_run_entry_point(mlflow_store, tmp_path):
    """`mlflow run <project> -e tune --env-manager local`: the launcher's run is the search's parent."""
    proj = tmp_path / "proj"
    (proj / "data" / "processed").mkdir(parents=True)
    shutil.copy(ROOT / "MLproject", proj / "MLproject")
    make_tensors(proj / "data" / "processed" / "rrab.npz", n=60)
    write_params(proj / "params.yaml", **{**TINY, "tune": {**TINY["tune"], "max_epochs": 1, "batch_size": [32]}})
    bin_dir = Path(sys.executable).parent
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID; an earlier test's id means nothing here
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    res = subprocess.run(
        [str(bin_dir / "mlflow"), "run", str(proj), "-e", "tune", "--env-manager", "local",
         "-P", "type=rrab", "-P", "params=params.yaml"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    best = json.loads((proj / "models" / "tune" / "rrab" / "best_hparams.json").read_text())
    run = mlflow.get_run(best["mlflow_run_id"])
    assert run.data.tags["mlflow.project.entryPoint"] == "tune"
    assert run.data.tags["star_type"] == "rrab" and run.info.status == "FINISHED"
    assert run.data.params["tune.max_epochs"] == "1"
    trials = mlflow.search_runs([run.info.experiment_id],
                                filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(trials) == best["n_trials"] == 1


# The paper's bar (docs/METHOD.md): validation R² 0.94 RRab, 0.96 RRc.
R2_BAR = {"rrab": 0.94, "rrc": 0.96}
PAPER_SCALE_DEV = 4000  # development stars per type of a paper-scale run (paper: ~5400 RRab, ~5900 RRc)
DEFAULT_RATIO_BAR = 1.5  # the default run's wRMSE / the oracle's, out-of-fold and on the test stars
PAPER_RATIO_BAR = 1.10  # a paper-scale run's out-of-fold RMSE / the oracle's
# The workspaces whose outputs the slow checks read: the default run is this checkout's (`make run`),
# a paper-scale run is a workspace that ran with `extract.simulate.preset=paper` (docs/BENCHMARKS.md).
DEFAULT_RUN = Path(os.environ.get("RRLFEH_DEFAULT_RUN", ROOT))
PAPER_RUN = os.environ.get("RRLFEH_PAPER_RUN")


def _run_outputs(run: Path, star_type: str) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A run's train metrics and, per split (val: out-of-fold, test), its predictions joined to the
    oracle of data/raw/truth.parquet: the numbers the metrics should have been computed from."""
    files = [run / "metrics" / f"train_{star_type}.json", run / "data" / "raw" / "truth.parquet",
             *(run / "plots" / "train" / star_type / f"predictions_{s}.csv" for s in ("val", "test"))]
    missing = [str(f) for f in files if not f.exists()]
    assert not missing, f"{missing} missing: run the pipeline there first (`make run`)"
    oracle = pd.read_parquet(files[1]).drop_duplicates("source_id").set_index("source_id")["feh_oracle"]
    tables = {}
    for split, path in zip(("val", "test"), files[2:]):
        pred = pd.read_csv(path)
        tables[split] = pred.assign(feh_oracle=oracle.reindex(pred["source_id"]).to_numpy())
        assert len(pred) and tables[split]["feh_oracle"].notna().all(), f"{path}: no oracle for its stars"
    return json.loads(files[0].read_text()), tables


def _rms_error(table: pd.DataFrame, column: str, weighted: bool = True) -> float:
    err = table[column] - table["feh_true"]
    return float(np.sqrt(np.average(err**2, weights=table["weight"] if weighted else None)))


def _r2(table: pd.DataFrame, column: str) -> float:
    y = table["feh_true"]
    return float(1 - ((table[column] - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())


@pytest.mark.slow
@pytest.mark.parametrize("star_type", ["rrab", "rrc"])
def test_default_run_is_within_1_5x_of_the_noise_floor(star_type):
    """The default run (`make run`): wRMSE at most 1.5x the oracle's on the same stars and weights,
    pooled out-of-fold (~930 stars) and on the test split, recomputed from the run's predictions
    and the simulator's oracle; metrics/ and models/ must report those same numbers."""
    m, tables = _run_outputs(DEFAULT_RUN, star_type)
    assert m["n_stars"]["dev"] < PAPER_SCALE_DEV, "metrics/ holds a paper-scale run, not the default"
    for split, key in (("val", "oof_wrmse"), ("test", "test_wrmse")):
        ratio = _rms_error(tables[split], "feh_pred") / _rms_error(tables[split], "feh_oracle")
        assert m["ratio_to_oracle"][key] == pytest.approx(ratio, rel=1e-4), (key, "not this run's predictions")
        assert ratio <= DEFAULT_RATIO_BAR, (split, ratio)
    assert m["test"]["wrmse"] == pytest.approx(_rms_error(tables["test"], "feh_pred"), rel=1e-4)
    manifest_path = DEFAULT_RUN / "models" / star_type / "manifest.json"
    if manifest_path.exists():  # a workspace where the pipeline ran: its models are the metrics' run
        assert json.loads(manifest_path.read_text())["test_metrics"] == m["test"]


@pytest.mark.slow
@pytest.mark.parametrize("star_type", ["rrab", "rrc"])
def test_paper_scale_run_reaches_the_oracle(star_type):
    """A paper-scale run (the workspace RRLFEH_PAPER_RUN names): out-of-fold RMSE within 10% of the
    oracle's, and R² at the paper's bar wherever the oracle itself reaches it, from its predictions."""
    assert PAPER_RUN, "set RRLFEH_PAPER_RUN to the workspace of a paper-scale run (docs/BENCHMARKS.md)"
    m, tables = _run_outputs(Path(PAPER_RUN), star_type)
    oof = tables["val"]
    assert len(oof) >= PAPER_SCALE_DEV, f"{PAPER_RUN}: {len(oof)} development stars; the bar needs a paper-scale run"
    model, oracle = _rms_error(oof, "feh_pred", weighted=False), _rms_error(oof, "feh_oracle", weighted=False)
    assert m["ratio_to_oracle"]["oof_rmse"] == pytest.approx(model / oracle, rel=1e-4), "not this run's predictions"
    assert model <= PAPER_RATIO_BAR * oracle, (model, oracle)
    if _r2(oof, "feh_oracle") >= R2_BAR[star_type]:
        assert _r2(oof, "feh_pred") >= R2_BAR[star_type], (_r2(oof, "feh_pred"), _r2(oof, "feh_oracle"))


def test_finetune_starts_from_the_trained_folds_and_records_its_stars(mlflow_store, tmp_path):
    """Fine-tuning: each fold starts from the base model's fold (so a near-zero rate leaves its
    answers), trains finetune.epochs epochs, and the manifest lists the stars it was tuned on."""
    import keras

    from rrlfeh.model.train import run_train

    data = tmp_path / "rrab.npz"
    truth = make_tensors(data)
    schema.write_table(truth, tmp_path / "truth.parquet", "truth")
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"hparams": {"units": 8, "dropout": 0.0, "learning_rate": 0.01, "batch_size": 16,
                                          "reg_type": "none", "reg_strength": 0.0}}))
    train = {**TINY["train"], "n_jobs": 1, "patience": 0, "epochs": 3}
    base_params = load_params(write_params(tmp_path / "base.yaml", **{**TINY, "train": train}))
    run_train(base_params, "rrab", data, hp, tmp_path / "base" / "rrab", tmp_path / "base.json",
              tmp_path / "plots-base", tmp_path / "truth.parquet")
    tuned = load_params(write_params(
        tmp_path / "tuned.yaml", **{**TINY, "train": train},
        finetune={"from_model": str(tmp_path / "base"), "epochs": 1, "learning_rate_scale": 1e-6}))
    other_hp = tmp_path / "other.json"  # ignored: the base model's hyperparameters fix the network
    other_hp.write_text(json.dumps({"hparams": {"units": 12}}))
    summary = run_train(tuned, "rrab", data, other_hp, tmp_path / "tuned" / "rrab", tmp_path / "tuned.json",
                        tmp_path / "plots-tuned", tmp_path / "truth.parquet")
    manifest = json.loads((tmp_path / "tuned" / "rrab" / "manifest.json").read_text())
    base_manifest = json.loads((tmp_path / "base" / "rrab" / "manifest.json").read_text())
    assert manifest["hparams"]["units"] == 8
    # what the network learned is the base's stars: the out-of-range test keeps the base's range
    assert manifest["training_range"] == base_manifest["training_range"]
    ft = manifest["finetune"]
    assert ft["from_model"] == str(tmp_path / "base") and ft["epochs"] == 1
    test_ids = set(manifest["test_source_ids"])
    assert len(ft["source_ids"]) == 96 - 4 - 14 and not test_ids & set(ft["source_ids"])
    assert summary["finetune"]["learning_rate_scale"] == 1e-6
    assert all(len(f["val_metrics"]) for f in manifest["folds"])
    x = np.load(data)["X"][:20]
    for f, b in zip(manifest["folds"], base_manifest["folds"]):
        new = keras.saving.load_model(tmp_path / "tuned" / "rrab" / f["file"], compile=False)
        old = keras.saving.load_model(tmp_path / "base" / "rrab" / b["file"], compile=False)
        np.testing.assert_allclose(new.predict(x, verbose=0), old.predict(x, verbose=0), atol=1e-3)
    runs = _runs("rrlfeh-train")
    parent = runs[runs["tags.mlflow.parentRunId"].isna() & runs["tags.finetune.from_model"].notna()]
    assert len(parent) == 1 and parent["params.finetune.epochs"].iloc[0] == "1"


def test_finetune_without_labels_of_a_type_keeps_its_base_folds_and_tune_does_not_search(
        mlflow_store, tmp_path):
    """Real labels of RRab only (no labelled real RRc exists): the rrc model (here: rrab, the tiny tensors' type) stays the base's,
    said so in its manifest and metrics; tune hands on the base's hyperparameters, no search."""
    from rrlfeh.model.train import run_train
    from rrlfeh.model.tune import run_tune

    data = tmp_path / "rrab.npz"
    make_tensors(data)
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"hparams": {"units": 8, "dropout": 0.0, "learning_rate": 0.01, "batch_size": 16,
                                          "reg_type": "none", "reg_strength": 0.0}}))
    train = {**TINY["train"], "n_jobs": 1, "patience": 0, "epochs": 2}
    base_params = load_params(write_params(tmp_path / "base.yaml", **{**TINY, "train": train}))
    run_train(base_params, "rrab", data, hp, tmp_path / "base" / "rrab", tmp_path / "base.json",
              tmp_path / "plots-base")
    unlabelled = tmp_path / "unlabelled.npz"
    with np.load(data) as npz:
        arrays = dict(npz)
    np.savez(unlabelled, **{**arrays, "y": np.full_like(arrays["y"], np.nan)})
    tuned = load_params(write_params(tmp_path / "tuned.yaml", **{**TINY, "train": train},
                                     finetune={"from_model": str(tmp_path / "base")}))
    best = run_tune(tuned, "rrab", unlabelled, tmp_path / "tune")
    assert best["hparams"]["units"] == 8 and "no search" in best["skipped"]
    # no search, but the stage's declared output exists (dvc repro failed on a fresh clone without it)
    search = tmp_path / "tune" / "search"
    assert search.is_dir() and not any(search.iterdir())
    summary = run_train(tuned, "rrab", unlabelled, tmp_path / "tune" / "best_hparams.json",
                        tmp_path / "tuned" / "rrab", tmp_path / "tuned.json", tmp_path / "plots-tuned")
    assert summary["finetune"]["kept_base"].startswith("no labelled rrab star")
    manifest = json.loads((tmp_path / "tuned" / "rrab" / "manifest.json").read_text())
    base = json.loads((tmp_path / "base" / "rrab" / "manifest.json").read_text())
    assert manifest["test_source_ids"] == [] and manifest["finetune"]["source_ids"] == []
    assert [f["file"] for f in manifest["folds"]] == [f["file"] for f in base["folds"]]
    for f in base["folds"]:
        assert (tmp_path / "tuned" / "rrab" / f["file"]).read_bytes() == \
            (tmp_path / "base" / "rrab" / f["file"]).read_bytes()
    # every plot the train stage declares exists (dvc repro failed without them), empty or saying why
    assert all((tmp_path / "plots-tuned" / name).is_file() for name in PLOT_FILES)
    assert pd.read_csv(tmp_path / "plots-tuned" / "predictions_val.csv").empty


def test_finetune_from_a_folder_without_the_type_is_one_clear_error(tmp_path):
    from rrlfeh.errors import DataError
    from rrlfeh.model.finetune import base_folds

    (tmp_path / "models" / "rrc").mkdir(parents=True)
    with pytest.raises(DataError, match="no rrab model"):
        base_folds(str(tmp_path / "models"), "rrab", tmp_path)
