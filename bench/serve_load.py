"""Concurrent load on a real server: N requests sent at once, every answer checked strictly.

    python -m bench.serve_load [--url URL | --model PATH_OR_URI [--server rrlfeh|mlflow]]
                               [--requests 200] [--concurrency 200] [--stars 1]

Without --url it starts the server itself on 127.0.0.1 (a free port): `rrlfeh serve -m MODEL`
(default: MLflow's scoring app behind the project's front) or `mlflow models serve -m MODEL
--env-manager local`, waits for /ping and stops it at the end. Each request carries --stars tiny
simulated light curves (tests/support/model_fixture.py: in the Gaia DR3 span); all requests are
released together from --concurrency threads (one connection each). Prints one JSON object: how
many answered 200, how many parsed with a strict JSON parser (no NaN / Infinity), latency
p50/p95/max in ms (request sent -> answer read, queueing in the server included) and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def _strict(text: str):
    def refuse(const):
        raise ValueError(f"non-standard JSON constant {const}")
    return json.loads(text, parse_constant=refuse)


def post(url: str, body: bytes, timeout: float = 300) -> tuple[int, str, float]:
    req = urllib.request.Request(url + "/invocations", data=body,
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    return status, text, time.perf_counter() - t0


def fire(url: str, bodies: list[bytes], concurrency: int) -> dict:
    """Send every body, `concurrency` at a time, all released together; the answers' summary."""
    gate = threading.Barrier(min(concurrency, len(bodies)))

    def one(body: bytes):
        try:
            gate.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        return post(url, body)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    lat = np.array([r[2] for r in results]) * 1000
    strict = 0
    for status, text, _ in results:
        try:
            _strict(text)
            strict += 1
        except ValueError:
            pass
    return {"requests": len(bodies), "concurrency": concurrency,
            "status_200": sum(r[0] == 200 for r in results), "strict_json": strict,
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "max_ms": round(float(lat.max()), 1), "wall_s": round(wall, 2),
            "answers": [(r[0], r[1]) for r in results]}


def bodies(n_requests: int, stars: int, seed: int = 11) -> list[bytes]:
    from tests.support.model_fixture import simulate

    from rrlfeh.serving.payload import model_input_from_tables

    data = simulate(max(10, stars), seed)
    rows = model_input_from_tables(data["vari_rrlyrae"], data["epoch_photometry"])
    recs = [{"source_id": int(r.source_id), "type": r.type, "period": float(r.period),
             "epoch_g": float(r.epoch_g), "time": np.asarray(r.time).tolist(),
             "mag": np.asarray(r.mag).tolist()} for r in rows.itertuples()]
    out = []
    for i in range(n_requests):
        pick = [recs[(i * stars + k) % len(recs)] for k in range(stars)]
        out.append(json.dumps({"dataframe_records": pick}).encode())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, server: str, log: Path) -> tuple[subprocess.Popen, str]:
    """A server subprocess (own process group) and its URL, once /ping answers."""
    port = free_port()
    if server == "rrlfeh":
        cmd = [str(BIN / "rrlfeh"), "serve", "-m", model, "--host", "127.0.0.1", "-p", str(port)]
    else:
        cmd = [str(BIN / "mlflow"), "models", "serve", "-m", model, "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"server not ready after 300 s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url")
    ap.add_argument("--model")
    ap.add_argument("--server", choices=("rrlfeh", "mlflow"), default="rrlfeh")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--stars", type=int, default=1)
    a = ap.parse_args()
    if not a.url and not a.model:
        ap.error("give --url of a running server or --model to start one")
    body = bodies(a.requests, a.stars)
    proc = None
    url = a.url
    if not url:
        proc, url = start_server(a.model, a.server, Path(f"/tmp/serve_load_{os.getpid()}.log"))
    try:
        post(url, body[0])  # warm: the first request pays for lazy imports
        res = fire(url, body, a.concurrency)
    finally:
        if proc is not None:
            stop_server(proc)
    res.pop("answers")
    res.update(server=a.server if not a.url else a.url, stars_per_request=a.stars,
               cpus=os.cpu_count(), machine=platform.processor() or platform.machine())
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
