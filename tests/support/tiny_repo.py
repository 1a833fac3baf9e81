"""A fresh git + DVC repository with the project's code and TINY params: the tiny pipeline that the
integration tests run with real `dvc repro` / `dvc exp run` subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# A catalogue and budgets small enough for CI; every other value is the project's default.
TINY = {
    "extract.simulate.n_rrab": 160,
    "extract.simulate.n_rrc": 160,
    "extract.simulate.n_rrd": 5,
    # one process each: starting workers (TensorFlow/JAX imports) would cost more than the tiny work
    "tune.workers": 1,
    "train.n_jobs": 1,
    "preprocess.n_jobs": 1,
    "tune.max_epochs": 2,
    "tune.factor": 2,
    "tune.units": [8],
    "tune.batch_size": [32],
    "train.k_folds": 2,
    "train.epochs": 2,
    "train.patience": 1,
}


def set_key(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        d = d[key]
    assert leaf in d, f"{dotted} is not a params.yaml key"
    d[leaf] = value


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def commit(repo: Path, env: dict, message: str) -> None:
    """`git add -A` and commit (as the repo's own user: tiny_repo sets one)."""
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", message], repo, env)


def tiny_repo(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A fresh git + DVC repository with the project's code, dvc.yaml, plot templates and TINY
    params, its own MLflow store; returns (repo, env for its commands, params)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("dvc.yaml", ".gitignore"):  # the store and DVC's products stay out of git
        shutil.copy(ROOT / name, repo / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in TINY.items():
        set_key(params, key, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false",
           # the tiny stages take seconds (the spectral network): sample the machine every second,
           # so each tracked stage still records system metrics (tracking.SYSTEM_METRICS_INTERVAL_S: 5)
           "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1"}
    for key in ("MLFLOW_ARTIFACT_ROOT", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(key, None)  # the repo's own store and registry only
    run(["git", "init", "-q"], repo, env)
    for key, value in (("user.email", "ci@example.invalid"), ("user.name", "ci")):
        run(["git", "config", key, value], repo, env)  # `dvc exp run` commits its experiments
    run(["dvc", "init", "-q"], repo, env)
    run(["dvc", "config", "core.analytics", "false"], repo, env)
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")  # dvc.yaml's own templates
    return repo, env, params
