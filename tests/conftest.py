"""Shared test set-up: offline, quiet, and a private MLflow store per test that needs one."""

from __future__ import annotations

import os

import pytest

from rrlfeh.runtime import configure_environment

configure_environment()
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A real MLflow tracking store and registry (SQLite) in a temporary folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", (tmp_path / "mlartifacts").as_uri())
    # mlflow.set_experiment exports the id; a previous test's experiment must not leak in.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
