"""Preprocess a whole catalogue: stream chunks of whole stars through worker processes.

Memory stays bounded by (chunk size x chunks in flight) plus the output tensor; results are
scattered back to the caller's star order, so the output does not depend on chunking or n_jobs.
With n_jobs > 1 the workers are spawned processes: a script that calls this must do so under
`if __name__ == "__main__":` (the `rrlfeh` command does).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rrlfeh.core.ragged import LightCurves
from rrlfeh.errors import DataError
from rrlfeh.features.epochs import StarChunk, StarLookup, chunk_from_rows
from rrlfeh.features.tensors import CurveOptions, PreprocessResult
from rrlfeh.features.worker import init_worker, run_chunk
from rrlfeh.runtime import resolve_jobs

# Counts reported per run (rows are epoch-table rows; transits are G-band rows of known stars).
COUNT_KEYS = (
    "rows_other_band", "transits_flagged", "rows_unknown_star", "transits_nan", "transits_used",
)


def preprocess_batches(
    batches: Iterable[pd.DataFrame],
    source_id: np.ndarray,
    periods: np.ndarray,
    epochs: np.ndarray,
    options: CurveOptions | Mapping,
    n_jobs: int = 1,
    progress: bool = False,
) -> tuple[PreprocessResult, dict[str, int]]:
    """Tensors for the stars (source_id, periods, epochs) from epoch-photometry batches.

    Each batch must hold whole stars (rows of any other stars are counted and skipped).
    `options` are the curve options of preprocess_arrays (PreprocessConfig.curve_options).
    Returns one result row per star, in the order given (stars without any row: few_epochs,
    unless their period or epoch is already bad), and the counts of COUNT_KEYS.
    """
    reader = _ChunkReader(np.asarray(source_id, dtype=np.int64),
                          np.asarray(periods, dtype=np.float64), np.asarray(epochs, dtype=np.float64))
    opts = CurveOptions.of(options)
    n = len(reader.source_id)
    out = PreprocessResult(
        X=np.zeros((n, opts.n_points, 2), dtype=np.float32),
        ok=np.zeros(n, dtype=bool),
        reason=np.full(n, "", dtype=object),
        n_epochs=np.zeros(n, dtype=np.int64),
        amplitude=np.full(n, np.nan),
        scatter=np.full(n, np.nan),
        phase_gap=np.full(n, np.nan),
    )
    jobs = resolve_jobs(n_jobs)
    with tqdm(total=n, unit="star", disable=not progress, desc="preprocess") as bar:
        for chunk, res in _map_chunks(reader.chunks(batches), opts, jobs):
            _scatter(out, chunk.rows, res)
            bar.update(len(chunk))
        # stars with no usable row at all still get the reason preprocess_arrays would give
        unseen = np.flatnonzero(~reader.seen)
        empty = np.zeros(0)
        none = LightCurves.from_counts(np.zeros(len(unseen), dtype=np.int64), empty, empty,
                                       reader.periods[unseen], reader.epochs[unseen])
        _scatter(out, unseen, run_chunk(none, opts))
        bar.update(len(unseen))
    # rows sent to the workers = finite epochs used + epochs with a NaN time or magnitude
    counts = reader.counts
    finite = out.n_epochs.sum()
    counts["transits_nan"] = int(counts.pop("transits_used") - finite)
    counts["transits_used"] = int(finite)
    return out, counts


class _ChunkReader:
    """Epoch batches -> StarChunks of the star table's stars, counting the rows left out and
    refusing a star met in two batches."""

    def __init__(self, source_id: np.ndarray, periods: np.ndarray, epochs: np.ndarray):
        self.source_id, self.periods, self.epochs = source_id, periods, epochs
        self.lookup = StarLookup(source_id)
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self.seen = np.zeros(len(source_id), dtype=bool)

    def chunks(self, batches: Iterable[pd.DataFrame]) -> Iterator[StarChunk]:
        for df in batches:
            chunk, c = chunk_from_rows(df, self.lookup, self.periods, self.epochs)
            for key, value in c.items():
                self.counts[key] += value
            again = chunk.rows[self.seen[chunk.rows]]
            if len(again):
                raise DataError(
                    "epoch batches must hold whole stars: source_id "
                    f"{self.source_id[again[:5]].tolist()} appear(s) in more than one batch"
                )
            self.seen[chunk.rows] = True
            self.counts["transits_used"] += len(chunk.curves.time)
            if len(chunk):
                yield chunk


def _scatter(out: PreprocessResult, rows: np.ndarray, res: PreprocessResult) -> None:
    out.X[rows] = res.X
    out.ok[rows] = res.ok
    out.reason[rows] = res.reason
    out.n_epochs[rows] = res.n_epochs
    out.amplitude[rows] = res.amplitude
    out.scatter[rows] = res.scatter
    out.phase_gap[rows] = res.phase_gap


def _map_chunks(chunks: Iterable[StarChunk], options: CurveOptions, jobs: int):
    """Yield (chunk, result) in input order; at most 2 x jobs chunks in flight."""
    chunks = iter(chunks)
    head = list(islice(chunks, 2))
    if jobs == 1 or len(head) < 2:  # one chunk: starting processes would cost more than it saves
        for chunk in chain(head, chunks):
            yield chunk, run_chunk(chunk.curves, options)
        return
    chunks = chain(head, chunks)
    # spawn, not fork: the caller may hold TensorFlow/MLflow threads that fork would copy mid-state
    ctx = multiprocessing.get_context("spawn")
    pending: deque[tuple[StarChunk, Future]] = deque()
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=init_worker) as pool:
        for chunk in chunks:
            pending.append((chunk, pool.submit(run_chunk, chunk.curves, options)))
            if len(pending) >= 2 * jobs:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()
