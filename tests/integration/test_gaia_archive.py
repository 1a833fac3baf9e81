"""`extract.source: gaia` end to end: the real astroquery client, a fake archive on 127.0.0.1.

Covers sync and async TAP, DataLink zips in CSV and VOTable, batch boundaries (batch size 2-3),
labels from a URL with renamed columns, the archive's failure modes (HTML error pages, a zip that
lacks files, an unexpected column type, a truncated download, a stall mid-batch) and the resume
of an interrupted run from the batches on disk.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.table import Table

from rrlfeh.config import load_params
from rrlfeh.config.data import GaiaConfig
from rrlfeh.core import schema
from rrlfeh.sources.adql import vari_query
from rrlfeh.sources.archive_client import Retry
from rrlfeh.sources.extract import run_extract
from rrlfeh.errors import DataError
from tests.support.fake_gaia_archive import FakeGaiaArchive

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def tiny_catalogue(n_stars: int, seed: int = 0, n_epochs: int = 12):
    """A few Gaia-like RR Lyrae: the vari_rrlyrae rows and their G/BP/RP epoch rows."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(1, 5 * 10**5), n_stars, replace=False)) * 10**13 + 123_457
    # 19-digit ids, as Gaia's: a float64 would round them
    rrab = np.arange(n_stars) % 3 != 2
    period = np.where(rrab, rng.uniform(0.45, 0.75, n_stars), rng.uniform(0.25, 0.4, n_stars))
    vari = pd.DataFrame({
        "source_id": ids, "ra": rng.uniform(0, 360, n_stars), "dec": rng.uniform(-90, 90, n_stars),
        "pf": np.where(rrab, period, np.nan), "p1_o": np.where(rrab, np.nan, period),
        "epoch_g": rng.uniform(1700, 1800, n_stars), "peak_to_peak_g": rng.uniform(0.3, 1, n_stars),
        "num_clean_epochs_g": float(n_epochs), "phi31_g": rng.uniform(1.5, 3.0, n_stars),
        "phi31_g_error": rng.uniform(0.05, 0.2, n_stars),
        "best_classification": np.where(rrab, "RRab", "RRc"),
        "int_average_g": rng.uniform(14, 18, n_stars),
    })
    n = n_stars * n_epochs
    t = np.sort(rng.uniform(1666.5, 2704.0, (n_stars, n_epochs)), axis=1).ravel()
    g = pd.DataFrame({
        "solution_id": 375316653866487564, "source_id": np.repeat(ids, n_epochs),
        "transit_id": 17_000_000_000_000_000 + np.arange(n), "band": "G", "time": t,
        "mag": 16 + 0.3 * np.cos(2 * np.pi * t / np.repeat(period, n_epochs)),
        "flux": rng.uniform(3000, 5000, n), "flux_error": 15.0, "flux_over_error": 250.0,
        "rejected_by_photometry": False, "rejected_by_variability": rng.random(n) < 0.05,
        "other_flags": 1,
    })
    bp = g.assign(band="BP", mag=g["mag"] + 0.2)
    epochs = pd.concat([g, bp]).sort_values(["source_id", "transit_id", "band"], kind="stable")
    return vari, epochs.reset_index(drop=True)


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    """Fail the test on any connection that would leave the machine."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"connection to {address} attempted"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def _params(tmp_path: Path, **gaia) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["extract"]["source"] = "gaia"
    data["extract"]["gaia"].update({"backoff_s": 0.01, "timeout_s": 5.0, **gaia})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _extract(tmp_path: Path, **gaia) -> dict:
    out = tmp_path / "raw"
    return run_extract(load_params(_params(tmp_path, **gaia)), out, tmp_path / "extract.json")


def _same_epochs(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    key = ["source_id", "transit_id", "band"]
    a = written.sort_values(key).reset_index(drop=True)
    b = schema.conform(expected, "epoch_photometry").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-12)


def test_cli_async_votable_with_labels_from_url(tmp_path):
    vari, epochs = tiny_catalogue(7, seed=1)
    ids = vari["source_id"].tolist()
    labels = Table({"Source": ids[:5] + [ids[1], ids[2], 42], "FeH": [-1.5, -1.2, -0.8, -2.0, -1.7,
                    -1.2, -0.1, -1.0], "e_FeH": [0.3] * 8})
    buf = io.StringIO()
    labels.write(buf, format="ascii.ecsv")
    files = {"muraveva_2025": buf.getvalue().encode()}  # a service URL: no suffix to go by
    with FakeGaiaArchive(vari, epochs, files=files) as fake:
        params = _params(tmp_path, tap_server=fake.url, data_server=fake.url, batch_size=3,
                         labels=f"{fake.url}files/muraveva_2025?-out.all=1",
                         labels_columns={"source_id": "Source", "feh": "FeH", "feh_error": "e_FeH"})
        run = subprocess.run(
            [sys.executable, "-m", "rrlfeh.cli", "extract", "--out", "raw", "--report",
             "extract.json", "--params", str(params)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert [len(i) for i in fake.datalink_ids] == [3, 3, 1]  # batch boundary
        assert any(p.endswith("/phase") for _, p in fake.requests)  # the async job was polled
    report = json.loads((tmp_path / "extract.json").read_text())
    assert (report["ids_requested"], report["ids_received"], report["ids_written"]) == (7, 7, 7)
    assert report["n_ids_missing"] == 0 and report["tap_mode"] == "async"
    got_vari = schema.read_table(tmp_path / "raw/vari_rrlyrae.parquet", "vari_rrlyrae")
    assert got_vari["source_id"].tolist() == ids  # 19-digit ids intact
    np.testing.assert_allclose(got_vari["pf"], vari["pf"], equal_nan=True)
    _same_epochs(schema.read_table(tmp_path / "raw/epoch_photometry.parquet", "epoch_photometry"),
                 epochs)
    got_labels = schema.read_table(tmp_path / "raw/labels.parquet", "labels")
    # ids[1] repeats identically (kept once), ids[2] disagrees (kept unlabelled), 42 is not ours
    assert got_labels["source_id"].tolist() == [ids[0], ids[1], ids[3], ids[4]]
    lab = report["labels"]
    assert (lab["rows_repeated"], lab["n_conflicting_labels"]) == (1, 1)
    assert lab["rows_not_in_catalogue"] == 1
    assert lab["stars_labelled"] == 4 and lab["stars_unlabelled"] == 3
    assert list(lab["conflicting_labels"]) == [str(ids[2])]


def test_sync_csv_missing_file_and_bad_column_type_are_reported(tmp_path):
    vari, epochs = tiny_catalogue(6, seed=2)
    ids = vari["source_id"].tolist()
    with FakeGaiaArchive(vari, epochs) as fake:
        fake.fault("datalink_missing", after=1)  # 2nd batch lacks its last file
        fake.fault("datalink_bad_type", after=2)  # 3rd batch: source_id written as a double
        report = _extract(tmp_path, tap_server=fake.url, data_server=fake.url, tap_mode="sync",
                          datalink_format="csv", batch_size=2)
    assert fake.queries[0].startswith("SELECT TOP 2001 ")
    assert (report["ids_requested"], report["ids_received"], report["ids_written"]) == (6, 5, 4)
    missing = report["ids_missing"]
    assert set(missing) == {str(ids[3]), str(ids[4])}
    assert "not returned by the archive" in missing[str(ids[3])]
    assert "floating point" in missing[str(ids[4])] and f"{ids[4]}.csv" in missing[str(ids[4])]
    assert missing[str(ids[3])].startswith("no_epochs: ")
    assert missing[str(ids[4])].startswith("unreadable_epoch_file: ")
    written = schema.read_table(tmp_path / "raw/epoch_photometry.parquet", "epoch_photometry")
    _same_epochs(written, epochs[~epochs["source_id"].isin([ids[3], ids[4]])])
    # the stars without epochs stay in the catalogue: clean drops them with a reason
    assert len(schema.read_table(tmp_path / "raw/vari_rrlyrae.parquet", "vari_rrlyrae")) == 6


@pytest.mark.parametrize("fmt", ["ecsv", "fits"])
def test_other_datalink_formats(tmp_path, fmt):
    vari, epochs = tiny_catalogue(3, seed=7)
    with FakeGaiaArchive(vari, epochs) as fake:
        report = _extract(tmp_path, tap_server=fake.url, data_server=fake.url,
                          datalink_format=fmt, batch_size=2)
    assert report["ids_written"] == 3
    _same_epochs(schema.read_table(tmp_path / "raw/epoch_photometry.parquet", "epoch_photometry"),
                 epochs)


def test_transient_failures_are_retried(tmp_path):
    vari, epochs = tiny_catalogue(4, seed=3)
    with FakeGaiaArchive(vari, epochs) as fake:
        fake.fault("tap_html")
        fake.fault("datalink_html")
        fake.fault("datalink_truncated", after=1)  # the retry of the error page
        report = _extract(tmp_path, tap_server=fake.url, data_server=fake.url, batch_size=3,
                          retries=2, where="best_classification IN ('RRab', 'RRc')")
    assert report["transient_failures"] == 3
    assert report["ids_written"] == 4 and report["n_ids_missing"] == 0
    _same_epochs(schema.read_table(tmp_path / "raw/epoch_photometry.parquet", "epoch_photometry"),
                 epochs)


def test_persistent_error_page_fails_with_one_clear_line(tmp_path):
    vari, epochs = tiny_catalogue(3, seed=4)
    with FakeGaiaArchive(vari, epochs) as fake:
        fake.fault("datalink_html", times=-1)
        params = _params(tmp_path, tap_server=fake.url, data_server=fake.url, retries=1)
        run = subprocess.run(
            [sys.executable, "-m", "rrlfeh.cli", "extract", "--params", str(params)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    err = [line for line in run.stderr.splitlines() if line.startswith("rrlfeh: error:")]
    assert len(err) == 1, run.stderr  # above it only the retry warning
    assert "HTML page" in err[0] and "Service Unavailable" in err[0] and "2 tries" in err[0]


def test_interrupted_run_resumes_from_the_batches_on_disk(tmp_path):
    vari, epochs = tiny_catalogue(7, seed=5)
    ids = vari["source_id"].tolist()
    with FakeGaiaArchive(vari, epochs) as fake:
        kw = dict(tap_server=fake.url, data_server=fake.url, batch_size=2, timeout_s=0.5)
        fake.fault("datalink_stall", times=-1, after=2)  # the 3rd batch never completes
        with pytest.raises(DataError, match=r"batch 3/4 .*2 of 4 batches are saved.*resume"):
            _extract(tmp_path, retries=1, **kw)
        assert len(fake.datalink_ids) == 4  # batches 1, 2, then batch 3 tried twice
        fake.clear_faults()
        first = len(fake.datalink_ids)
        report = _extract(tmp_path, **kw)
        assert fake.datalink_ids[first:] == [ids[4:6], ids[6:7]]  # only what was left
        assert len(fake.queries) == 1  # the star list was kept, not queried again
    assert report["batches_resumed"] == 2 and report["query_resumed"] is True
    assert (report["ids_requested"], report["ids_written"]) == (7, 7)
    _same_epochs(schema.read_table(tmp_path / "raw/epoch_photometry.parquet", "epoch_photometry"),
                 epochs)
    with FakeGaiaArchive(vari, epochs) as fake:  # another request: the old batches are stale
        report = _extract(tmp_path, tap_server=fake.url, data_server=fake.url, batch_size=3)
    assert report["cache_reset"] is True and report["batches_resumed"] == 0


def test_query_selection_and_sync_limit(tmp_path):
    q = vari_query(GaiaConfig(where="best_classification = 'RRab'", source_ids=[5, 3], top=10))
    assert "TOP 10" in q and "(best_classification = 'RRab')" in q
    assert "v.source_id IN (3, 5)" in q and "JOIN gaiadr3.gaia_source AS g" in q
    vari, epochs = tiny_catalogue(2001, seed=6, n_epochs=1)
    with FakeGaiaArchive(vari, epochs) as fake:
        kw = dict(tap_server=fake.url, data_server=fake.url, tap_mode="sync")
        with pytest.raises(DataError, match="more than 2000 rows"):
            _extract(tmp_path, **kw)
        report = _extract(tmp_path, where="best_classification = 'RRc'", top=5, **kw)
    assert report["ids_requested"] == 5 and report["ids_written"] == 5
    rrc = schema.read_table(tmp_path / "raw/vari_rrlyrae.parquet", "vari_rrlyrae")
    assert (rrc["best_classification"] == "RRc").all()


def test_config_checks():
    from rrlfeh.config import ConfigError
    from rrlfeh.config.loader import from_dict

    with pytest.raises(ConfigError, match="batch_size must be 1..5000"):
        from_dict(GaiaConfig, {"batch_size": 6000}, "params.extract.gaia")
    with pytest.raises(ConfigError, match=r"labels_columns: unknown key\(s\) \['FeH'\]"):
        from_dict(GaiaConfig, {"labels_columns": {"FeH": "feh"}}, "params.extract.gaia")
    with pytest.raises(ConfigError, match="one ADQL condition"):
        from_dict(GaiaConfig, {"where": "1=1; DROP TABLE x"}, "params.extract.gaia")


def test_retry_backs_off_exponentially_and_gives_up():
    waits: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise ConnectionResetError("reset by peer")

    retry = Retry(retries=3, backoff_s=0.5, sleep=waits.append)
    with pytest.raises(DataError, match="failed after 4 tries.*reset by peer"):
        retry(flaky, "thing")
    assert waits == [0.5, 1.0, 2.0] and len(calls) == 4 and retry.failures == 4
