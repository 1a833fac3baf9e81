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


# In a model folder exported by `register` (models/champion, a DVC artifact): which registered
# version it is, so that a catalogue predicted from the folder names the version, server or not.
REGISTERED_FILE = "registered_version.json"
IDENTITY_KEYS = ("model_name", "model_version", "model_run_id", "model_git_commit")


def registered_identity(model_path: str | Path) -> dict[str, str]:
    """The registered name, version, run and commit a model folder was exported as ({} if none)."""
    import json

    path = Path(model_path) / REGISTERED_FILE
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
    return {k: str(saved[k]) for k in IDENTITY_KEYS if saved.get(k) is not None}


def logged_config(model_path: str | Path) -> dict:
    """The model_config a model was logged with (MLmodel: flavors.python_function.config): the
    registered version's own inference settings."""
    import yaml

    mlmodel = yaml.safe_load((Path(model_path) / "MLmodel").read_text()) or {}
    pyfunc = mlmodel.get("flavors", {}).get("python_function", {})
    return dict(pyfunc.get("config") or pyfunc.get("model_config") or {})  # MLflow 3 writes `config`


def parse_overrides(pairs: list[str]) -> dict:
    """`--set KEY=VALUE` pairs (VALUE in YAML: 2.61, true, [0.1, 1.5]) for the model's own config
    keys, checked as params.yaml's predict section is; ConfigError naming the bad pair."""
    import yaml

    from rrlfeh.config.loader import ConfigError, from_dict
    from rrlfeh.config.serving import PredictConfig
    from rrlfeh.serving.pyfunc import MODEL_CONFIG_KEYS

    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key.strip() not in MODEL_CONFIG_KEYS:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE with KEY one of "
                              f"{list(MODEL_CONFIG_KEYS)}")
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {pair!r}: the value is not YAML ({exc.problem})") from None
    from_dict(PredictConfig, out, where="--set")  # types and ranges, as for params.yaml
    return out


def effective_config(model_path: str | Path, overrides: dict) -> dict:
    """What the model computes with: its own logged config, then the user's explicit overrides
    (MLflow's MLFLOW_PYFUNC_INFERENCE_CONFIG, then `--set`). As MLflow applies them, only keys the
    model was logged with can be overridden: another is refused here rather than ignored there."""
    import json
    import os

    from rrlfeh.config.loader import ConfigError

    own = logged_config(model_path)
    env = json.loads(os.environ.get("MLFLOW_PYFUNC_INFERENCE_CONFIG") or "{}")
    unknown = sorted(set(env) - set(own)) + sorted(set(overrides) - set(own))
    if unknown:
        raise ConfigError(f"the model at {model_path} has no setting {unknown} (logged with "
                          f"{sorted(own)}); it cannot be overridden")
    return own | env | dict(overrides)
