"""Process-level settings applied by the CLI entry point (never at import time).

No traffic leaves the machine: MLflow telemetry, GX analytics and DVC analytics are off. Keras runs
on TensorFlow for inference; the training stages take their backend from params `fit.backend` (JAX
by default: its compiled GRU scan trains several times faster on a CPU). KERAS_BACKEND set in the
user's environment wins over both.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


KERAS_BACKENDS = ("tensorflow", "jax")


def configure_environment(keras_backend: str | None = "tensorflow") -> None:
    """Set the quiet/offline defaults, leaving anything the user set explicitly alone.

    `keras_backend`: the default Keras backend (KERAS_BACKEND in the environment wins); None leaves
    it unset, for the CLI, where a training stage picks it from its params (use_keras_backend).
    """
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if keras_backend is not None:
        use_keras_backend(keras_backend)
    # Great Expectations imports pyspark when it is installed; pyspark's notice about pandas 3 is
    # not actionable here (the Spark engine converts through Arrow) and drowns the stage output.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    # TensorFlow's "tf.function retracing" warnings fire when fold models first see a new batch
    # shape (the last, partial batch); harmless, and they bury the stage's own progress lines.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_log_handler: logging.Handler | None = None


def configure_logging(level: str = "INFO") -> None:
    """Show the package's log records (e.g. the Gaia archive's progress) at `level` and above on
    stderr, one line each; other libraries' loggers keep their own settings. Called once, by the CLI."""
    global _log_handler
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"log level must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    logger = logging.getLogger("rrlfeh")
    if _log_handler is not None:
        logger.removeHandler(_log_handler)
    _log_handler = logging.StreamHandler()
    _log_handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    logger.addHandler(_log_handler)
    logger.setLevel(value)
    # MLflow's SQL store logs a whole traceback for each database error before re-raising it; the
    # CLI's boundary (rrlfeh.errors.describe) reports that error in one line. DEBUG shows both.
    quiet = logging.getLogger("mlflow.store.db.utils")
    quiet.setLevel(logging.NOTSET if value <= logging.DEBUG else logging.CRITICAL)


def use_keras_backend(backend: str) -> str:
    """Run Keras on `backend` unless the user's KERAS_BACKEND says otherwise; the backend in force.

    Must run before Keras is first imported (Keras reads the variable once).
    """
    if backend not in KERAS_BACKENDS:
        raise ValueError(f"Keras backend must be one of {KERAS_BACKENDS}, got {backend!r}")
    return os.environ.setdefault("KERAS_BACKEND", backend)


def project_root(start: str | Path | None = None) -> Path:
    """The repository root, also from inside a `dvc exp run --temp/--queue` workspace.

    DVC runs temp/queued experiments in a copy under `<repo>/.dvc/tmp/exps/...`; resolving back to
    `<repo>` keeps every run's MLflow store in one place.
    """
    here = Path(start or os.getcwd()).resolve()
    parts = here.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists() or (candidate / ".dvc").is_dir():
            return candidate
    return here


def resolve_jobs(n_jobs: int) -> int:
    """Worker processes for a pool: `n_jobs`, or every core this process may use when 0."""
    if n_jobs > 0:
        return n_jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_keras_worker(threads: int) -> None:
    """Settings for one of several Keras processes sharing a machine, before Keras is imported.

    CPU: `threads` cores each, so n workers x all cores do not oversubscribe. GPU: each process
    takes memory as it needs it (JAX would grab 75% of the device and TensorFlow all of it, so a
    second process could not start).
    """
    configure_environment()
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if os.environ.get("KERAS_BACKEND") == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
