"""A model URI or folder -> a local MLflow model folder, checked, for predict, Spark and serve.

One place decides what counts as a model: a folder with an MLmodel file. A URI that resolves to
something else (a CV fold's `runs:/<id>/model`, which holds a Keras file) is one clear line, the
same for a local folder and a fetched artifact.
"""

from __future__ import annotations

from pathlib import Path

from rrlfeh.errors import DataError
from rrlfeh.redact import redact

WHAT_TO_GIVE = "give models:/name@alias, models:/name/version or a saved model's folder"


def check_model_folder(path: Path, shown: str) -> str:
    """`path` resolved, if it is an MLflow model folder; DataError naming `shown` otherwise."""
    path = Path(path)
    if not (path / "MLmodel").is_file():
        raise DataError(f"{redact(shown)}: not an MLflow model (no MLmodel file); {WHAT_TO_GIVE}")
    return str(path.resolve())


def fetch_model(load_uri: str, dst: Path) -> str:
    """A local copy of the model, fetched once (workers and Spark executors load that copy)."""
    if Path(load_uri).exists():
        return check_model_folder(Path(load_uri), load_uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=load_uri, dst_path=str(dst))
    except MlflowException as exc:
        raise DataError(f"cannot fetch model {redact(load_uri)!r}: {redact(exc.message)}") from None
    except OSError as exc:  # a local path that does not exist, a refused connection
        raise DataError(f"cannot fetch model {redact(load_uri)!r}: {redact(exc)}") from None
    return check_model_folder(Path(local), load_uri)
