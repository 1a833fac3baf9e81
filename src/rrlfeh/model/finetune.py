"""Fine-tuning a trained model on real labels (`finetune.from_model`, docs/REAL_STARS.md).

The base model's fold models start the folds of `train` (its hyperparameters replace the tuned
ones: the weights fix the network, so `tune` does not search); a type without labelled stars in the
data keeps the base model's folds unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from rrlfeh import tracking
from rrlfeh.config.params import Params
from rrlfeh.errors import DataError
from rrlfeh.model.networks import build_model, make_optimizer


def finetune_start(base: Path, n_points: int, hp: dict, seed: int, params: Params, n_train: int):
    """A compiled copy of the trained fold model `base`, with a fresh optimizer at
    finetune.learning_rate_scale of the rate, over finetune.epochs: fine-tuning starts here."""
    import keras  # lazy: the CLI picks the Keras backend before the first import

    trained = keras.saving.load_model(base, compile=False)
    scale = trained.get_layer("feh_dex").get_config()
    lr = float(hp["learning_rate"]) * params.finetune.learning_rate_scale
    optimizer = make_optimizer({**hp, "learning_rate": lr}, params.fit, n_train=n_train,
                               epochs=params.finetune.epochs)
    model = build_model(n_points, hp, seed=seed, target=(scale["offset"], scale["scale"]),
                        optimizer=optimizer)
    try:
        model.set_weights(trained.get_weights())
    except ValueError as exc:
        raise DataError(f"finetune.from_model: {base.name} does not fit this network ({exc})") from exc
    return model


def base_folds(from_model: str, star_type: str, dst: Path) -> tuple[list[Path], dict]:
    """The fold model files and manifest of `star_type` in the model to fine-tune from: a registered
    model (models:/...) is fetched once into dst; a folder holds {type}/manifest.json."""
    from mlflow.exceptions import MlflowException

    prov: dict = {"from_model": from_model}
    root = Path(from_model)
    if from_model.startswith("models:/"):
        tracking.use_store()
        try:
            prov["model_version"] = model_version(from_model)
            root = Path(mlflow.artifacts.download_artifacts(artifact_uri=from_model, dst_path=str(dst)))
        except MlflowException as exc:
            raise DataError(f"finetune.from_model {from_model!r}: cannot fetch it ({exc.message})") from exc
    found = sorted(root.rglob(f"{star_type}/manifest.json"))
    if not found:
        raise DataError(f"finetune.from_model {from_model!r}: no {star_type} model in it")
    manifest = json.loads(found[0].read_text())
    files = [found[0].parent / f["file"] for f in manifest["folds"]]
    missing = [str(f) for f in files if not f.exists()]
    if missing or not files:
        raise DataError(f"finetune.from_model {from_model!r}: fold models missing: {missing or 'none listed'}")
    return files, {**prov, "hparams": manifest["hparams"], "n_points": manifest["n_points"],
                   "manifest": manifest}


def model_version(uri: str) -> str:
    """The registry version a models:/name/N or models:/name@alias URI names now."""
    name, _, rest = uri[len("models:/"):].partition("/")
    if "@" in name and not rest:
        name, alias = name.split("@", 1)
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    return rest


def base_hparams(params: Params, star_type: str) -> dict:
    """What `tune` writes when fine-tuning: the base model's hyperparameters, no search."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rrlfeh-base-") as tmp:
        _, base = base_folds(params.finetune.from_model, star_type, Path(tmp))
    return {"hparams": base["hparams"], "objective": None,
            "skipped": f"fine-tuning from {params.finetune.from_model} (version "
                       f"{base.get('model_version') or 'folder'}): its {star_type} hyperparameters, "
                       "no search (the weights fix the network)",
            "finetune_from": params.finetune.from_model}
