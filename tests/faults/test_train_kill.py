"""A `train` killed mid-fold (SIGKILL, as `dvc repro` interrupted hard) leaves its stage run and
fold runs RUNNING; the next `train` of the same type closes them as KILLED, finishes, and leaves
no run RUNNING (issue 24, item 10). A train still running in another process is left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from rrlfeh import tracking
from tests.support.tiny_tensors import TINY, make_tensors, write_params

pytestmark = pytest.mark.integration


def _train(tmp: Path, params: Path) -> list[str]:
    return [sys.executable, "-m", "rrlfeh.cli", "train", "rrab", "--data", str(tmp / "rrab.npz"),
            "--hparams", str(tmp / "hp.json"), "--out", str(tmp / "models"), "--metrics",
            str(tmp / "train.json"), "--plots", str(tmp / "plots"), "--truth", str(tmp / "none"),
            "--params", str(params)]


def _runs() -> list:
    exp = mlflow.get_experiment_by_name("rrlfeh-train")
    return [] if exp is None else mlflow.MlflowClient().search_runs([exp.experiment_id])


def test_a_killed_train_leaves_no_run_running_after_the_next_train(mlflow_store, tmp_path):
    make_tensors(tmp_path / "rrab.npz", seed=2)
    (tmp_path / "hp.json").write_text(json.dumps({"hparams": {"units": 8, "batch_size": 16}}))
    slow = write_params(tmp_path / "slow.yaml", **{**TINY, "train": {**TINY["train"], "epochs": 400}})
    quick = write_params(tmp_path / "quick.yaml", **{**TINY, "train": {**TINY["train"], "epochs": 2}})
    tracking.setup("rrlfeh-train")  # the store exists before two processes open it
    proc = subprocess.Popen(_train(tmp_path, slow), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if sum(r.data.tags.get("kind") == "cv-fold" for r in _runs()) == 2:
            time.sleep(1.0)  # into the folds' fits
            os.killpg(proc.pid, signal.SIGKILL)  # the stage and its fold workers, as a hard stop
            break
        time.sleep(0.2)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"train ended first: {proc.stderr.read()[-2000:]!r}"
    killed = {r.info.run_id: r for r in _runs()}
    assert {r.info.status for r in killed.values()} == {"RUNNING"} and len(killed) == 3

    done = subprocess.run(_train(tmp_path, quick), cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "closed MLflow run" in done.stderr
    after = {r.info.run_id: r.info.status for r in _runs()}
    assert all(after[run_id] == "KILLED" for run_id in killed)
    assert set(after.values()) == {"KILLED", "FINISHED"} and len(after) == 6

    # what the rerun wrote is what a train never interrupted writes (seeded folds and models)
    whole = tmp_path / "whole"
    whole.mkdir()
    for name in ("rrab.npz", "hp.json"):
        (whole / name).write_bytes((tmp_path / name).read_bytes())
    done = subprocess.run(_train(whole, quick), cwd=whole, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rerun, uninterrupted = (json.loads((d / "train.json").read_text()) for d in (tmp_path, whole))
    for part in ("cv", "test", "oof", "n_stars"):
        assert rerun[part] == uninterrupted[part], part


def test_a_train_still_running_elsewhere_is_left_alone(mlflow_store):
    """Only runs whose process is known to be gone are closed: a live owner, or another host's."""
    tracking.setup("rrlfeh-train")
    tags = {"stage": "train", "star_type": "rrab", "kind": "cv"}
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        owners = {
            "live": tracking.owner_tags() | {"rrlfeh.pid": str(sleeper.pid),
                                             "rrlfeh.pid_started": tracking._process_start(sleeper.pid)},
            "gone": tracking.owner_tags() | {"rrlfeh.pid": gone},
            "other_host": tracking.owner_tags() | {"rrlfeh.host": "elsewhere", "rrlfeh.pid": gone},
            "reused_pid": tracking.owner_tags() | {"rrlfeh.pid": str(sleeper.pid),
                                                   "rrlfeh.pid_started": "1.00"},
        }
        client = mlflow.MlflowClient()
        exp = mlflow.get_experiment_by_name("rrlfeh-train").experiment_id
        ids = {name: client.create_run(exp, tags={**tags, **owner}, run_name=name).info.run_id
               for name, owner in owners.items()}
        closed = tracking.close_abandoned_runs("rrlfeh-train", tags)
        assert sorted(closed) == sorted([ids["gone"], ids["reused_pid"]])
        status = {name: client.get_run(i).info.status for name, i in ids.items()}
        assert status == {"live": "RUNNING", "gone": "KILLED", "other_host": "RUNNING",
                          "reused_pid": "KILLED"}
    finally:
        sleeper.kill()
