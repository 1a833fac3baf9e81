"""What a preprocessing worker process runs: kept free of pandas/pyarrow so workers start fast."""

from __future__ import annotations

from rrlfeh.core.ragged import LightCurves
from rrlfeh.features.tensors import CurveOptions, PreprocessResult, preprocess_curves


def init_worker() -> None:
    """One BLAS thread per process: the processes are the parallelism."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_chunk(curves: LightCurves, options: CurveOptions) -> PreprocessResult:
    """preprocess_curves on one chunk of whole stars."""
    return preprocess_curves(curves, options)
