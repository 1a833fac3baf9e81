"""keras-tuner's chief/worker mode for `rrlfeh tune`, on one host or several.

keras-tuner's own protocol: a chief holds the oracle and serves trials over gRPC; workers ask it
for trials, train them and report back. Who is who comes from three environment variables:

- KERASTUNER_TUNER_ID: `chief` for the chief; `worker<N>` (unique per worker) for a worker
- KERASTUNER_ORACLE_IP: the address the chief listens on (0.0.0.0: every interface) and the
  workers connect to
- KERASTUNER_ORACLE_PORT: its port

With none set, `tune.workers` > 1 makes `rrlfeh tune` the chief of that many local worker
processes on a free port of 127.0.0.1. A chief started with the variables also starts
`tune.workers` local workers; more join from other hosts by running the same `rrlfeh tune`
command with a worker's variables. Every host needs the same code, params, data file and
MLflow tracking URI, and the same search folder (a shared file system): a Hyperband round
continues from the previous round's checkpoint, which another worker may have written.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import socket
import threading
from typing import Any, Callable, Iterator

from rrlfeh.config.loader import ConfigError
from rrlfeh.errors import RRLFehError
from rrlfeh.runtime import configure_keras_worker, configure_logging, resolve_jobs

ID, IP, PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
WORKER_ID = re.compile(r"worker\d+")
# what a tuner of ours leaves in the search folder: keras-tuner's `<tuner id>.json`
TUNER_FILE = re.compile(r"(tuner0|chief|worker\d+)\.json")
_ANY_ADDRESS = ("0.0.0.0", "::", "[::]")


def role() -> str:
    """`single` (no chief/worker variables), `chief` or `worker`, from keras-tuner's variables."""
    if IP not in os.environ:
        return "single"
    tuner_id = os.environ.get(ID, "")
    if PORT not in os.environ or not (tuner_id == "chief" or WORKER_ID.fullmatch(tuner_id)):
        raise ConfigError(f"with {IP} set, {PORT} must be set too and {ID} must be `chief` or "
                          f"`worker<N>` (got {ID}={tuner_id!r})")
    return "chief" if tuner_id == "chief" else "worker"


def local_workers(workers: int, mode: str) -> int:
    """Worker processes to start on this host: none in one-process mode (workers 1, no variables)."""
    n = resolve_jobs(workers)
    return 0 if mode == "single" and n == 1 else n


@contextlib.contextmanager
def chief_env() -> Iterator[tuple[str, str]]:
    """keras-tuner's chief variables while the chief runs (a free port of 127.0.0.1 unless they are
    set already); yields the address and port the local workers connect to."""
    saved = {k: os.environ.get(k) for k in (ID, IP, PORT)}
    if IP not in os.environ:
        os.environ.update({ID: "chief", IP: "127.0.0.1", PORT: str(_free_port())})
    ip = os.environ[IP]
    try:
        yield ("127.0.0.1" if ip in _ANY_ADDRESS else ip), os.environ[PORT]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_workers(n: int, address: tuple[str, str], target: Callable, args: tuple) -> list:
    """n spawned processes (TensorFlow and JAX are not fork-safe), each `target(*args)` as
    keras-tuner worker `worker<i>` of the chief at `address`."""
    threads = max(1, resolve_jobs(0) // max(n, 1))
    level = logging.getLevelName(logging.getLogger("rrlfeh").getEffectiveLevel())
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for i in range(n):
        env = {ID: f"worker{i}", IP: address[0], PORT: address[1]}
        proc = ctx.Process(target=_worker_main, args=(env, (threads, level), target, args), name=f"tune-worker{i}")
        proc.start()
        procs.append(proc)
    return procs


def _worker_main(env: dict, setup: tuple[int, str], target: Callable, args: tuple) -> None:
    """A spawned worker: keras-tuner's env, its share of the cores and the parent's log level (a
    spawned process starts without the CLI's logging, and its trial lines would be lost)."""
    os.environ.update(env)
    configure_keras_worker(setup[0])
    configure_logging(setup[1])
    target(*args)


def serve(tuner: Any, workers: list) -> None:
    """Run the chief (keras-tuner's oracle server, in a thread: it blocks until every worker that
    joined is told to stop) while watching the local workers; a worker that fails stops all."""
    failures: list[BaseException] = []

    def chief():
        try:
            tuner.search(verbose=0)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=chief, name="kerastuner-chief", daemon=True)
    thread.start()
    done = False
    try:
        while thread.is_alive():
            failed = [p for p in workers if p.exitcode not in (None, 0)]
            if failed:
                raise RRLFehError(f"tune worker {failed[0].name} exited with code {failed[0].exitcode} "
                                  "(its output above); the search resumes where it stopped on the next run")
            thread.join(1.0)
        done = not failures
    finally:
        for proc in workers:
            if not done and proc.is_alive():
                proc.terminate()
            proc.join()
    if failures:
        raise failures[0]
