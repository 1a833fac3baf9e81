"""A killed `extract` from files resumes from the parts it had read: same outputs, less work."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_epoch_batches
from tests.support.hostile import corrupt_one_member, per_source_zip, write_vari
from tests.support.model_fixture import simulate

ROOT = Path(__file__).resolve().parents[2]


def _read_all(path: Path, parts: Path | None, stop_after: int | None = None):
    """The batches and issues of one read, stopped (as a kill would) after `stop_after` batches."""
    issues: list = []
    batches = []
    for batch in iter_epoch_batches([path], 7, issues, parts=parts, rows_per_part=300):
        batches.append(batch)
        if stop_after is not None and len(batches) == stop_after:
            break
    return batches, issues


def test_an_interrupted_read_resumes_from_its_parts_with_the_same_frames(tmp_path, caplog):
    epochs = simulate(15, seed=5)["epoch_photometry"]
    path = per_source_zip(tmp_path / "e.zip", epochs)
    bad = corrupt_one_member(path)  # an issue inside the first part: replayed too
    expected, expected_issues = _read_all(path, None)
    parts = tmp_path / "parts"

    _read_all(path, parts, stop_after=2)  # the reader stops midway, its generator closed
    done = sorted(parts.glob("f*_p*.json"))
    assert done and not json.loads(done[-1].read_text())["complete"]

    with caplog.at_level(logging.INFO, logger="rrlfeh.core.epoch_stream"):
        got, issues = _read_all(path, parts)
    assert f"{len(done)} part(s) replayed" in caplog.text
    assert issues == expected_issues and [i.source_id for i in issues] == [bad]
    pd.testing.assert_frame_equal(pd.concat(got, ignore_index=True),
                                  pd.concat(expected, ignore_index=True))
    assert not parts.exists()  # emptied once the whole input was read


def test_a_changed_input_is_read_afresh(tmp_path):
    epochs = simulate(6, seed=6)["epoch_photometry"]
    path = per_source_zip(tmp_path / "e.zip", epochs)
    parts = tmp_path / "parts"
    _read_all(path, parts, stop_after=1)
    other = simulate(6, seed=7)["epoch_photometry"]
    per_source_zip(path, other)  # same name, other stars: the old parts must not be replayed
    got, _ = _read_all(path, parts)
    assert set(pd.concat(got)["source_id"]) == set(other["source_id"])


def test_a_planted_file_in_the_parts_folder_is_kept(tmp_path):
    epochs = simulate(3, seed=8)["epoch_photometry"]
    path = per_source_zip(tmp_path / "e.zip", epochs)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("mine")
    _read_all(path, parts)
    assert (parts / "notes.txt").read_text() == "mine" and not list(parts.glob("f*_p*"))


def _params(tmp_path: Path, root: Path) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["extract"]["source"] = "files"
    data["extract"]["files"].update(vari_rrlyrae=str(root / "vari_rrlyrae.csv"),
                                    epoch_photometry=[str(root / "datalink.zip")],
                                    rows_per_part=1000)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _extract(cwd: Path, params: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rrlfeh.cli", "extract", "--out", "raw", "--report", "extract.json",
         "--params", str(params)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    """A per-source zip of 600 stars: a few seconds of reading, dozens of parts."""
    root = tmp_path_factory.mktemp("big_input")
    data = simulate(300, seed=11)
    write_vari(root, data["vari_rrlyrae"])
    per_source_zip(root / "datalink.zip", data["epoch_photometry"])
    return root


@pytest.mark.integration
def test_a_killed_extract_resumes_and_writes_what_an_uninterrupted_run_writes(tmp_path, big_input):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for d in (whole, killed):
        d.mkdir()
    run = _extract(whole, _params(whole, big_input))
    assert run.wait(timeout=300) == 0, run.stdout.read()

    proc = _extract(killed, _params(killed, big_input))
    parts = killed / "raw" / "_files_parts"
    deadline = time.monotonic() + 240
    while len(list(parts.glob("f*_p*.json"))) < 3:  # three parts read: kill it
        assert proc.poll() is None, "extract ended before it could be killed: " + proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    n_done = len(list(parts.glob("f*_p*.json")))
    assert not json.loads(sorted(parts.glob("f*_p*.json"))[-1].read_text())["complete"]

    resumed = _extract(killed, _params(killed, big_input))
    out = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, out
    assert f"{n_done} part(s) replayed" in out, out
    assert not parts.exists()
    for name, table in [("epoch_photometry", "epoch_photometry"), ("vari_rrlyrae", "vari_rrlyrae"),
                        ("labels", "labels")]:
        pd.testing.assert_frame_equal(schema.read_table(killed / f"raw/{name}.parquet", table),
                                      schema.read_table(whole / f"raw/{name}.parquet", table))
    assert json.loads((killed / "extract.json").read_text()) == json.loads(
        (whole / "extract.json").read_text())
