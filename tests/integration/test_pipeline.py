"""The real DVC pipeline end to end on a tiny simulated catalogue, run once for the session
(tests/integration/conftest.py's `tiny_pipeline`).

`dvc repro` in a fresh git + DVC repo runs every stage as DVC runs it (subprocesses of the `rrlfeh`
CLI) into a real MLflow SQLite store; the result is committed. On it:

- the outputs, the metrics DVC shows, the registry aliases, and that a second `dvc repro` has
  nothing to do (seeded, reproducible stages);
- two `dvc exp run`s on it: exp-a with the committed params (nothing to rerun: the experiment
  holds the repro's results), exp-b with train.epochs changed (train and register rerun). `dvc
  plots diff` of the two draws both experiments' data (every plot is DVC-cached); each tune and train run
  logged its inputs as datasets whose digests are dvc.lock's hashes of that stage's deps, and
  sampled system/* metrics; the gate's metrics are linked to the registered version's logged model.
"""

from __future__ import annotations

import json

import pytest
import yaml

from rrlfeh import tracking
from tests.support.tiny_repo import BIN, run, set_key

EXPERIMENTS = {"exp-a": 2, "exp-b": 1}  # train.epochs per experiment (the committed run has 2)


def _write_params(repo, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.mark.integration
def test_dvc_repro_end_to_end(tiny_pipeline):
    repo, env, params = tiny_pipeline
    for out in ["data/raw/epoch_photometry.parquet", "data/clean/rejected.parquet",
                "data/processed/rrab.npz", "data/processed/rrc.npz",
                "models/tune/rrab/best_hparams.json", "models/rrab/manifest.json",
                "models/rrc/manifest.json", "models/registered.json"]:
        assert (repo / out).exists(), out

    clean = json.loads((repo / "metrics/clean.json").read_text())
    assert clean  # counts per cut and type
    # DVC shows the headline only; the stage reports keep the detail
    shown = run(["dvc", "metrics", "show", "--json"], repo, env).stdout
    assert "metrics/summary.json" in shown and "metrics/train_rrab.json" not in shown
    headline = json.loads((repo / "metrics/summary.json").read_text())
    assert set(headline) == {"stars", "rrab", "rrc"} and set(headline["rrab"]) == {
        "r2", "wrmse", "ratio", "test_wrmse", "test_ratio"}
    text = run([str(BIN / "rrlfeh"), "summary"], repo, env).stdout
    assert len(text.splitlines()) <= 30 and "RRab" in text and "champion is version 1" in text, text

    registered = json.loads((repo / "models/registered.json").read_text())
    assert registered.get("promoted") is True  # first version: no champion to beat

    # Seeded stages: nothing changes when the pipeline is asked again.
    again = run(["dvc", "repro"], repo, env).stdout
    assert "up to date" in again.lower() or "didn't change" in again.lower(), again
    status = run(["dvc", "status"], repo, env).stdout
    assert "changed" not in status, status

    # Knobs that do not change results rerun nothing (params per key); one that does reruns its stage.
    edited = yaml.safe_load(yaml.safe_dump(params))
    try:
        for key, value in [("train.n_jobs", 2), ("preprocess.chunk_stars", 7), ("extract.gaia.retries", 9)]:
            set_key(edited, key, value)
        _write_params(repo, edited)
        status = run(["dvc", "status"], repo, env).stdout
        assert "changed" not in status, status
        set_key(edited, "train.epochs", edited["train"]["epochs"] + 1)
        _write_params(repo, edited)
        status = run(["dvc", "status", "--json"], repo, env).stdout
        assert set(json.loads(status)) == {"train@rrab", "train@rrc"}, status
    finally:
        _write_params(repo, params)  # the committed params, for the experiments below


def _lock_deps(repo, stage: str) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]
    return {d["path"]: d["md5"] for d in lock["deps"]}


def _check_plots(repo, env) -> None:
    shown = json.loads(run(["dvc", "plots", "diff", *EXPERIMENTS, "--json"], repo, env).stdout)
    assert not shown.get("errors"), shown["errors"]
    plots = shown["data"]
    for plot_id in ("train_predictions_val", "train_predictions_test", "train_val_loss"):
        [plot] = plots[plot_id]
        assert set(plot["revisions"]) == set(EXPERIMENTS), plot_id
    rows = plots["train_val_loss"][0]["content"]["data"]["values"]
    for exp, epochs in EXPERIMENTS.items():
        mine = [r for r in rows if r["rev"] == exp]
        # DVC names each file by what tells them apart (rrab/learning_curves.csv)
        assert {r["filename"].split("/")[-2] for r in mine} == {"rrab", "rrc"}
        assert len({r["fold"] for r in mine}) == 2  # k_folds: one line per fold
        assert max(int(r["epoch"]) for r in mine) == epochs  # each experiment's own curves
    # the figures too, each experiment's own from the DVC cache
    for image in ("plots/train/rrab/pred_vs_true.png", "plots/clean/bailey.png"):
        assert {rev for entry in plots[image] for rev in entry["revisions"]} == set(EXPERIMENTS), image


def _check_lineage(repo) -> None:
    import mlflow

    uri = f"sqlite:///{repo / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)  # this repo's registry, whatever another test set
    # tune ran once (the committed repro; exp-b changed train.epochs only), train twice
    for experiment, stage, kind, n_runs in (("rrlfeh-tune", "tune", "hyperband-search", 2),
                                            ("rrlfeh-train", "train", "cv", 4)):
        exp_id = client.get_experiment_by_name(experiment).experiment_id
        parents = client.search_runs([exp_id], f"tags.kind = '{kind}' and attributes.status = 'FINISHED'")
        assert len(parents) == n_runs, stage
        for parent in parents:
            deps = _lock_deps(repo, f"{stage}@{parent.data.tags['star_type']}")
            logged = {d.dataset.name: d.dataset.digest for d in parent.inputs.dataset_inputs}
            assert logged and all(deps[name] == digest for name, digest in logged.items()), (logged, deps)
            assert any(k.startswith("system/cpu_utilization") for k in parent.data.metrics), parent.data.metrics
    reg_deps = _lock_deps(repo, "register")
    [register] = client.search_runs([client.get_experiment_by_name("rrlfeh-register").experiment_id],
                                    "attributes.status = 'FINISHED'", order_by=["start_time DESC"],
                                    max_results=1)
    logged = {d.dataset.name: d.dataset.digest for d in register.inputs.dataset_inputs}
    assert logged == {k: reg_deps[k] for k in ("models/rrab", "models/rrc", "data/clean")}  # .dir hashes
    version = client.get_model_version("rrl-feh", register.data.tags["registered_version"])
    assert str(version.version) == "2"  # the repro's, then exp-b's (exp-a reran nothing)
    model = client.get_logged_model(tracking.version_model_id(version))
    linked = {m.key for m in model.metrics}
    assert {"challenger_wrmse_rrab", "challenger_wrmse_rrc"} <= linked, linked
    # the champion's scores in exp-b's register run belong to the champion version's model
    champion = client.get_model_version("rrl-feh", version.tags["gate.champion_version"])
    theirs = {m.key for m in client.get_logged_model(tracking.version_model_id(champion)).metrics}
    assert "champion_wrmse_rrab" in theirs and "champion_wrmse_rrab" not in linked, (theirs, linked)


@pytest.mark.integration
@pytest.mark.lineage
def test_experiments_keep_plots_and_mlflow_records_dvc_lineage(tiny_pipeline):
    repo, env, _ = tiny_pipeline
    for name, epochs in EXPERIMENTS.items():
        run(["dvc", "exp", "run", "-n", name, "-S", f"train.epochs={epochs}"], repo, env)
    _check_plots(repo, env)
    _check_lineage(repo)  # the workspace holds exp-b: its lock; only train's outputs differ from exp-a
