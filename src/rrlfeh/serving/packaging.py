"""What goes into the registered model: the fold models and manifests, code, signature, metadata.

`log_model` logs the end-to-end pyfunc `rrl-feh` (models-from-code: model_code.py) in the active
MLflow run, with the rrlfeh package as code_paths so whoever pulls the model runs the very
preprocessing code that training used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.errors import DataError
from rrlfeh.serving import payload
from rrlfeh.serving.pyfunc import MODEL_CONFIG_KEYS

TYPES = ("rrab", "rrc")
# What a user pulling the model needs; versions pinned to this environment's.
REQUIREMENTS = ("mlflow", "keras", "tensorflow-cpu", "tensorflow", "jax", "numpy", "pandas", "scipy",
                "pyarrow", "pyyaml")


def read_manifests(models_dir: Path) -> dict[str, dict]:
    """models/{type}/manifest.json of every type present; at least one is required."""
    found = {}
    for t in TYPES:
        path = models_dir / t / "manifest.json"
        if path.exists():
            found[t] = json.loads(path.read_text())
            missing = [f["file"] for f in found[t]["folds"] if not (models_dir / t / f["file"]).exists()]
            if missing or not found[t]["folds"]:
                raise DataError(f"{path}: fold model file(s) missing: {missing or 'no folds listed'}")
    if not found:
        raise DataError(f"no trained model in {models_dir}: expected {models_dir}/rrab/manifest.json or rrc")
    return found


def stage_artifacts(models_dir: Path, manifests: dict[str, dict], dst: Path) -> dict[str, str]:
    """Copy each type's manifest and fold models (nothing else) to dst/{type}; artifact paths."""
    paths = {}
    for t, man in manifests.items():
        (dst / t).mkdir(parents=True)
        shutil.copy2(models_dir / t / "manifest.json", dst / t / "manifest.json")
        for fold in man["folds"]:
            shutil.copy2(models_dir / t / fold["file"], dst / t / fold["file"])
        paths[t] = str(dst / t)
    return paths


def _requirements() -> list[str]:
    out = []
    for name in REQUIREMENTS:
        try:
            out.append(f"{name}=={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def model_config(predict_cfg) -> dict:
    """The PredictConfig fields the model itself uses (the rest are for `rrlfeh predict`)."""
    return {k: getattr(predict_cfg, k) for k in MODEL_CONFIG_KEYS}


def model_metadata(manifests: dict[str, dict], predict_cfg) -> dict:
    """What the model records about how it was made (MLmodel `metadata`)."""
    keys = ("n_points", "preprocess", "hparams", "training_range", "cv_metrics", "test_metrics",
            "oracle_metrics", "data_md5", "git_commit", "mlflow_run_id", "keras_backend",
            "uncertainty", "shape_range")
    return {
        "task": "[Fe/H] (dex) of RR Lyrae from Gaia DR3 G light curves (Monti et al. 2025)",
        "predict": model_config(predict_cfg),
        "types": {t: {k: m.get(k) for k in keys} | {"n_folds": len(m["folds"])}
                  | {"finetuned_on_stars": len((m.get("finetune") or {}).get("source_ids", []))}
                  for t, m in manifests.items()},
    }


def tuned_source_ids(model_dir: Path) -> np.ndarray:
    """The source_ids any type of a logged model (or a models/ folder) was fine-tuned on: the
    manifests' `finetune.source_ids`. Scoring a model on them would flatter it."""
    ids = [np.asarray((json.loads(p.read_text()).get("finetune") or {}).get("source_ids", []),
                      dtype=np.int64) for p in Path(model_dir).rglob("manifest.json")]
    return np.unique(np.concatenate(ids)) if ids else np.zeros(0, dtype=np.int64)


def log_model(manifests: dict[str, dict], models_dir: Path, predict_cfg, example: pd.DataFrame):
    """Log the end-to-end pyfunc (models-from-code) in the active run; returns its ModelInfo."""
    import mlflow

    import rrlfeh

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = stage_artifacts(models_dir, manifests, Path(tmp))
        return mlflow.pyfunc.log_model(
            name="rrl-feh",
            python_model=str(Path(__file__).with_name("model_code.py")),
            artifacts=artifacts,
            code_paths=[str(Path(rrlfeh.__file__).parent)],  # the same preprocessing code travels
            signature=payload.signature(),
            input_example=example,
            model_config=model_config(predict_cfg),
            metadata=model_metadata(manifests, predict_cfg),
            pip_requirements=_requirements(),
        )
