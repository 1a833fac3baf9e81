"""Fixtures shared by the integration tests: the tiny pipeline run once for the session (the
pipeline and lineage tests read it, team mode clones it); for the `rrlfeh predict` tests of the
local and the Spark engine, the tiny model as champion of a private store, the archive files, and
one local predict over them."""

from __future__ import annotations

import pytest

from rrlfeh.serving.predict import run_predict
from tests.support.model_fixture import register_tiny
from tests.support.predict_inputs import URI, predict_config, write_gaia_files
from tests.support.stores import private_store
from tests.support.tiny_repo import commit, run, tiny_repo


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory):
    """A tiny repo (tests/support/tiny_repo.py) after `dvc repro` into its own MLflow store,
    committed: (repo, env for its commands, params)."""
    repo, env, params = tiny_repo(tmp_path_factory.mktemp("pipeline"))
    run(["dvc", "repro"], repo, env)
    commit(repo, env, "tiny pipeline, dvc repro")
    return repo, env, params


@pytest.fixture(scope="module")
def store(tiny_workspace, tmp_path_factory):
    """The conftest's mlflow_store for a whole module, with the tiny model as champion."""
    with private_store(tmp_path_factory.mktemp("predict_store")):
        yield register_tiny(tiny_workspace)


@pytest.fixture(scope="module")
def gaia_dir(tiny_workspace, tmp_path_factory):
    """N_STARS tiny-workspace stars plus the awkward cases, as archive CSV files."""
    return write_gaia_files(tiny_workspace, tmp_path_factory.mktemp("gaia_files"))


@pytest.fixture(scope="module")
def predicted(store, gaia_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("predict_out") / "catalogue.ecsv"
    counts = run_predict(predict_config(n_jobs=1, chunk_stars=7), URI, [gaia_dir], out, "local",
                         plots=out.parent / "plots", progress=False)
    return counts, out
