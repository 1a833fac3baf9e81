"""Keras callbacks: per-epoch learning curves into an MLflow run, and epoch timing."""

from __future__ import annotations

import math
import time

import keras


class MlflowEpochLogger(keras.callbacks.Callback):
    """Log every epoch's loss and metrics (train and validation) to one MLflow run, step = epoch.

    The run is named by id, not taken from the active-run stack, so the callback survives
    keras-tuner's deep copies and logs to the right trial. `epoch_s` is each epoch's wall time.
    """

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        values = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        values["epoch_s"] = time.perf_counter() - self._t0
        metrics = [Metric(k, v, now_ms, int(epoch)) for k, v in values.items() if math.isfinite(v)]
        MlflowClient().log_batch(self.run_id, metrics=metrics, synchronous=True)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (the throughput numbers of docs/BENCHMARKS.md)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
