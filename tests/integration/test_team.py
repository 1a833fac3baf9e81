"""Team mode end to end: a tracking server on PostgreSQL, a DVC remote, and a second clone that
predicts with the champion without retraining.

bin/team-services starts PostgreSQL (as an unprivileged user when the test runs as root) and
`mlflow server` with proxied artifacts on 127.0.0.1. Clone A, a clone of the session's tiny
pipeline (tests/integration/conftest.py), reruns every stage that tracks runs (tune, train,
register, summary) against them and `dvc push`es to the project's committed default remote (a
folder beside the clone). Clone B, a
git clone of A's commit with an empty DVC cache, `dvc pull`s and predicts through
models:/rrl-feh@champion (the server) and, once the server is stopped, through the pulled model
folder: the three catalogues are equal bit for bit (the provenance differs, it is metadata).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest


ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_PROGRAMS = ("initdb", "pg_ctl", "postgres")

pytestmark = [pytest.mark.integration, pytest.mark.team]


def _run(cmd: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _postgres_found() -> bool:
    """Where bin/team-services looks: PATH, then Debian's /usr/lib/postgresql/*/bin."""
    return all(shutil.which(p) or glob.glob(f"/usr/lib/postgresql/*/bin/{p}") for p in PG_PROGRAMS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tracking_uri: str | None) -> dict:
    """The user's shell: the venv's tools first; the server's URI, or no tracking set-up at all."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_ROOT", "MLFLOW_REGISTRY_URI",
                "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(key, None)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


@pytest.fixture
def team_services():
    """PostgreSQL + mlflow server on free ports, state in a folder the unprivileged user can reach
    (pytest's tmp_path is private to root); yields (server URI, stop)."""
    if not _postgres_found():
        pytest.skip("TEAM MODE UNTESTED: no PostgreSQL (initdb, pg_ctl, postgres) on PATH or in "
                    "/usr/lib/postgresql/*/bin; install it (apt-get install postgresql)")
    state = Path(tempfile.mkdtemp(prefix="rrlfeh-team-"))
    state.chmod(0o755)
    port = _free_port()
    env = _env(None) | {"RRLFEH_TEAM_DIR": str(state), "RRLFEH_PG_PORT": str(_free_port()),
                        "RRLFEH_MLFLOW_PORT": str(port), "RRLFEH_MLFLOW_WORKERS": "1"}
    script = str(ROOT / "bin" / "team-services")

    def stop() -> None:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)

    try:
        _run([script, "start"], ROOT, env)
        yield f"http://127.0.0.1:{port}", stop
    finally:
        stop()
        shutil.rmtree(state, ignore_errors=True)


def _clone_a(pipeline: Path, repo: Path, env: dict) -> None:
    """A clone of the session's tiny pipeline (tiny params, its data stages' outputs in the DVC
    cache it shares) with the project's DVC config, its default remote, committed."""
    _run(["git", "clone", "-q", str(pipeline), str(repo)], repo.parent, env)
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    _run(["dvc", "config", "--local", "cache.dir", str(pipeline / ".dvc" / "cache")], repo, env)
    _commit(repo, env, "the project's DVC config")
    _run(["dvc", "checkout", "-q"], repo, env)


def _commit(repo: Path, env: dict, message: str) -> None:
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message], repo, env)


def _start_predict(repo: Path, env: dict, model: str, name: str):
    """`rrlfeh predict` of data/clean, started; the returned call waits for it and gives the
    catalogue, its rejects and its provenance (predicts overlap: each spends seconds importing)."""
    out = repo / f"{name}.parquet"
    cmd = ["rrlfeh", "predict", "--input", "data/clean", "--output", str(out), "--model", model, "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{stdout[-4000:]}\n{stderr[-4000:]}"
        meta = pq.read_schema(out).metadata[b"rrlfeh.provenance"]
        return pd.read_parquet(out), pd.read_parquet(repo / f"{name}_rejected.parquet"), json.loads(meta)

    return result


def _predict(repo: Path, env: dict, model: str, name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return _start_predict(repo, env, model, name)()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_clone_predicts_the_champion_without_retraining(tmp_path, team_services, tiny_pipeline):
    server, stop_services = team_services
    a, b = tmp_path / "a", tmp_path / "b"
    _clone_a(tiny_pipeline[0], a, _env(None))
    # every stage that tracks runs again, against the server; the data stages' outputs are the
    # cache's (they log nothing)
    _run(["dvc", "repro", "--force", "--downstream", "tune@rrab", "tune@rrc"], a, _env(server))
    _commit(a, _env(None), "dvc repro against the team server")
    _run(["dvc", "push"], a, _env(None))
    assert (tmp_path / "rrlfeh-dvc-remote").is_dir()  # the committed default: beside the clone
    # everything went to the server (no local store) and its artifacts are the server's
    assert not (a / "mlflow.db").exists() and not (a / "mlartifacts").exists()
    from mlflow import MlflowClient

    locations = {e.name: e.artifact_location for e in MlflowClient(server).search_experiments()}
    assert {"rrlfeh-tune", "rrlfeh-train", "rrlfeh-register"} <= set(locations), locations
    assert all(v.startswith("mlflow-artifacts:") for k, v in locations.items() if k != "Default"), locations
    registered = json.loads((a / "models" / "registered.json").read_text())
    expected = (a / "models" / "champion" / "registered_version.json").read_text()
    assert json.loads(expected)["model_version"] == registered["champion"]
    a_predicted = _start_predict(a, _env(server), "models:/rrl-feh@champion", "a")
    # the dvc.yaml artifact, by its version tag (GTO's convention, which `dvc artifacts get` reads)
    _run(["git", "tag", "-a", "rrl-feh@v1.0.0", "-m", "registered version 1"], a, _env(None))
    _run(["dvc", "artifacts", "get", str(a), "rrl-feh", "-o", str(tmp_path / "got")], tmp_path, _env(None))
    assert _files(tmp_path / "got") == _files(a / "models" / "champion")

    _run(["git", "clone", "-q", str(a), str(b)], tmp_path, _env(None))
    assert not (b / "models" / "champion").exists() and not (b / "data" / "clean").exists()
    _run(["dvc", "pull"], b, _env(None))
    server_cat, server_rej, server_prov = _predict(b, _env(server), "models:/rrl-feh@champion", "b_server")
    a_cat, a_rej, _ = a_predicted()
    stop_services()  # what follows has no tracking server to ask
    folder_cat, folder_rej, folder_prov = _predict(b, _env(None), "models/champion", "b_folder")
    assert not (b / "mlflow.db").exists()  # no store was needed, none was made

    assert len(a_cat) > 0
    for cat, rej in ((server_cat, server_rej), (folder_cat, folder_rej)):
        pd.testing.assert_frame_equal(cat, a_cat, check_exact=True)
        pd.testing.assert_frame_equal(rej, a_rej, check_exact=True)
    assert registered["promoted"]  # the first version: champion, logged by the register run
    for prov in (server_prov, folder_prov):
        assert (prov["model_name"], prov["model_version"]) == ("rrl-feh", registered["champion"])
        assert prov["model_run_id"] == registered["run_id"]
    assert server_prov["model_alias"] == "champion" and folder_prov["model_uri"] == "models/champion"
