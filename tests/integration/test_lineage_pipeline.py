"""Experiments keep their plots, and MLflow knows what DVC knows: two `dvc exp run`s of the tiny
pipeline (tests/support/tiny_repo.py), then `dvc plots diff` and the MLflow store through MlflowClient.

- `dvc plots diff` of the two experiments draws both experiments' data (every plot is DVC-cached);
- each tune and train run logged its inputs as datasets whose digests are dvc.lock's hashes of
  that stage's deps, and sampled system/* metrics;
- the gate's metrics are linked to the registered version's logged model.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.tiny_repo import run, tiny_repo

from rrlfeh import tracking

EXPERIMENTS = {"exp-a": 2, "exp-b": 1}  # train.epochs per experiment


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
    # tune ran in exp-a only (exp-b changed train.epochs), train in both: one run per type each
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
    model = client.get_logged_model(tracking.version_model_id(version))
    linked = {m.key for m in model.metrics}
    assert {"challenger_wrmse_rrab", "challenger_wrmse_rrc"} <= linked, linked
    # exp-b registered version 2: the champion's scores in its run belong to version 1's model
    champion = client.get_model_version("rrl-feh", version.tags["gate.champion_version"])
    theirs = {m.key for m in client.get_logged_model(tracking.version_model_id(champion)).metrics}
    assert "champion_wrmse_rrab" in theirs and "champion_wrmse_rrab" not in linked, (theirs, linked)


@pytest.mark.integration
@pytest.mark.lineage
def test_experiments_keep_plots_and_mlflow_records_dvc_lineage(tmp_path):
    repo, env, _ = tiny_repo(tmp_path)
    for key, value in (("user.email", "ci@example.invalid"), ("user.name", "ci")):
        run(["git", "config", key, value], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "tiny pipeline"], repo, env)
    for name, epochs in EXPERIMENTS.items():
        run(["dvc", "exp", "run", "-n", name, "-S", f"train.epochs={epochs}"], repo, env)
    _check_plots(repo, env)
    _check_lineage(repo)  # the workspace holds exp-b: its lock; only train's outputs differ from exp-a
