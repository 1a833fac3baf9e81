"""Serving speed: latency of one-star requests and throughput of 1,000-star requests.

    python -m bench.serve [MODEL] [--single 300] [--batch-stars 1000] [--batches 10] [--workers 1]

Starts `mlflow models serve -m MODEL --env-manager local -h 127.0.0.1` itself (a free port), waits
for /ping, warms it up, then times POST /invocations round trips from one persistent HTTP
connection (the JSON bodies are built beforehand: only the server's work and the loopback are
timed). Requests are Gaia DR3-like light curves from the project's simulator (G epochs lognormal,
median 45); one-star requests use stars with at least predict.min_epochs epochs, so each is a real
prediction, 1,000-star requests take the stars as they come.

MODEL:
  auto (default)  models:/rrl-feh@champion of the project store when there is one, else `tiny`
  tiny            the test suite's tiny trained model (n_points 32, 8 GRU units, 2 folds per type)
  paper-size      an untrained ensemble of the paper's size (bench/predict.py builds it): speed only
  any other       a model URI the server resolves from MLFLOW_TRACKING_URI (or the project store)
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def resolve_model(model: str, workdir: Path) -> tuple[str, str]:
    """(model URI, label) and MLFLOW_TRACKING_URI set to the store that holds it."""
    import mlflow

    from bench import predict as bp  # its model builders: one implementation of `tiny` and `paper-size`
    from rrlfeh.tracking import tracking_uri

    if model == "auto":
        store = tracking_uri()
        os.environ["MLFLOW_TRACKING_URI"] = store
        mlflow.set_tracking_uri(store)
        mlflow.set_registry_uri(store)
        absent = store.startswith("sqlite:///") and not Path(store[len("sqlite:///"):]).exists()
        if not absent and bp._registered("models:/rrl-feh@champion"):
            return "models:/rrl-feh@champion", "project champion (models:/rrl-feh@champion)"
        return bp.tiny_model(workdir), "tiny test model (no champion in the project store)"
    if model == "tiny":
        return bp.tiny_model(workdir), "tiny test model"
    if model == "paper-size":
        return (bp.paper_size_model(workdir, 32, 5, 1),
                "untrained paper-size GRU ensemble (32 units, 5 folds per type; speed only)")
    os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri())
    return model, model


def request_bodies(n_stars: int, min_epochs: int, seed: int) -> tuple[list[str], list[dict]]:
    """Simulated stars as request records: (one-star bodies of stars with enough epochs, all rows)."""
    from rrlfeh.config import load_params
    from rrlfeh.sim.simulate import simulate_tables
    from rrlfeh.serving.payload import model_input_from_tables

    sim = load_params(ROOT / "params.yaml").extract.simulate
    cfg = dataclasses.replace(sim, preset="default", n_rrab=n_stars // 2, n_rrc=n_stars - n_stars // 2,
                              n_rrd=0)
    tables = simulate_tables(cfg, seed)
    rows = model_input_from_tables(tables["vari_rrlyrae"], tables["epoch_photometry"])
    records = [
        {"source_id": int(r.source_id), "type": r.type, "period": float(r.period),
         "epoch_g": float(r.epoch_g), "time": np.asarray(r.time).tolist(), "mag": np.asarray(r.mag).tolist()}
        for r in rows.itertuples(index=False)
    ]
    singles = [json.dumps({"dataframe_records": [r]}) for r in records if len(r["time"]) >= min_epochs]
    return singles, records


def start_server(model_uri: str, workers: int, log: Path) -> tuple[subprocess.Popen, int, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)],
            stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    while time.perf_counter() - start < 600:
        if proc.poll() is not None:
            sys.exit(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return proc, port, time.perf_counter() - start
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    sys.exit(f"server not ready after 600 s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # mlflow runs uvicorn as a child: stop the group
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def timed_posts(port: int, bodies: list[str]) -> tuple[np.ndarray, int]:
    """Seconds per request (one keep-alive connection) and the number of 'ok' stars answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    took, ok = [], 0
    for body in bodies:
        start = time.perf_counter()
        conn.request("POST", "/invocations", body=body.encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read()
        took.append(time.perf_counter() - start)
        if resp.status != 200:
            raise SystemExit(f"HTTP {resp.status}: {text[:500]!r}")
        ok += sum(p["status"] == "ok" for p in json.loads(text)["predictions"])
    conn.close()
    return np.asarray(took), ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="auto")
    ap.add_argument("--single", type=int, default=300, help="one-star requests timed")
    ap.add_argument("--batch-stars", type=int, default=1000, help="stars per throughput request")
    ap.add_argument("--batches", type=int, default=10, help="throughput requests timed")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers (mlflow models serve -w)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rrlfeh-bench-predict")
    args = ap.parse_args()

    from rrlfeh.runtime import configure_environment

    configure_environment()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from rrlfeh.config import load_params

    min_epochs = load_params(ROOT / "params.yaml").predict.min_epochs
    args.workdir.mkdir(parents=True, exist_ok=True)
    uri, label = resolve_model(args.model, args.workdir)
    singles, records = request_bodies(max(args.batch_stars, 2000), min_epochs, args.seed)
    rng = np.random.default_rng(args.seed)
    batches = [json.dumps({"dataframe_records": [records[i] for i in
               rng.choice(len(records), args.batch_stars, replace=False)]}) for _ in range(args.batches)]
    single = [singles[i % len(singles)] for i in range(args.single)]

    proc, port, startup = start_server(uri, args.workers, args.workdir / "serve.log")
    try:
        timed_posts(port, single[:5] + batches[:2])  # warm-up: TF traces each model's graph once
        lat, _ = timed_posts(port, single)
        thr, ok = timed_posts(port, batches)
    finally:
        stop_server(proc)
    n_batch = args.batches * args.batch_stars
    print(json.dumps({
        "bench": "serve", "model": label, "model_uri": uri, "workers": args.workers,
        "server_start_s": round(startup, 1),
        "single_star": {"requests": len(lat), "p50_ms": round(1e3 * float(np.percentile(lat, 50)), 1),
                        "p99_ms": round(1e3 * float(np.percentile(lat, 99)), 1),
                        "mean_ms": round(1e3 * float(lat.mean()), 1)},
        "batch": {"stars_per_request": args.batch_stars, "requests": len(thr),
                  "p50_request_s": round(float(np.percentile(thr, 50)), 2),
                  "stars_per_s": round(n_batch / float(thr.sum()), 1), "ok_fraction": round(ok / n_batch, 3)},
        "cpu_cores": len(os.sched_getaffinity(0)), "machine": platform.processor() or platform.machine(),
        "gpu": "none",
    }, indent=2))


if __name__ == "__main__":
    main()
