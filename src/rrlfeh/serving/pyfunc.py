"""The end-to-end model `rrl-feh`: raw G light curves in, [Fe/H] per star out.

A models-from-code pyfunc (model_code.py instantiates FehModel): its artifacts are, per type, the
training manifest and the fold models; the preprocessing is `rrlfeh.features.tensors`, the very
function training used, shipped with the model through code_paths. The fold models of a type are
averaged (feh) and their spread reported (feh_std); feh_error is the calibrated 1-sigma uncertainty
and out_of_range names what lies outside the training stars (model.applicability).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from rrlfeh.config.serving import PredictConfig
from rrlfeh.core import reasons as R
from rrlfeh.serving import payload, sanity

# The PredictConfig fields the model itself uses: logged as its model_config.
MODEL_CONFIG_KEYS = ("min_epochs", "ensemble_size", "batch_size", "warmup", "error_scale",
                     "extra_error", "extra_error_out_of_range", "time_window", "period_range", "mag_range",  # these three: serving.sanity
                     "epoch_weights")


# Requests of at most this many stars go through the block-diagonal fused network (3 recurrent
# layers: lowest latency), larger batches through the stacked one (no zero blocks: highest
# throughput); both give the fold models' answers (docs/BENCHMARKS.md, "One network call per batch").
SMALL_BATCH = 64


@dataclass
class TypeModel:
    """One star type: its training manifest, the fold models, and the two one-call ensembles of them."""

    key: str
    manifest: dict
    models: list
    fused: Any = field(init=False, repr=False)  # model.fused.fuse(models): small batches
    stacked: Any = field(init=False, repr=False)  # model.fused.stack(models): large batches

    def __post_init__(self) -> None:
        from rrlfeh.model.fused import fuse, stack

        self.stacked = stack(self.models)
        try:
            self.fused = fuse(self.models)
        except ValueError:  # fold models not of model.gru's exact shape: the stacked one serves all
            self.fused = self.stacked

    @property
    def n_points(self) -> int:
        return int(self.manifest["n_points"])

    def warm_up(self) -> None:
        """Trace both networks at two batch sizes each, so Keras on TensorFlow settles on
        batch-agnostic graphs and no request pays for tracing (about a second per graph on a CPU;
        JAX compiles each further padded size on first use)."""
        for n in (1, 2, 2 * SMALL_BATCH, 4 * SMALL_BATCH):
            self.predict(np.zeros((n, self.n_points, 2), np.float32), n)

    def predict(self, X: np.ndarray, batch_size: int) -> np.ndarray:
        """(n, N, 2) float32 -> (n, n_models) float64: one network call per batch of `batch_size`.

        A partial batch is padded to the next power of two, so the networks see few distinct shapes
        (JAX compiles, and TensorFlow traces, once per shape)."""
        out = np.empty((len(X), len(self.models)), dtype=np.float64)
        for lo in range(0, len(X), batch_size):
            batch = X[lo : lo + batch_size]
            n = len(batch)
            padded = _bucket(n, batch_size)
            if padded > n:
                batch = np.concatenate([batch, np.zeros((padded - n, *batch.shape[1:]), batch.dtype)])
            net = self.fused if n <= SMALL_BATCH else self.stacked
            out[lo : lo + n] = np.asarray(net.predict_on_batch(batch)).reshape(padded, -1)[:n]
        return out


_BUCKETS = tuple(2**i for i in range(20))


def _bucket(n: int, cap: int) -> int:
    """The smallest power of two >= n, at most `cap` (a full batch is never padded)."""
    return min(next(b for b in _BUCKETS if b >= n), max(int(cap), n))


def load_type_model(folder: Path, ensemble_size: int) -> TypeModel:
    """The manifest and the first `ensemble_size` fold models (0 = all) of models/{type}/."""
    import keras

    manifest = json.loads((folder / "manifest.json").read_text())
    folds = manifest["folds"][: ensemble_size or None]
    models = [keras.saving.load_model(folder / f["file"], compile=False) for f in folds]
    return TypeModel(key=str(manifest["type"]).lower(), manifest=manifest, models=models)


# Curve options added after models were first registered, and the value every model made before
# the option existed was trained with (a fact, not a default: such a manifest has no other).
ADDED_LATER = {"epoch_weights": "none", "curve_model": "spline", "fourier_harmonics": 6,
               "fourier_epochs_per_parameter": 3.0}


def preprocess_kwargs(preprocess_cfg: dict, n_points: int, min_epochs: int,
                      where: str = "manifest") -> dict[str, Any]:
    """The fields of features.tensors.CurveOptions from the manifest's preprocess config.

    The manifest stores the curve options as training used them, and serving takes them as they
    are: a key preprocessing needs that is missing, or a key no preprocessing config has (a
    renamed option), is a DataError naming it, never a silent default. The one exception is a key
    of ADDED_LATER, missing from a manifest written before it existed: that model was trained
    with the key's old behaviour. min_epochs is the inference threshold (below the training cut),
    never below the preprocessing's own floor for a meaningful fit.
    """
    import dataclasses

    from rrlfeh.config.preprocess import PreprocessConfig
    from rrlfeh.errors import DataError
    from rrlfeh.features.tensors import CurveOptions

    known = {f.name for f in dataclasses.fields(PreprocessConfig)}
    needed = ({f.name for f in dataclasses.fields(CurveOptions)} & known) - {"n_points"}
    preprocess_cfg = {**{k: v for k, v in ADDED_LATER.items() if k in needed}, **preprocess_cfg}
    unknown, missing = sorted(set(preprocess_cfg) - known), sorted(needed - set(preprocess_cfg))
    problems = [f"unknown {unknown}"] * bool(unknown) + [f"missing {missing}"] * bool(missing)
    if problems:
        raise DataError(f"{where}: preprocessing options {' and '.join(problems)}: the model was "
                        "made by another rrlfeh version; serve it with that version or train it again")
    kwargs = {k: preprocess_cfg[k] for k in sorted(needed)}
    floor = int(preprocess_cfg["min_epochs"])
    kwargs.update(n_points=n_points, min_epochs=max(int(min_epochs), floor))
    return kwargs


class FehModel(mlflow.pyfunc.PythonModel):
    """[Fe/H] of RR Lyrae stars from their Gaia G light curves (see payload.py for the columns)."""

    def load_context(self, context) -> None:
        from rrlfeh.runtime import configure_environment

        configure_environment()  # quiet TF, Keras on TensorFlow unless the user chose otherwise
        defaults = PredictConfig()
        cfg = {k: getattr(defaults, k) for k in MODEL_CONFIG_KEYS} | dict(context.model_config or {})
        self.min_epochs = int(cfg["min_epochs"])
        self.batch_size = int(cfg["batch_size"])
        self.error_scale = float(cfg["error_scale"])
        self.extra_error = float(cfg["extra_error"])
        self.extra_error_out_of_range = float(cfg["extra_error_out_of_range"])
        self.bounds = sanity.Bounds.of(cfg)  # what an impossible star is (shared with rrlfeh predict)
        self.types: dict[str, TypeModel] = {}
        self.curve_options: dict[str, dict] = {}  # CurveOptions fields per type
        for path in context.artifacts.values():  # one folder per type: manifest + fold models
            tm = load_type_model(Path(path), int(cfg["ensemble_size"]))
            if cfg["warmup"]:
                tm.warm_up()
            self.types[tm.key] = tm
            self.curve_options[tm.key] = preprocess_kwargs(
                tm.manifest.get("preprocess", {}), tm.n_points, self.min_epochs,
                where=f"model type {tm.key} ({Path(path).name}/manifest.json)")
            if cfg["epoch_weights"]:  # the inference setting; "" keeps the training tensors' one
                self.curve_options[tm.key]["epoch_weights"] = str(cfg["epoch_weights"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from rrlfeh.features.tensors import preprocess_curves
        from rrlfeh.model.applicability import feh_error as feh_error_of
        from rrlfeh.model.applicability import out_of_range_reasons

        try:
            req = payload.parse_request(model_input, getattr(self, "bounds", None))
        except payload.PayloadError as exc:
            # A 400 with this one line in the scoring server, not a stack trace.
            raise mlflow.exceptions.MlflowException.invalid_parameter_value(str(exc)) from None
        n = len(req)
        feh = np.full(n, np.nan)
        feh_error = np.full(n, np.nan)
        feh_std = np.full(n, np.nan)
        n_epochs = req.n_epochs.copy()
        reason = req.reason.copy()
        oor = np.full(n, "", dtype=object)
        reason[(reason == "") & ~np.isin(req.type_key, list(self.types))] = R.UNKNOWN_TYPE.code
        for key, tm in self.types.items():
            idx = np.flatnonzero((req.type_key == key) & (reason == ""))
            if idx.size == 0:
                continue
            res = preprocess_curves(req.curves.take(idx), self.curve_options[key])
            ok = np.asarray(res.ok, dtype=bool)
            reason[idx] = np.where(ok, "", np.asarray(res.reason, dtype=object))
            n_epochs[idx] = np.asarray(res.n_epochs, dtype=np.int64)
            if not ok.any():
                continue
            preds = tm.predict(np.asarray(res.X, dtype=np.float32)[ok], self.batch_size)
            good = idx[ok]
            feh[good] = preds.mean(axis=1)
            feh_std[good] = preds.std(axis=1)
            scatter, n_ok = np.asarray(res.scatter)[ok], np.asarray(res.n_epochs)[ok]
            feh_error[good] = feh_error_of(tm.manifest.get("uncertainty"), scatter, n_ok,
                                           self.extra_error, self.error_scale)
            oor[good] = out_of_range_reasons(
                {"period": req.period[good], "amplitude": np.asarray(res.amplitude)[ok],
                 "scatter": scatter, "curves": np.asarray(res.X)[ok, :, 1]},
                tm.manifest.get("training_range", {}),
            )
            flagged = good[oor[good] != ""]
            feh_error[flagged] = np.hypot(feh_error[flagged], self.extra_error_out_of_range)
        return payload.build_output(req, feh, feh_error, feh_std, n_epochs, reason, oor)
