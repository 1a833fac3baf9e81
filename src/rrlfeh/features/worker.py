"""What a preprocessing worker process runs: kept free of pandas/pyarrow so workers start fast."""

from __future__ import annotations

import numpy as np

from rrlfeh.features.tensors import PreprocessResult, preprocess_ragged


def init_worker() -> None:
    """One BLAS thread per process: the processes are the parallelism."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_chunk(arrays: tuple[np.ndarray, ...], options: dict) -> PreprocessResult:
    """preprocess_ragged on (time, mag, offsets, periods, epochs) of one chunk of whole stars."""
    time, mag, offsets, periods, epochs = arrays
    return preprocess_ragged(time, mag, offsets, periods, epochs, **options)
