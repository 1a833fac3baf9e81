"""tune.workers and keras-tuner's chief/worker variables: who this process is, how many local
workers it starts, and what a stale search loses (no TensorFlow, no search)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from rrlfeh.config import ConfigError, load_params
from rrlfeh.config.model import TuneConfig
from rrlfeh.model import tune_workers
from rrlfeh.model.tune_workers import ID, IP, PORT


def test_roles_come_from_keras_tuners_variables(monkeypatch):
    for key in (ID, IP, PORT):
        monkeypatch.delenv(key, raising=False)
    assert tune_workers.role() == "single"
    monkeypatch.setenv(IP, "10.0.0.1")
    with pytest.raises(ConfigError, match="KERASTUNER_ORACLE_PORT"):
        tune_workers.role()
    monkeypatch.setenv(PORT, "8470")
    for tuner_id, role in (("chief", "chief"), ("worker0", "worker"), ("worker12", "worker")):
        monkeypatch.setenv(ID, tuner_id)
        assert tune_workers.role() == role
    monkeypatch.setenv(ID, "tuner0")  # keras-tuner's own default: not a worker id of ours
    with pytest.raises(ConfigError, match="`chief` or `worker<N>`"):
        tune_workers.role()


def test_one_worker_is_one_process_and_a_chief_always_has_workers():
    assert tune_workers.local_workers(1, "single") == 0
    assert tune_workers.local_workers(2, "single") == 2
    assert tune_workers.local_workers(1, "chief") == 1
    assert tune_workers.local_workers(0, "single") == tune_workers.resolve_jobs(0)
    with pytest.raises(ValueError, match="tune.workers"):
        TuneConfig(workers=-1).check()


def test_the_chief_variables_are_set_for_the_search_only(monkeypatch):
    for key in (ID, IP, PORT):
        monkeypatch.delenv(key, raising=False)
    with tune_workers.chief_env() as (ip, port):
        assert (os.environ[ID], os.environ[IP], ip) == ("chief", "127.0.0.1", "127.0.0.1") and int(port) > 0
    assert not {ID, IP, PORT} & set(os.environ)
    monkeypatch.setenv(ID, "chief")
    monkeypatch.setenv(IP, "0.0.0.0")
    monkeypatch.setenv(PORT, "8470")
    with tune_workers.chief_env() as address:
        assert address == ("127.0.0.1", "8470")  # local workers reach a chief listening everywhere
    assert os.environ[IP] == "0.0.0.0"


def test_workers_do_not_change_the_search_fingerprint():
    from rrlfeh.model.tune import search_fingerprint

    one = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    two = dataclasses.replace(one, tune=dataclasses.replace(one.tune, workers=2))
    other = dataclasses.replace(one, tune=dataclasses.replace(one.tune, factor=2))
    assert search_fingerprint(one, "md5", 64) == search_fingerprint(two, "md5", 64)
    assert search_fingerprint(one, "md5", 64) != search_fingerprint(other, "md5", 64)


def test_a_stale_search_loses_the_chief_and_worker_files_too(tmp_path):
    from rrlfeh.model.tune import _previous_search

    search = tmp_path / "search"
    search.mkdir()
    for name in ("rrlfeh_search.json", "oracle.json", "tuner0.json", "chief.json", "worker3.json", "notes.json"):
        (search / name).write_text("{}")
    assert _previous_search(search, "new") is None
    assert sorted(p.name for p in search.iterdir()) == ["notes.json"]
