"""The real DVC pipeline end to end on a tiny simulated catalogue: `dvc repro` in a fresh repo.

Runs every stage as DVC runs it (subprocesses of the `rrlfeh` CLI), into a real MLflow SQLite
store, then checks the outputs, the metrics DVC shows, the registry aliases, and that a second
`dvc repro` has nothing to do (seeded, reproducible stages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# A catalogue and budgets small enough for CI; every other value is the project's default.
TINY = {
    "extract.simulate.n_rrab": 160,
    "extract.simulate.n_rrc": 160,
    "extract.simulate.n_rrd": 5,
    "tune.max_epochs": 2,
    "tune.factor": 2,
    "tune.units": [8],
    "tune.batch_size": [32],
    "train.k_folds": 2,
    "train.epochs": 2,
    "train.patience": 1,
}


def _set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        d = d[key]
    assert leaf in d, f"{dotted} is not a params.yaml key"
    d[leaf] = value


def _run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def tiny_repo(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A fresh git + DVC repository with the project's code, dvc.yaml, plot templates and TINY
    params, its own MLflow store; returns (repo, env for its commands, params)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in TINY.items():
        _set(params, key, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
    for key in ("MLFLOW_ARTIFACT_ROOT", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(key, None)  # the repo's own store and registry only
    _run(["git", "init", "-q"], repo, env)
    _run(["dvc", "init", "-q"], repo, env)
    _run(["dvc", "config", "core.analytics", "false"], repo, env)
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")  # dvc.yaml's own templates
    return repo, env, params


@pytest.mark.integration
def test_dvc_repro_end_to_end(tmp_path):
    repo, env, params = tiny_repo(tmp_path)
    _run(["dvc", "repro"], repo, env)

    for out in ["data/raw/epoch_photometry.parquet", "data/clean/rejected.parquet",
                "data/processed/rrab.npz", "data/processed/rrc.npz",
                "models/tune/rrab/best_hparams.json", "models/rrab/manifest.json",
                "models/rrc/manifest.json", "models/registered.json"]:
        assert (repo / out).exists(), out

    clean = json.loads((repo / "metrics/clean.json").read_text())
    assert clean  # counts per cut and type
    # DVC shows the headline only; the stage reports keep the detail
    shown = _run(["dvc", "metrics", "show", "--json"], repo, env).stdout
    assert "metrics/summary.json" in shown and "metrics/train_rrab.json" not in shown
    headline = json.loads((repo / "metrics/summary.json").read_text())
    assert set(headline) == {"stars", "rrab", "rrc"} and set(headline["rrab"]) == {
        "r2", "wrmse", "ratio", "test_wrmse", "test_ratio"}
    text = _run([str(BIN / "rrlfeh"), "summary"], repo, env).stdout
    assert len(text.splitlines()) <= 30 and "RRab" in text and "champion is version 1" in text, text

    registered = json.loads((repo / "models/registered.json").read_text())
    assert registered.get("promoted") is True  # first version: no champion to beat

    # Seeded stages: nothing changes when the pipeline is asked again.
    again = _run(["dvc", "repro"], repo, env).stdout
    assert "up to date" in again.lower() or "didn't change" in again.lower(), again
    status = _run(["dvc", "status"], repo, env).stdout
    assert "changed" not in status, status

    # Knobs that do not change results rerun nothing (params per key); one that does reruns its stage.
    for key, value in [("train.n_jobs", 1), ("preprocess.chunk_stars", 7), ("extract.gaia.retries", 9)]:
        _set(params, key, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _run(["dvc", "status"], repo, env).stdout
    assert "changed" not in status, status
    _set(params, "train.epochs", params["train"]["epochs"] + 1)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _run(["dvc", "status", "--json"], repo, env).stdout
    assert set(json.loads(status)) == {"train@rrab", "train@rrc"}, status
