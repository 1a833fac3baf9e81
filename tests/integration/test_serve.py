"""`mlflow models serve -m models:/rrl-feh@champion` for real: a subprocess on 127.0.0.1.

One server per module (starting one loads TensorFlow and the model: the slow part); it is
always stopped, with the process group it started (mlflow runs uvicorn as a child).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from rrlfeh.serving.payload import OUTPUT_COLUMNS, model_input_from_tables
from tests.support.model_fixture import register_tiny, simulate
from tests.support.stores import private_store

pytestmark = pytest.mark.integration
URI = "models:/rrl-feh@champion"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes | str, timeout: float = 120) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url + "/invocations", data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _records(df: pd.DataFrame) -> str:
    """The rows as the JSON a client sends: lists, and null where a magnitude error is missing."""
    rows = df.assign(time=[np.asarray(t).tolist() for t in df["time"]],
                     mag=[np.asarray(m).tolist() for m in df["mag"]])
    if "mag_error" in df.columns:
        rows = rows.assign(mag_error=[[None if np.isnan(v) else v for v in np.asarray(e, float).tolist()]
                                      for e in df["mag_error"]])
    return json.dumps({"dataframe_records": rows.to_dict(orient="records")})


def _answer(status: int, text: str) -> pd.DataFrame:
    assert status == 200, text[:2000]
    return pd.DataFrame(json.loads(text)["predictions"])


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, limit: float = 240) -> None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"server not ready after {limit}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(tiny_workspace, tmp_path_factory):
    """(base URL, in-process model): the tiny model registered as champion and served."""
    tmp = tmp_path_factory.mktemp("serve_store")
    with private_store(tmp):  # the conftest's mlflow_store, for a whole module
        register_tiny(tiny_workspace)
        port = _free_port()
        log = tmp / "server.log"
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        with open(log, "w") as fh:
            proc = subprocess.Popen(
                [str(BIN / "mlflow"), "models", "serve", "-m", URI, "--env-manager", "local",
                 "-h", "127.0.0.1", "-p", str(port)],
                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc, log)
            yield url, mlflow.pyfunc.load_model(URI)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.fixture(scope="module")
def test_stars(tiny_workspace) -> pd.DataFrame:
    """The tiny workspace's clean stars of both types as request rows."""
    from rrlfeh.core import schema

    vari = schema.read_table(tiny_workspace.clean_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")
    ep = schema.read_table(tiny_workspace.clean_dir / "epoch_photometry.parquet", "epoch_photometry")
    rows = model_input_from_tables(vari, ep)
    return pd.concat([rows.head(20), rows.tail(20)], ignore_index=True)


def test_served_answers_equal_in_process_predictions(server, test_stars):
    url, model = server
    got = _answer(*_post(url, _records(test_stars)))
    want = model.predict(test_stars)
    assert list(got.columns) == list(OUTPUT_COLUMNS)
    assert got["source_id"].tolist() == test_stars["source_id"].tolist()  # same order
    assert (got["status"] == "ok").all() and set(test_stars["type"]) == {"RRab", "RRc"}
    np.testing.assert_allclose(got["feh"], want["feh"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["feh_std"], want["feh_std"], rtol=0, atol=1e-9)
    assert (got["feh_std"] > 0).all()  # a two-model ensemble disagrees a little
    assert got["n_epochs"].tolist() == want["n_epochs"].tolist()
    assert got["out_of_range"].tolist() == want["out_of_range"].tolist()


@pytest.mark.parametrize("body, fragment", [
    ('{"dataframe_records": [{"source_id": 1, "type": "RRab", "period": 0.5, "epoch_g": 1700.0,'
     ' "time": [1700.0, 1700.3]}]}', "missing inputs ['mag']"),
    ('{"dataframe_records": [{"source_id": 1, "type": "RRab", "period": "half a day",'
     ' "epoch_g": 1700.0, "time": [1700.0], "mag": [17.0]}]}', "column period"),
    ('{"dataframe_records": [{"source_id": 1, "type": "RRab", "period": 0.5, "epoch_g": 1700.0,'
     ' "time": 1700.0, "mag": [17.0]}]}', "column time"),
    ('{"dataframe_records": [{"source_id": "Gaia DR3 1", "type": "RRab", "period": 0.5,'
     ' "epoch_g": 1700.0, "time": [1700.0], "mag": [17.0]}]}', "source_id"),
    ('{"dataframe_records": []}', "missing inputs"),
    ('{"stars": []}', "dataframe_records"),
    ("this is not json", "valid JSON"),
])
def test_malformed_requests_get_a_clear_400(server, body, fragment):
    status, text = _post(server[0], body)
    assert status == 400, text
    assert fragment in json.loads(text)["message"]


def test_bad_stars_get_a_reason_and_keep_their_row(server, test_stars):
    url, _ = server
    rows = test_stars.head(8).copy().astype({"time": object, "mag": object, "mag_error": object,
                                             "type": object})
    t, m, e = (np.asarray(rows.at[0, c]) for c in ("time", "mag", "mag_error"))
    rows.at[0, "time"], rows.at[0, "mag"], rows.at[0, "mag_error"] = [], [], []  # empty arrays
    rows.at[1, "mag"] = np.full(len(rows.at[1, "mag"]), np.nan)  # NaN-only magnitudes
    rows.at[2, "time"] = np.asarray(rows.at[2, "time"])[:-1]  # mismatched lengths
    rows.at[3, "type"] = "RRd"
    rows.at[4, "period"] = -0.5
    rows.at[5, "time"], rows.at[5, "mag"], rows.at[5, "mag_error"] = t[:8], m[:8], e[:8]  # below predict.min_epochs
    m6 = np.asarray(rows.at[6, "mag"]).copy()
    m6[::3] = np.nan  # some NaN epochs: dropped, the star is still answered
    rows.at[6, "mag"] = m6
    body = _records(rows).replace("NaN", "null")  # JSON has no NaN: nulls are how clients send gaps
    got = _answer(*_post(url, body))
    assert got["source_id"].tolist() == rows["source_id"].tolist()
    assert got["reason"].tolist()[:7] == [
        "invalid_input", "invalid_input", "invalid_input", "unknown_type", "bad_period",
        "few_epochs", ""]
    assert got["status"].tolist() == ["rejected"] * 6 + ["ok", "ok"]
    assert got["feh"][:6].isna().all() and got["feh"][6:].notna().all()
    assert got.at[6, "n_epochs"] == np.isfinite(m6).sum()
    assert got.at[5, "n_epochs"] == 8


def test_ten_thousand_stars_in_one_request(server):
    url, _ = server
    data = simulate(5000, seed=99)
    rows = model_input_from_tables(data["vari_rrlyrae"], data["epoch_photometry"])
    body = _records(rows)
    start = time.monotonic()
    got = _answer(*_post(url, body, timeout=90))
    took = time.monotonic() - start
    assert len(got) == 10_000 and got["source_id"].tolist() == rows["source_id"].tolist()
    assert (got["status"] == "ok").mean() > 0.99
    assert took < 60, f"{took:.1f}s: over the scoring server's default 60 s timeout"
    # the server keeps answering afterwards
    with urllib.request.urlopen(url + "/ping", timeout=5) as resp:
        assert resp.status == 200
    assert len(_answer(*_post(url, _records(rows.head(1))))) == 1
