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
import json
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
from rrlfeh.core.epoch_stream import check_epoch_files
from rrlfeh.serving.atomic_files import replaced_together
from rrlfeh.errors import DataError
from rrlfeh import tracking
from rrlfeh.runtime import configure_keras_worker, resolve_jobs
from rrlfeh.serving import star_rows
from rrlfeh.serving.catalogue import (catalogue_format, check_writable, model_provenance, rejects_path,
                                      write_catalogue)
from rrlfeh.serving.model_files import effective_config, fetch_model

ENGINES = ("local", "spark")


def run_predict(cfg: PredictConfig, model_uri: str, inputs: list[Path], output: Path, engine: str,
                plots: Path | None = None, progress: bool = True, overrides: dict | None = None
                ) -> dict:
    """Predict every star of `inputs`, write the catalogue and its rejects; return the counts.

    The model computes with its own logged config (the registered version's min_epochs, error
    terms, sanity ranges), whatever the workspace's params.yaml says; `overrides` (`--set`) change
    it explicitly and are recorded in the catalogue's provenance. `cfg` gives the batch-only
    settings (chunk_stars, n_jobs, spark_master)."""
    output = Path(output)
    files = check_before_work(inputs, output, engine, plots)
    from rrlfeh.sources.files import read_vari_table

    stars = star_rows.star_table(read_vari_table(files.vari))
    labels, labels_report = _read_labels(files.labels, stars["source_id"].to_numpy())
    tracking.use_store_for_model(model_uri)
    load_uri, provenance = model_provenance(model_uri)

    start = time.perf_counter()
    screening = {"duplicate_epochs_dropped": 0, "stars_with_duplicate_epochs": 0}
    issues: list = []  # the epoch readers' (sources.files), kept for the no_epochs details
    with tempfile.TemporaryDirectory(prefix="rrlfeh-model-") as tmp:
        model_path = fetch_model(load_uri, Path(tmp))
        config = effective_config(model_path, overrides or {})
        if engine == "spark":
            from rrlfeh.serving.spark import predict_spark

            predicted, rejects, seen = predict_spark(cfg, model_path, config, files.epochs, stars,
                                                     issues)
        else:
            predicted, rejects, seen = predict_local(cfg, model_path, config, files.epochs, stars,
                                                     progress, screening, issues)
    wall = time.perf_counter() - start

    rejects = star_rows.concat_rejects([rejects, star_rows.missing_stars(stars, seen, issues)])
    catalogue = star_rows.assemble(predicted, stars, labels)
    counts = star_rows.reconcile(stars, seen, catalogue, rejects)

    provenance.update(
        created_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        rrlfeh_version=_version(), inputs=";".join(str(p) for p in inputs),
        model_config=json.dumps(config, sort_keys=True),
        model_config_overrides=json.dumps(overrides or {}, sort_keys=True),
    )
    write_outputs(catalogue, rejects, output, provenance)
    if engine == "local":
        counts.update(screening)
    counts.update(engine=engine, labels=labels_report, model=provenance, output=str(output),
                  rejects=str(rejects_path(output)), wall_s=round(wall, 2),
                  stars_per_s=round(counts["stars_in"] / wall, 1) if wall > 0 else None)
    if plots is not None:
        from rrlfeh.serving.plots import plot_catalogue

        counts["plots"] = [str(p) for p in plot_catalogue(catalogue, Path(plots))]
    return counts


def check_before_work(inputs: list[Path], output: Path, engine: str, plots: Path | None):
    """The input files found and opened, the outputs checked, before any long work: a bad
    extension, an unwritable place, an output over an input or an unreadable epoch file fails
    now, not after an hour (or after the model has loaded)."""
    from rrlfeh.sources.files import check_outputs_apart, discover

    catalogue_format(output)
    check_writable(output)
    check_writable(rejects_path(output))
    if plots is not None:
        check_writable(Path(plots), folder=True)
    if engine not in ENGINES:
        raise DataError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    files = discover([Path(p) for p in inputs])
    check_outputs_apart([output, rejects_path(output)], inputs, files)
    check_epoch_files(files.epochs)
    return files


def write_outputs(catalogue: pd.DataFrame, rejects: pd.DataFrame, output: Path,
                  provenance: dict) -> None:
    """The catalogue and its rejects, together or not at all: a full disk or a kill mid-write
    leaves the previous pair exactly as it was."""
    try:
        with replaced_together([output, rejects_path(output)]) as (cat_tmp, rej_tmp):
            write_catalogue(catalogue, cat_tmp, provenance)
            schema.write_table(rejects.sort_values("source_id", ignore_index=True), rej_tmp,
                               "rejected")
    except OSError as exc:
        raise DataError(f"{output}: the catalogue could not be written ({exc.strerror or exc}); "
                        "the files already there are kept") from exc


def predict_local(cfg: PredictConfig, model_path: str, config: dict, epoch_paths: list[Path],
                  stars: pd.DataFrame, progress: bool = True, counts: dict | None = None,
                  issues: list | None = None
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
    bounds, tally = Bounds.of(config), counts if counts is not None else {}

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
        for rows, out in runner(model_path, config, model_rows(), n_jobs):
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
