"""The fault tier: hostile input, kills and load (`pytest tests/faults`).

Each test reproduces a way a hostile but fair user broke the tool (issue 13) and checks the
answer is one clear line or a per-star reason: never a traceback, a deleted user file, or a
silent estimate for an impossible star. The helpers are in tests/support/hostile.py; the tiny
model is tests/support/model_fixture.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import per_source_zip
from tests.support.model_fixture import register_tiny, simulate
from tests.support.stores import private_store


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory):
    """A small Gaia-layout input folder (vari_rrlyrae.csv + per-source zip) of 40 tiny stars."""
    root = tmp_path_factory.mktemp("catalogue")
    data = simulate(20, seed=3)
    data["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    per_source_zip(root / "datalink.zip", data["epoch_photometry"])
    return root, data


@pytest.fixture(scope="session")
def model_dir(tiny_workspace, tmp_path_factory):
    """The tiny model, registered in a private store and copied to a folder (a `--model` path)."""
    import mlflow

    tmp = tmp_path_factory.mktemp("fault_store")
    with private_store(tmp):
        register_tiny(tiny_workspace)
        path = mlflow.artifacts.download_artifacts("models:/rrl-feh@champion",
                                                   dst_path=str(tmp / "model"))
    return Path(path)
