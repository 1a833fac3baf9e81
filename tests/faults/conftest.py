"""The fault tier: hostile input, kills and load (`pytest tests/faults`).

Each test reproduces a way a hostile but fair user broke the tool (issue 13) and checks the
answer is one clear line or a per-star reason: never a traceback, a deleted user file, or a
silent estimate for an impossible star. Helpers of the integration tier are shared from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import os  # noqa: E402
import subprocess  # noqa: E402
import zipfile  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from model_fixture import register_tiny, simulate, tiny_workspace  # noqa: E402,F401

from rrlfeh.core import schema  # noqa: E402


def per_source_zip(path: Path, epochs: pd.DataFrame, ext: str = ".csv") -> Path:
    """The archive's DataLink zip: one `EPOCH_PHOTOMETRY-Gaia DR3 <id>` file per source."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid, rows in epochs.groupby("source_id", sort=True):
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}{ext}", rows.to_csv(index=False))
    return path


def predict_cfg():
    """predict's config for the tiny model: one process, small chunks."""
    from model_fixture import tiny_params

    return tiny_params(n_jobs=1, chunk_stars=16).predict


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory):
    """A small Gaia-layout input folder (vari_rrlyrae.csv + per-source zip) of 40 tiny stars."""
    root = tmp_path_factory.mktemp("catalogue")
    data = simulate(20, seed=3)
    data["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    per_source_zip(root / "datalink.zip", data["epoch_photometry"])
    return root, data


@pytest.fixture(scope="session")
def model_dir(tiny_workspace, tmp_path_factory):  # noqa: F811
    """The tiny model, registered in a private store and copied to a folder (a `--model` path)."""
    import mlflow

    tmp = tmp_path_factory.mktemp("fault_store")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.setenv("MLFLOW_ARTIFACT_ROOT", (tmp / "mlartifacts").as_uri())
        mlflow.set_tracking_uri(store)
        mlflow.set_registry_uri(store)
        register_tiny(tiny_workspace)
        path = mlflow.artifacts.download_artifacts("models:/rrl-feh@champion",
                                                   dst_path=str(tmp / "model"))
    return Path(path)


def write_vari(root: Path, vari: pd.DataFrame) -> None:
    schema.conform(vari, "vari_rrlyrae").to_csv(root / "vari_rrlyrae.csv", index=False)


def unprivileged() -> list[str]:
    """A command prefix under which file permissions bind: none for a user, no capabilities for root."""
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"] if os.geteuid() == 0 else []


def one_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed with exactly one error line holding `words`, and no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rrlfeh: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]
