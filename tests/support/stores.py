"""A private MLflow store for what runs inside a `with`: one way for every test fixture.

mlflow.set_tracking_uri / set_registry_uri set module globals and export environment variables; a
fixture that sets them and leaves keeps sending later tests (and their subprocesses, `dvc repro`)
to its store. This context sets both the variables and the globals and, on exit, clears the globals
and gives the environment back, so the process reads the enclosing store (or none) again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def private_store(folder: Path) -> Iterator[str]:
    """A real MLflow tracking store and registry (SQLite) in `folder`; yields its URI."""
    import mlflow

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            mp.setenv(key, uri)
        mp.setenv("MLFLOW_ARTIFACT_ROOT", (folder / "mlartifacts").as_uri())
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # mlflow.set_experiment exports the id; an earlier store's experiment must not leak in
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield uri
        finally:
            # no global left behind; leaving the MonkeyPatch context restores the environment,
            # which mlflow reads when its globals are unset
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
