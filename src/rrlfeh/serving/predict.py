"""`rrlfeh predict`: [Fe/H] for a whole catalogue with the registered end-to-end model.

Inputs are Gaia-layout files (or our own data/raw, data/clean folders) read by rrlfeh.sources.files;
the epoch photometry is streamed in chunks of whole stars, so memory stays bounded whatever the
catalogue size. The model is fetched from the registry once; on the local engine each worker
process loads it once and predicts whole chunks (preprocessing + GRU ensemble) while the main
process reads and groups the next chunks. `--engine spark` runs the same model through
mlflow.pyfunc.spark_udf (serving/spark.py). Both engines end in the same reconciliation:
every star in = stars in the catalogue + stars in <output>_rejected.parquet, each with its reason.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import tempfile
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from rrlfeh.config.serving import PredictConfig
from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.runtime import configure_keras_worker, resolve_jobs
from rrlfeh.serving import star_rows
from rrlfeh.serving.catalogue import (catalogue_format, check_writable, model_provenance, rejects_path,
                                      write_catalogue)
from rrlfeh.serving.registry import model_config  # min_epochs, ensemble_size, batch_size

ENGINES = ("local", "spark")


def run_predict(cfg: PredictConfig, model_uri: str, inputs: list[Path], output: Path, engine: str,
                plots: Path | None = None, progress: bool = True) -> dict:
    """Predict every star of `inputs`, write the catalogue and its rejects; return the counts."""
    output = Path(output)
    catalogue_format(output)  # a bad extension or an unwritable place fails now, not after an hour
    check_writable(output)
    check_writable(rejects_path(output))
    if plots is not None:
        check_writable(Path(plots), folder=True)
    if engine not in ENGINES:
        raise DataError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    from rrlfeh.sources.files import discover, read_vari_table

    files = discover([Path(p) for p in inputs])
    stars = star_rows.star_table(read_vari_table(files.vari))
    labels, labels_report = _read_labels(files.labels, stars["source_id"].to_numpy())
    _use_project_registry(model_uri)
    load_uri, provenance = model_provenance(model_uri)

    start = time.perf_counter()
    screening = {"duplicate_epochs_dropped": 0, "stars_with_duplicate_epochs": 0}
    issues: list = []  # the epoch readers' (sources.files), kept for the no_epochs details
    with tempfile.TemporaryDirectory(prefix="rrlfeh-model-") as tmp:
        model_path = _fetch_model(load_uri, Path(tmp))
        if engine == "spark":
            from rrlfeh.serving.spark import predict_spark

            predicted, rejects, seen = predict_spark(cfg, model_path, files.epochs, stars, issues)
        else:
            predicted, rejects, seen = predict_local(cfg, model_path, files.epochs, stars, progress,
                                                     screening, issues)
    wall = time.perf_counter() - start

    rejects = star_rows.concat_rejects([rejects, star_rows.missing_stars(stars, seen, issues)])
    catalogue = star_rows.assemble(predicted, stars, labels)
    counts = star_rows.reconcile(stars, seen, catalogue, rejects)

    provenance.update(
        created_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        rrlfeh_version=_version(), inputs=";".join(str(p) for p in inputs),
    )
    write_catalogue(catalogue, output, provenance)
    schema.write_table(rejects.sort_values("source_id", ignore_index=True), rejects_path(output),
                       "rejected")
    if engine == "local":
        counts.update(screening)
    counts.update(engine=engine, labels=labels_report, model=provenance, output=str(output),
                  rejects=str(rejects_path(output)), wall_s=round(wall, 2),
                  stars_per_s=round(counts["stars_in"] / wall, 1) if wall > 0 else None)
    if plots is not None:
        from rrlfeh.serving.plots import plot_catalogue

        counts["plots"] = [str(p) for p in plot_catalogue(catalogue, Path(plots))]
    return counts


def predict_local(cfg: PredictConfig, model_path: str, epoch_paths: list[Path], stars: pd.DataFrame,
                  progress: bool = True, counts: dict | None = None, issues: list | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Stream the epoch files through the model: (predicted rows, rejects, every source_id seen).
    Impossible stars are rejected before the model (serving/sanity.py, as the model itself does);
    `counts` gets the exactly repeated epochs dropped, `issues` the epoch readers' issues."""
    from tqdm import tqdm

    from rrlfeh.sources.files import iter_epoch_batches

    from rrlfeh.serving.sanity import Bounds

    predicted, rejects, seen = [], [], []
    issues = [] if issues is None else issues
    known = stars["source_id"].to_numpy()
    bounds, tally = Bounds.of(cfg), counts if counts is not None else {}

    def model_rows() -> Iterator[pd.DataFrame]:
        for epochs in iter_epoch_batches(epoch_paths, cfg.chunk_stars, issues):
            rows, rej, ids = star_rows.chunk_rows(epochs, stars, bounds, tally)
            rejects.append(rej)
            seen.append(ids)
            bar.update(int(star_rows.isin_sorted(ids, known).sum()) - len(rows))  # settled already
            yield rows

    # no more workers than chunks: each one costs a model load (seconds) before its first star
    n_jobs = min(resolve_jobs(cfg.n_jobs), -(-len(stars) // cfg.chunk_stars))
    n_jobs = max(n_jobs, 1)
    with tqdm(total=len(stars), unit="star", disable=not progress, desc="predict") as bar:
        runner = _predict_in_process if n_jobs == 1 else _predict_in_pool
        for rows, out in runner(model_path, model_config(cfg), model_rows(), n_jobs):
            ok, rej = star_rows.split_output(rows, out)
            predicted.append(ok)
            rejects.append(rej)
            bar.update(len(rows))
    unreadable, ids = star_rows.issue_rejects(issues)
    rejects.append(unreadable)
    seen.append(ids)
    return (pd.concat(predicted, ignore_index=True) if predicted else star_rows.empty_predicted(),
            star_rows.concat_rejects(rejects),
            np.concatenate(seen) if seen else np.empty(0, dtype="int64"))


def _predict_in_process(model_path: str, config: dict, chunks: Iterable[pd.DataFrame], n_jobs: int):
    """One model in this process; a reader thread prepares the next chunks meanwhile (TensorFlow
    and pyarrow release the GIL, so reading overlaps the GRU)."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_path, model_config=config)
    for rows in _prefetch(chunks, depth=2):
        if len(rows):
            yield rows, model.predict(rows)


def _prefetch(items: Iterable, depth: int) -> Iterator:
    """`items` produced by a background thread, at most `depth` ahead; its errors re-raised here."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001  handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=produce, name="rrlfeh-reader", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _predict_in_pool(model_path: str, config: dict, chunks: Iterable[pd.DataFrame], n_jobs: int):
    """Chunks predicted by `n_jobs` worker processes, results in input order, a few in flight."""
    # spawn, not fork: a forked copy of a process that has TensorFlow threads can deadlock.
    ctx = multiprocessing.get_context("spawn")
    threads = max(1, resolve_jobs(0) // n_jobs)  # cores per worker: no oversubscription
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(model_path, config, threads)) as pool:
        pending: deque = deque()
        for rows in chunks:
            if not len(rows):
                continue
            pending.append((rows, pool.submit(_worker_predict, rows)))
            if len(pending) > 2 * n_jobs:  # bounded: the reader never runs far ahead of the model
                done_rows, fut = pending.popleft()
                yield done_rows, fut.result()
        while pending:
            done_rows, fut = pending.popleft()
            yield done_rows, fut.result()


_WORKER_MODEL = None


def _init_worker(model_path: str, config: dict, threads: int) -> None:
    global _WORKER_MODEL
    configure_keras_worker(threads)
    import mlflow

    _WORKER_MODEL = mlflow.pyfunc.load_model(model_path, model_config=config)


def _worker_predict(rows: pd.DataFrame) -> pd.DataFrame:
    return _WORKER_MODEL.predict(rows)


def _fetch_model(load_uri: str, dst: Path) -> str:
    """A local copy of the model, fetched once; workers and Spark executors load that copy."""
    if Path(load_uri).exists():
        if not (Path(load_uri) / "MLmodel").is_file():
            raise DataError(f"{load_uri}: not an MLflow model folder (no MLmodel file); give "
                            "models:/name@alias, models:/name/version or a saved model's folder")
        return str(Path(load_uri).resolve())
    import mlflow
    from mlflow.exceptions import MlflowException

    from rrlfeh.redact import redact

    try:
        return mlflow.artifacts.download_artifacts(artifact_uri=load_uri, dst_path=str(dst))
    except MlflowException as exc:
        raise DataError(f"cannot fetch model {redact(load_uri)!r}: {redact(exc.message)}") from None
    except OSError as exc:  # a local path that does not exist, a refused connection
        raise DataError(f"cannot fetch model {redact(load_uri)!r}: {redact(exc)}") from None


def _use_project_registry(model_uri: str) -> None:
    """models:/ URIs resolve against the project's store (or MLFLOW_TRACKING_URI)."""
    from rrlfeh.tracking import tracking_uri, use_store

    store = tracking_uri()
    db = Path(store[len("sqlite:///"):]) if store.startswith("sqlite:///") else None
    if model_uri.startswith("models:/") and db is not None and not db.exists():
        # asking SQLite would create an empty store here; say where we looked instead
        raise DataError(f"model {model_uri!r}: no MLflow store at {db} (run `dvc repro` first, "
                        "or set MLFLOW_TRACKING_URI)")
    use_store()


def _read_labels(path: Path | None, star_ids: np.ndarray) -> tuple[pd.DataFrame | None, dict | None]:
    """One label per catalogued star (conflicting label rows leave the star unlabelled)."""
    if path is None:
        return None, None
    from rrlfeh.sources.labels import match_labels, read_labels_table

    labels, report = match_labels(read_labels_table(path), star_ids, str(path))
    report.pop("conflicting_labels", None)  # the count stays; the per-star list can be long
    return labels, report


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rrlfeh")
    except PackageNotFoundError:
        return "unknown"
