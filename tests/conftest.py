"""Shared test set-up: offline, quiet, and a private MLflow store per test that needs one."""

from __future__ import annotations

import os

import pytest

from rrlfeh.runtime import configure_environment
from tests.support import process_watch

configure_environment()
os.environ.setdefault("MPLBACKEND", "Agg")

_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID",
               "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ARTIFACT_ROOT")


@pytest.fixture(autouse=True)
def _mlflow_env_restored():
    """MLflow exports the URIs and experiment a test sets into os.environ; put them back after each
    test so that no later test (or the subprocesses it starts) reads another test's store."""
    before = {k: os.environ.get(k) for k in _MLFLOW_ENV}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A real MLflow tracking store and registry (SQLite) in a temporary folder."""
    from tests.support.stores import private_store

    with private_store(tmp_path) as uri:
        yield uri


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory):
    """The tiny trained workspace of tests.support.model_fixture, built once per session."""
    from tests.support.model_fixture import build_workspace

    return build_workspace(tmp_path_factory.mktemp("tiny_rrlfeh"))


def pytest_configure(config):
    process_watch.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    process_watch.reset()  # what this test's fixtures and body start, from here to its call report
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that starts a process or a server without the `integration` marker fails, naming
    what it started (tests/support/process_watch.py says what counts)."""
    report = yield
    started = process_watch.started()
    if call.when == "call" and report.passed and started and item.get_closest_marker("integration") is None:
        report.outcome = "failed"
        report.longrepr = ("started outside the test process without @pytest.mark.integration:\n  "
                           + "\n  ".join(started[:5]))
    return report
