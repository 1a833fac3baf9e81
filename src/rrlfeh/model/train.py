"""Stage `train@{type}`: repeated stratified K-fold CV of the GRU, every fold a nested MLflow run.

Each fold trains on its training stars (KDE weights fitted on them alone) and is scored on its
validation stars (weighted by that same KDE). With `train.patience` 0 (params.yaml's default) every
fold trains all `train.epochs` and keeps its last weights, so no validation star picks them; with
patience > 0 it stops early on the validation wMSE and restores its best weights. The fold models
together are the ensemble scored once on the test stars (weights: features.weights.split_weights).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np

from rrlfeh import tracking
from rrlfeh.config.params import Params
from rrlfeh.config.stages import declared
from rrlfeh.errors import DataError
from rrlfeh.features.weights import split_weights
from rrlfeh.model import report
from rrlfeh.model.dataset import Tensors, load_tensors, oracle_lookup, read_hparams, read_hparams_dict
from rrlfeh.model.finetune import base_folds, finetune_start
from rrlfeh.model.networks import build_model, label_scale, make_optimizer
from rrlfeh.model.metrics import regression_metrics
from rrlfeh.model.splits import Fold, cv_folds, holdout_split
from rrlfeh.runtime import configure_keras_worker, configure_logging, resolve_jobs

log = logging.getLogger(__name__)

EXPERIMENT = "rrlfeh-train"
MONITOR = "val_wmse"  # the weighted validation MSE (no regularization term): early stopping's measure


@dataclass
class FoldResult:
    fold: Fold
    file: str
    history: dict[str, list[float]]
    best_epoch: int
    epoch_s: float
    pred_train: np.ndarray
    pred_val: np.ndarray
    pred_test: np.ndarray
    train_metrics: dict
    val_metrics: dict
    oracle_val: dict | None


def train_params(params: Params, star_type: str | None = None) -> dict:
    """The params this stage's results depend on (config.stages, the keys dvc.yaml declares); the
    fold runs, which do not know their type, leave out the per-type keys."""
    return declared(params, "train", star_type)


@dataclass(frozen=True)
class FoldPlan:
    """What every fold of one train run shares; picklable, it travels to the spawned workers."""

    params: Params
    hp: dict
    dev: np.ndarray  # rows of the development stars (the folds index into these)
    test: np.ndarray  # rows of the test stars, which every fold model predicts
    out_dir: Path
    parent_run_id: str | None = None  # the stage run, for folds trained in another process


def _fit_folds(plan: FoldPlan, data: Tensors, folds: list[Fold], oracle: np.ndarray | None,
               paths: report.TrainPaths, bases: list[Path] | None = None) -> list[FoldResult]:
    """Every fold, `train.n_jobs` at a time; results in fold order.

    Parallel folds pay off where one fit leaves the hardware idle: a GPU at batch <= 256, or a CPU
    where TensorFlow's GRU keeps about one core busy. Each worker is its own process (spawned:
    TensorFlow and JAX are not fork-safe) with its share of the cores.
    """
    jobs = min(resolve_jobs(plan.params.train.n_jobs), len(folds))
    base = [None] * len(folds) if not bases else [bases[i % len(bases)] for i in range(len(folds))]
    if jobs == 1:  # the stage run is active in this process: each fold run nests under it
        here = dataclasses.replace(plan, parent_run_id=None)
        return [_fit_fold(here, data, f, oracle, b) for f, b in zip(folds, base)]
    threads = max(1, resolve_jobs(0) // jobs)
    level = logging.getLevelName(logging.getLogger("rrlfeh").getEffectiveLevel())
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_start_worker,
                             initargs=(threads, level)) as pool:
        futures = [pool.submit(_fit_fold_in_worker, plan, paths.data, paths.truth, f, b)
                   for f, b in zip(folds, base)]
        return [f.result() for f in futures]


def _start_worker(threads: int, log_level: str) -> None:
    """A spawned fold worker: its share of the cores, and the parent's log level (a spawned process
    starts without the CLI's logging, and its fold lines would be lost)."""
    configure_keras_worker(threads)
    configure_logging(log_level)


def _fit_fold_in_worker(plan: FoldPlan, data_path: Path, truth_path: Path | None, fold: Fold,
                        base: Path | None = None) -> FoldResult:
    tracking.use_store()
    data = load_tensors(data_path)
    return _fit_fold(plan, data, fold, oracle_lookup(truth_path, data.source_id), base)


def _start_model(plan: FoldPlan, data: Tensors, fold: Fold, y_tr: np.ndarray, base: Path | None):
    """(model, epochs): a fresh GRU, or the base model's fold to fine-tune."""
    params, hp = plan.params, plan.hp
    seed = params.seed + 1000 * fold.repeat + fold.fold
    if base is not None:
        return (finetune_start(base, data.n_points, hp, seed, params, n_train=len(y_tr)),
                params.finetune.epochs)
    epochs = params.train.epochs
    optimizer = make_optimizer(hp, params.fit, n_train=len(y_tr), epochs=epochs)
    return build_model(data.n_points, hp, seed=seed, target=label_scale(y_tr), optimizer=optimizer), epochs


def _callbacks(params: Params, epochs: int, run_id: str):
    """(callbacks, epoch timer, early stopping or None): early stopping only with train.patience > 0."""
    import keras  # lazy: the CLI picks the Keras backend before the first import

    from rrlfeh.model.callbacks import EpochTimer, MlflowEpochLogger  # imports keras (as above)

    timer = EpochTimer()
    callbacks = [timer, MlflowEpochLogger(run_id), keras.callbacks.TerminateOnNaN()]
    stop = None
    if params.train.patience > 0:
        stop = keras.callbacks.EarlyStopping(
            monitor=MONITOR, mode="min", patience=params.train.patience, restore_best_weights=True,
            start_from_epoch=min(params.train.warmup_epochs, epochs - 1))
        callbacks.insert(0, stop)
    return callbacks, timer, stop


def _fit_fold(plan: FoldPlan, data: Tensors, fold: Fold, oracle: np.ndarray | None,
              base: Path | None = None) -> FoldResult:
    import keras  # lazy: the CLI picks the Keras backend before the first import

    params = plan.params
    tr, va = plan.dev[fold.train], plan.dev[fold.val]
    y_tr, y_va = data.y[tr], data.y[va]
    w_tr, w_va = split_weights(y_tr, y_va, params.preprocess.kde_alpha, params.preprocess.kde_max_weight)
    name = f"fold_r{fold.repeat}_k{fold.fold}"
    with tracking.child_run(
        name, params={**train_params(params), "hp": plan.hp},
        tags={"kind": "cv-fold", "repeat": str(fold.repeat), "fold": str(fold.fold)},
        parent_run_id=plan.parent_run_id,
    ) as run:
        keras.backend.clear_session()
        model, epochs = _start_model(plan, data, fold, y_tr, base)
        callbacks, timer, stop = _callbacks(params, epochs, run.info.run_id)
        hist = model.fit(
            data.X[tr], y_tr, sample_weight=w_tr, validation_data=(data.X[va], y_va, w_va),
            batch_size=int(plan.hp["batch_size"]), epochs=epochs, verbose=0, shuffle=True,
            callbacks=callbacks,
        )
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        curve = np.asarray(history.get(MONITOR, [np.nan]), dtype="float64")
        if not np.isfinite(curve).any():
            raise DataError(f"{name}: training diverged (no finite {MONITOR}); lower the learning rate")
        # the epoch whose weights the model keeps (0-based): restored best, or the last one
        best_epoch = int(stop.best_epoch) if stop is not None else len(curve) - 1
        preds = [model.predict(data.X[idx], batch_size=1024, verbose=0).ravel()
                 for idx in (tr, va, plan.test)]
        m_tr, m_va = regression_metrics(y_tr, preds[0], w_tr), regression_metrics(y_va, preds[1], w_va)
        o_va = report.oracle_metrics(None if oracle is None else oracle[va], y_va, w_va)
        path = plan.out_dir / f"{name}.keras"
        model.save(path)
        epoch_s = float(np.median(timer.seconds[1:] or timer.seconds))  # first epoch traces the graph
        tracking.log_metrics_flat({"train": m_tr, "val": m_va, "oracle_val": o_va or {}})
        mlflow.log_metrics({"best_epoch": best_epoch + 1, "epochs_run": len(curve),
                            "samples_per_s": len(tr) / epoch_s})
        mlflow.log_artifact(str(path), artifact_path="model")
    log.info("%s: val r2=%.3f wrmse=%.3f best epoch %d/%d%s", name, m_va["r2"], m_va["wrmse"],
             best_epoch + 1, len(curve), f" (oracle wrmse={o_va['wrmse']:.3f})" if o_va else "")
    return FoldResult(fold, path.name, history, best_epoch, epoch_s, *preds, m_tr, m_va, o_va)


def _remove_previous_folds(out_dir: Path) -> None:
    """Fold models a previous run of train wrote (those its manifest lists), so a smaller k leaves
    none behind; any other file in out_dir is the user's and stays."""
    manifest = out_dir / "manifest.json"
    try:
        files = [f["file"] for f in json.loads(manifest.read_text())["folds"]]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no manifest of ours: nothing of ours to remove
    for name in files:
        path = out_dir / Path(str(name)).name  # never outside out_dir
        if path.suffix == ".keras" and path.is_file():
            path.unlink()


def run_train(params: Params, star_type: str, data_path: Path, hparams_path: Path, out_dir: Path,
              metrics_path: Path, plots_dir: Path, truth_path: Path | None = None) -> dict:
    """Cross-validate, save the fold models and manifest, write metrics and plots; returns the metrics."""
    t0 = time.perf_counter()
    paths = report.TrainPaths(Path(data_path), Path(hparams_path), Path(out_dir), Path(metrics_path),
                              Path(plots_dir), None if truth_path is None else Path(truth_path))
    data = load_tensors(paths.data)
    expected = params.preprocess.n_points(star_type)
    if data.n_points != expected:
        raise DataError(f"{paths.data}: curves have {data.n_points} points, params say {expected}; "
                        "rerun `rrlfeh preprocess`")
    hp = read_hparams(paths.hparams)
    with tempfile.TemporaryDirectory(prefix="rrlfeh-base-") as tmp:
        bases, finetune = None, None
        if params.finetune.from_model:
            bases, finetune = base_folds(params.finetune.from_model, star_type, Path(tmp))
            base_manifest = finetune.pop("manifest")
            if finetune.pop("n_points") != data.n_points:
                raise DataError(f"finetune.from_model: its {star_type} model takes "
                                f"{len(bases)} curves of a different length than {paths.data}")
            hp = read_hparams_dict(finetune.pop("hparams"))  # the weights fix the network
            finetune.update(epochs=params.finetune.epochs,
                            learning_rate_scale=params.finetune.learning_rate_scale,
                            # what the network was trained on: the base's range, not ~100 real stars'
                            training_range=base_manifest.get("training_range"))
            if not np.isfinite(data.y).any():
                return keep_base(star_type, bases, base_manifest, finetune, paths)
        return _run_train(params, star_type, data, hp, paths, t0, bases, finetune)


def _run_train(params: Params, star_type: str, data: Tensors, hp: dict, paths: report.TrainPaths,
               t0: float, bases: list[Path] | None, finetune: dict | None) -> dict:
    holdout = holdout_split(data.source_id, data.y, params.split, params.seed)
    dev = holdout.dev
    folds = cv_folds(data.y[dev], params.train.k_folds, params.train.repeats, params.split.n_bins, params.seed)
    oracle = oracle_lookup(paths.truth, data.source_id)
    _remove_previous_folds(paths.out_dir)
    paths.out_dir.mkdir(parents=True, exist_ok=True)

    inputs = {"data": paths.data, "hparams": paths.hparams}
    if paths.truth is not None:
        inputs["truth"] = paths.truth
    stage_tags = {"stage": "train", "star_type": star_type, "kind": "cv"}
    tracking.use_store()  # stage_run below selects (or creates) the experiment
    for run_id in tracking.close_abandoned_runs(EXPERIMENT, stage_tags):
        log.warning("train %s: closed MLflow run %s and its folds as KILLED (a killed train left "
                    "them RUNNING)", star_type, run_id)
    with tracking.stage_run(
        EXPERIMENT, f"train-{star_type}", params={**train_params(params, star_type), "hp": hp}, inputs=inputs,
        tags=stage_tags, system_metrics=True,
    ) as parent:
        plan = FoldPlan(params, hp, dev, holdout.test, paths.out_dir, parent.info.run_id)
        results = _fit_folds(plan, data, folds, oracle, paths, bases)
        test_pred, test_w = report.ensemble_test(params, data, holdout, results)
        oof = report.out_of_fold(params, data, holdout, results)
        summary = report.summarize_cv(data, holdout, results, test_pred, test_w, oracle,
                                      wall_s=time.perf_counter() - t0, oof=oof)
        summary["uncertainty"] = report.uncertainty(data, holdout, oof[0], test_pred)
        if finetune is not None:
            summary["finetune"] = {k: v for k, v in finetune.items() if k != "training_range"}
            mlflow.set_tags({"finetune.from_model": finetune["from_model"],
                             "finetune.base_version": str(finetune.get("model_version", ""))})
        tracking.log_metrics_flat(summary)
        outcome = report.CVOutcome(data, holdout, hp, results, summary, test_pred, test_w, oof)
        report.write_outputs(params, star_type, outcome, paths, parent.info.run_id,
                             base_range=(finetune or {}).get("training_range"))
        for name in report.PLOT_FILES:
            mlflow.log_artifact(str(paths.plots / name), artifact_path="plots")
        mlflow.log_artifact(str(paths.out_dir / "manifest.json"))
        mlflow.log_artifact(str(paths.metrics))
    return summary


def keep_base(star_type: str, bases: list[Path], base_manifest: dict, finetune: dict,
              paths: report.TrainPaths) -> dict:
    """Fine-tuning data without a labelled star of this type: the base model's folds, unchanged,
    are this type's model (its manifest says so; `register` does not gate an unchanged type)."""
    _remove_previous_folds(paths.out_dir)
    paths.out_dir.mkdir(parents=True, exist_ok=True)
    for path in bases:
        shutil.copy2(path, paths.out_dir / path.name)
    reason = f"no labelled {star_type} star to fine-tune on: the base model's folds, unchanged"
    info = {k: v for k, v in finetune.items() if k != "training_range"}
    manifest = {**base_manifest, "test_source_ids": [],
                "finetune": {**info, "kept_base": reason, "source_ids": []}}
    (paths.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    summary = {"finetune": {**info, "kept_base": reason}, "n_stars": 0}
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(summary, indent=1) + "\n")
    report.write_no_training_plots(paths.plots, reason)
    log.info("train %s: %s", star_type, reason)
    return summary
