"""`rrlfeh serve` (MLflow's scoring server behind the project's front) under hostile requests and
200 concurrent ones: 4xx for client mistakes, ids never changed, strict JSON in every answer."""

from __future__ import annotations

import json
import socket
import urllib.request

import numpy as np
import pytest

from bench import serve_load

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url(model_dir, tmp_path_factory):
    proc, base = serve_load.start_server(str(model_dir), "rrlfeh",
                                         tmp_path_factory.mktemp("front") / "server.log")
    try:
        yield base
    finally:
        serve_load.stop_server(proc)


def _star(sid, **kw) -> dict:
    t = np.linspace(1700.0, 2600.0, 60)
    rec = {"source_id": sid, "type": "RRab", "period": 0.55, "epoch_g": 1700.2,
           "time": t.tolist(), "mag": (16 + 0.3 * np.sin(2 * np.pi * t / 0.55)).tolist()}
    rec.update(kw)
    return rec


def _post(url: str, records: list[dict]) -> tuple[int, dict]:
    status, text, _ = serve_load.post(url, json.dumps({"dataframe_records": records}).encode())
    return status, serve_load._strict(text)


def test_rejected_stars_are_null_in_strict_json(url):
    t = np.linspace(1700.0, 2600.0, 60)
    status, out = _post(url, [_star(1), _star(2, type="RRd"), _star(3, time=(t + 2455197.5).tolist()),
                              _star(4, time=t[:-1].tolist() + [1e15]), _star(5, mag=[17.0] * 60)])
    assert status == 200
    pred = out["predictions"]
    assert [p["source_id"] for p in pred] == [1, 2, 3, 4, 5]
    assert pred[0]["status"] == "ok" and isinstance(pred[0]["feh"], float)
    assert [p["reason"] for p in pred[1:4]] == ["unknown_type", "time_outside_window",
                                               "time_outside_window"]
    assert all(p["feh"] is None and p["feh_std"] is None for p in pred[1:])


@pytest.mark.parametrize("sid", [1.5, 2**63, 2**64 + 1, True, "12a"])
def test_ids_the_model_cannot_hold_are_a_400_never_changed(url, sid):
    status, out = _post(url, [_star(sid)])
    assert status == 400 and "source_id must be integers" in out["message"]


def test_impossible_ids_that_fit_are_a_per_star_reason(url):
    status, out = _post(url, [_star(0), _star(-5), _star(2**63 - 1)])
    assert status == 200
    assert [p["reason"] for p in out["predictions"]] == ["bad_source_id", "bad_source_id", ""]
    assert out["predictions"][2]["source_id"] == 2**63 - 1


def _raw(url: str, body: bytes, headers: dict, length: int | None = None) -> tuple[int, bytes]:
    """A request with exactly these headers (urllib would add a Content-Type of its own)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        n = len(body) if length is None else length
        s.sendall(f"POST /invocations HTTP/1.1\r\nHost: {host}\r\nContent-Length: {n}\r\n"
                  f"{head}Connection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_client_mistakes_are_4xx_and_never_echo_the_body(url):
    body = json.dumps({"dataframe_records": [_star(1)]}).encode()
    status, out = _raw(url, body, {})  # no Content-Type at all
    assert status == 415 and b"Content-Type" in out
    status, out = _raw(url, body, {"Content-Type": "text/plain"})
    assert status == 415
    # a type MLflow 3.17 does not read: refused by the front, which names the ones that work
    status, out = _raw(url, body, {"Content-Type": "application/octet-stream"})
    assert status == 415 and b"application/vnd.apache.parquet or application/x-parquet" in out, out
    junk = b'{"dataframe_records": [' + b"x" * (50 * 2**20)  # a malformed 50 MB body
    status, out = _raw(url, junk, {"Content-Type": "application/json"})
    assert status == 400 and len(out) < 1000, out[:300]
    # announced over the limit: refused before a byte of the body is read
    status, out = _raw(url, b"", {"Content-Type": "application/json"}, length=65 * 2**20)
    assert status == 413


@pytest.mark.parametrize("body", [
    b"[" * 100_000,  # json.loads: RecursionError, once a plain-text 500
    b'{"dataframe_records": [' + b"[" * 5_000 + b"]" * 5_000 + b"]}",
], ids=["100000_brackets", "5000_levels_in_records"])
def test_deeply_nested_json_is_a_400_in_strict_json(url, body):
    status, out = _raw(url, body, {"Content-Type": "application/json"})
    assert status == 400, (status, out[:300])
    err = serve_load._strict(out.decode())
    assert err["error_code"] == "BAD_REQUEST" and "nested deeper than" in err["message"]
    assert _post(url, [_star(1)])[0] == 200  # the server still answers


def test_json_at_the_depth_limit_reaches_mlflow_and_is_no_500(url):
    from rrlfeh.serving.front import MAX_JSON_DEPTH

    cell = 1700.5
    for _ in range(MAX_JSON_DEPTH - 3):  # {"dataframe_records": [{"time": ...}]} holds 3 levels
        cell = [cell]
    body = json.dumps({"dataframe_records": [_star(1, time=cell)]}).encode()
    status, out = _raw(url, body, {"Content-Type": "application/json"})
    assert 200 <= status < 500, (status, out[:300])
    serve_load._strict(out.decode())


def _parquet_body(records: list[dict]) -> bytes:
    import io

    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame(records).to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.mark.parametrize("ctype", ["application/vnd.apache.parquet", "application/x-parquet",
                                   "Application/X-Parquet"])
def test_parquet_requests_answer_as_json_does(url, ctype):
    t = np.linspace(1700.0, 2600.0, 60)
    records = [_star(1), _star(2, period=0.61), _star(3, type="RRc", period=0.33),
               _star(4, mag=(15 + 0.2 * np.cos(2 * np.pi * t / 0.55)).tolist())]
    status, want = _post(url, records)
    assert status == 200 and [p["status"] for p in want["predictions"]].count("ok") >= 3
    status, out = _raw(url, _parquet_body(records), {"Content-Type": ctype})
    assert status == 200, (status, out[:500])
    assert serve_load._strict(out.decode()) == want


def test_media_types_are_case_insensitive_as_in_http(url):
    body = json.dumps({"dataframe_records": [_star(1)]}).encode()
    for ctype in ("Application/JSON", "application/json; charset=utf-8"):
        status, out = _raw(url, body, {"Content-Type": ctype})
        assert status == 200, (ctype, status, out[:300])  # MLflow alone: a 415 for the first


def test_200_concurrent_requests_all_answer_in_strict_json(url, model_dir):
    bodies = serve_load.bodies(200, stars=1)
    serve_load.post(url, bodies[0])
    res = serve_load.fire(url, bodies, concurrency=200)
    assert res["status_200"] == 200 and res["strict_json"] == 200, res["answers"][:3]
    for body, (status, text) in zip(bodies, res["answers"]):
        sent = json.loads(body)["dataframe_records"]
        got = json.loads(text)["predictions"]
        assert [r["source_id"] for r in got] == [r["source_id"] for r in sent]  # in = out
    print({k: v for k, v in res.items() if k != "answers"})


def test_ping_and_version_are_mlflows(url):
    with urllib.request.urlopen(url + "/ping", timeout=10) as resp:
        assert resp.status == 200
