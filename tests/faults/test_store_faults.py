"""The MLflow store as users break it (issue 24, items 3-6): missing, read-only, damaged, or asked
for an artifact that is not a model. Every command answers one line naming the store or URI and
what to do, exit code 1, no traceback; no read command creates a store.

The read-only cases must hold in CI, which runs as root (root writes any file): there the
commands run without any capability (`setpriv`), so file permissions bind them as they bind a
user; each test first checks that the command really cannot write.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rrlfeh.serving import registry
from tests.support.hostile import one_line, unprivileged
from tests.support.model_fixture import register_tiny, tiny_params
from tests.support.stores import private_store

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PARAMS = str(ROOT / "params.yaml")
pytestmark = pytest.mark.integration



def rrlfeh(args: list[str], store: Path, cwd: Path, prefix: list[str] | None = None,
           timeout: int = 300) -> subprocess.CompletedProcess:
    """`rrlfeh ARGS` against the store in folder `store` (which may not exist)."""
    uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
           "MLFLOW_ARTIFACT_ROOT": (store / "mlartifacts").as_uri(),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([*(prefix or []), str(BIN / "rrlfeh"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def store(tiny_workspace, tmp_path_factory):
    """A store with two registered versions of the tiny model (a champion and one more)."""
    root = tmp_path_factory.mktemp("store_faults") / "store"
    root.mkdir()
    with private_store(root):
        register_tiny(tiny_workspace)
        register_tiny(tiny_workspace)
        # version 2 champion (by the gate or by hand): rollback has an earlier champion to go to
        registry.promote(tiny_params().register, "2", "a champion to roll back")
    return root


def _copy(store: Path, dst: Path) -> Path:
    shutil.copytree(store, dst)
    return dst


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.fixture(scope="module")
def inputs(catalogue):
    return catalogue[0]


@pytest.mark.parametrize("command", ["serve", "promote", "rollback", "predict"])
def test_read_commands_never_create_a_store(command, inputs, tmp_path):
    missing = tmp_path / "nowhere"
    args = {"serve": ["serve", "-p", _free_port()],
            "promote": ["promote", "1", "--reason", "r", "--params", PARAMS],
            "rollback": ["rollback", "--reason", "r", "--params", PARAMS],
            "predict": ["predict", "--input", str(inputs), "--output", str(tmp_path / "c.parquet"),
                        "--no-progress", "--params", PARAMS]}[command]
    proc = rrlfeh(args, missing, tmp_path, timeout=120)
    one_line(proc, "no MLflow store at", str(missing / "mlflow.db"), "MLFLOW_TRACKING_URI")
    assert not missing.exists()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("command", ["promote", "rollback", "register"])
def test_a_read_only_store_is_one_line(command, store, tiny_workspace, tmp_path):
    ro = _copy(store, tmp_path / "ro")
    db = ro / "mlflow.db"
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    ro.chmod(0o555)
    try:
        probe = subprocess.run([*unprivileged(), "sh", "-c", f"echo x >> '{db}'"],
                               capture_output=True)
        assert probe.returncode != 0, "the test's command could write the read-only store"
        ws = tiny_workspace
        args = {"promote": ["promote", "1", "--reason", "r", "--params", PARAMS],
                "rollback": ["rollback", "--reason", "r", "--params", PARAMS],
                "register": ["register", "--models", str(ws.models_dir), "--processed",
                             str(ws.processed_dir), "--clean", str(ws.clean_dir), "--out",
                             str(tmp_path / "registered.json"), "--params", PARAMS]}[command]
        proc = rrlfeh(args, ro, tmp_path, prefix=unprivileged())
        one_line(proc, str(db), "read-only", "writable")
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("command", ["predict", "promote", "serve"])
def test_a_damaged_store_is_one_line(command, store, inputs, tmp_path):
    bad = _copy(store, tmp_path / "bad")
    db = bad / "mlflow.db"
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 3)
    args = {"serve": ["serve", "-p", _free_port()],
            "promote": ["promote", "1", "--reason", "r", "--params", PARAMS],
            "predict": ["predict", "--input", str(inputs), "--output", str(tmp_path / "c.parquet"),
                        "--no-progress", "--params", PARAMS]}[command]
    proc = rrlfeh(args, bad, tmp_path, timeout=120)
    one_line(proc, str(db), "damaged", "backup")
    assert not (tmp_path / "c.parquet").exists()


def test_a_run_artifact_that_is_not_a_model_is_one_line(store, inputs, tmp_path):
    """A CV fold's `runs:/<id>/model` holds a Keras file, not the end-to-end MLflow model."""
    import mlflow

    own = _copy(store, tmp_path / "own")
    keras_file = tmp_path / "fold.keras"
    keras_file.write_bytes(b"not an MLflow model")
    with private_store(own), mlflow.start_run() as run:
        mlflow.log_artifact(str(keras_file), artifact_path="model")
    for args in (["predict", "--input", str(inputs), "--output", str(tmp_path / "c.parquet"),
                  "--no-progress", "--params", PARAMS, "--model", f"runs:/{run.info.run_id}/model"],
                 ["serve", "-p", _free_port(), "-m", f"runs:/{run.info.run_id}/model"]):
        proc = rrlfeh(args, own, tmp_path, timeout=120)
        one_line(proc, f"runs:/{run.info.run_id}/model", "not an MLflow model (no MLmodel file)")
