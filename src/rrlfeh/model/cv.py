"""Stage `train@{type}`: repeated stratified K-fold CV of the GRU, every fold a nested MLflow run.

Each fold trains on its training stars (KDE weights fitted on them alone), stops early on its
validation stars (weighted by that same KDE) and restores its best weights; the fold models together
are the ensemble scored once on the test stars (weighted by the KDE of the whole development set).
"""

from __future__ import annotations

import json
import logging

import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np

from rrlfeh import tracking
from rrlfeh.config.stages import declared
from rrlfeh.config.params import Params
from rrlfeh.errors import DataError
from rrlfeh.model import report
from rrlfeh.model.dataset import Tensors, load_tensors, oracle_lookup, read_hparams, read_hparams_dict
from rrlfeh.model.finetune import base_folds, finetune_start
from rrlfeh.model.metrics import regression_metrics
from rrlfeh.model.splits import Fold, cv_folds, fold_weights, holdout_split
from rrlfeh.runtime import configure_keras_worker, resolve_jobs

log = logging.getLogger(__name__)

EXPERIMENT = "rrlfeh-train"
MONITOR = "val_wmse"  # early stopping on the weighted validation MSE (no regularization term)


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


def _fit_folds(params: Params, data: Tensors, hp: dict, dev: np.ndarray, test: np.ndarray,
               folds: list[Fold], oracle: np.ndarray | None, out_dir: Path, data_path: Path,
               truth_path: Path | None, parent_run_id: str,
               bases: list[Path] | None = None) -> list[FoldResult]:
    """Every fold, `train.n_jobs` at a time; results in fold order.

    Parallel folds pay off where one fit leaves the hardware idle: a GPU at batch <= 256, or a CPU
    where TensorFlow's GRU keeps about one core busy. Each worker is its own process (spawned:
    TensorFlow and JAX are not fork-safe) with its share of the cores.
    """
    jobs = min(resolve_jobs(params.train.n_jobs), len(folds))
    base = [None] * len(folds) if not bases else [bases[i % len(bases)] for i in range(len(folds))]
    if jobs == 1:
        return [_fit_fold(params, data, hp, dev, test, f, oracle, out_dir, base=b)
                for f, b in zip(folds, base)]
    threads = max(1, resolve_jobs(0) // jobs)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=configure_keras_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(_fit_fold_in_worker, params, data_path, truth_path, hp, dev, test, f,
                               out_dir, parent_run_id, b) for f, b in zip(folds, base)]
        return [f.result() for f in futures]


def _fit_fold_in_worker(params: Params, data_path: Path, truth_path: Path | None, hp: dict,
                        dev: np.ndarray, test: np.ndarray, fold: Fold, out_dir: Path,
                        parent_run_id: str, base: Path | None = None) -> FoldResult:
    tracking.use_store()
    data = load_tensors(data_path)
    return _fit_fold(params, data, hp, dev, test, fold, oracle_lookup(truth_path, data.source_id), out_dir,
                     parent_run_id, base)


def _fit_fold(params: Params, data: Tensors, hp: dict, dev: np.ndarray, test: np.ndarray, fold: Fold,
              oracle: np.ndarray | None, out_dir: Path, parent_run_id: str | None = None,
              base: Path | None = None) -> FoldResult:
    import keras

    from rrlfeh.model.callbacks import EpochTimer, MlflowEpochLogger
    from rrlfeh.model.gru import build_model, label_scale, make_optimizer

    tr, va = dev[fold.train], dev[fold.val]
    y_tr, y_va = data.y[tr], data.y[va]
    w_tr, w_va = fold_weights(y_tr, y_va, params.preprocess.kde_alpha, params.preprocess.kde_max_weight)
    name = f"fold_r{fold.repeat}_k{fold.fold}"
    with tracking.child_run(
        name, params={**train_params(params), "hp": hp},
        tags={"kind": "cv-fold", "repeat": str(fold.repeat), "fold": str(fold.fold)},
        parent_run_id=parent_run_id,
    ) as run:
        keras.backend.clear_session()
        batch, epochs = int(hp["batch_size"]), params.train.epochs
        seed = params.seed + 1000 * fold.repeat + fold.fold
        if base is None:
            optimizer = make_optimizer(hp, params.fit, n_train=len(tr), epochs=epochs)
            model = build_model(data.n_points, hp, seed=seed, target=label_scale(y_tr), optimizer=optimizer)
        else:
            epochs = params.finetune.epochs
            model = finetune_start(base, data.n_points, hp, seed, params, n_train=len(tr))
        timer = EpochTimer()
        callbacks = [timer, MlflowEpochLogger(run.info.run_id), keras.callbacks.TerminateOnNaN()]
        stop = None
        if params.train.patience > 0:
            stop = keras.callbacks.EarlyStopping(
                monitor=MONITOR, mode="min", patience=params.train.patience, restore_best_weights=True,
                start_from_epoch=min(params.train.warmup_epochs, epochs - 1))
            callbacks.insert(0, stop)
        hist = model.fit(
            data.X[tr], y_tr, sample_weight=w_tr, validation_data=(data.X[va], y_va, w_va),
            batch_size=batch, epochs=epochs, verbose=0, shuffle=True, callbacks=callbacks,
        )
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        curve = np.asarray(history.get(MONITOR, [np.nan]), dtype="float64")
        if not np.isfinite(curve).any():
            raise DataError(f"{name}: training diverged (no finite {MONITOR}); lower the learning rate")
        # the epoch whose weights the model keeps (0-based): restored best, or the last one
        best_epoch = int(stop.best_epoch) if stop is not None else len(curve) - 1
        preds = [model.predict(data.X[idx], batch_size=1024, verbose=0).ravel() for idx in (tr, va, test)]
        m_tr, m_va = regression_metrics(y_tr, preds[0], w_tr), regression_metrics(y_va, preds[1], w_va)
        o_va = report.oracle_metrics(None if oracle is None else oracle[va], y_va, w_va)
        path = out_dir / f"{name}.keras"
        model.save(path)
        epoch_s = float(np.median(timer.seconds[1:] or timer.seconds))  # first epoch traces the graph
        tracking.log_metrics_flat({"train": m_tr, "val": m_va, "oracle_val": o_va or {}})
        mlflow.log_metrics({"best_epoch": best_epoch + 1, "epochs_run": len(curve),
                            "samples_per_s": len(tr) / epoch_s})
        mlflow.log_artifact(str(path), artifact_path="model")
    print(f"{name}: val r2={m_va['r2']:.3f} wrmse={m_va['wrmse']:.3f} best epoch {best_epoch + 1}/{len(curve)}"
          + (f" (oracle wrmse={o_va['wrmse']:.3f})" if o_va else ""), flush=True)
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
    data_path, out_dir, plots_dir = Path(data_path), Path(out_dir), Path(plots_dir)
    data = load_tensors(data_path)
    expected = params.preprocess.n_points(star_type)
    if data.n_points != expected:
        raise DataError(f"{data_path}: curves have {data.n_points} points, params say {expected}; "
                        "rerun `rrlfeh preprocess`")
    hp = read_hparams(hparams_path)
    with tempfile.TemporaryDirectory(prefix="rrlfeh-base-") as tmp:
        bases, finetune = None, None
        if params.finetune.from_model:
            bases, finetune = base_folds(params.finetune.from_model, star_type, Path(tmp))
            base_manifest = finetune.pop("manifest")
            if finetune.pop("n_points") != data.n_points:
                raise DataError(f"finetune.from_model: its {star_type} model takes "
                                f"{len(bases)} curves of a different length than {data_path}")
            hp = read_hparams_dict(finetune.pop("hparams"))  # the weights fix the network
            finetune.update(epochs=params.finetune.epochs,
                            learning_rate_scale=params.finetune.learning_rate_scale,
                            # what the network was trained on: the base's range, not ~100 real stars'
                            training_range=base_manifest.get("training_range"))
            if not np.isfinite(data.y).any():
                return keep_base(star_type, bases, base_manifest, finetune, out_dir, metrics_path, plots_dir)
        return _run_train(params, star_type, data, data_path, hp, hparams_path, out_dir, metrics_path,
                          plots_dir, truth_path, t0, bases, finetune)


def _run_train(params, star_type, data, data_path, hp, hparams_path, out_dir, metrics_path, plots_dir,
               truth_path, t0, bases, finetune) -> dict:
    holdout = holdout_split(data.source_id, data.y, params.split, params.seed)
    dev, test = holdout.dev, holdout.test
    folds = cv_folds(data.y[dev], params.train.k_folds, params.train.repeats, params.split.n_bins, params.seed)
    oracle = oracle_lookup(truth_path, data.source_id)
    _remove_previous_folds(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    inputs = {"data": data_path, "hparams": hparams_path}
    if truth_path is not None:
        inputs["truth"] = truth_path
    stage_tags = {"stage": "train", "star_type": star_type, "kind": "cv"}
    tracking.use_store()  # stage_run below selects (or creates) the experiment
    for run_id in tracking.close_abandoned_runs(EXPERIMENT, stage_tags):
        log.warning("train %s: closed MLflow run %s and its folds as KILLED (a killed train left "
                    "them RUNNING)", star_type, run_id)
    with tracking.stage_run(
        EXPERIMENT, f"train-{star_type}", params={**train_params(params, star_type), "hp": hp}, inputs=inputs,
        tags=stage_tags, system_metrics=True,
    ) as parent:
        results = _fit_folds(params, data, hp, dev, test, folds, oracle, out_dir, data_path, truth_path,
                             parent.info.run_id, bases)
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
        report.write_outputs(params, star_type, data, holdout, hp, results, summary, test_pred, test_w,
                             data_path, out_dir, metrics_path, plots_dir, parent.info.run_id, oof,
                             base_range=(finetune or {}).get("training_range"))
        ratios = summary.get("ratio_to_oracle", {})
        if ratios:
            print(f"train {star_type}: model/oracle wRMSE out-of-fold {ratios.get('oof_wrmse', float('nan')):.2f}, "
                  f"test {ratios.get('test_wrmse', float('nan')):.2f}", flush=True)
        for name in report.PLOT_FILES:
            mlflow.log_artifact(str(plots_dir / name), artifact_path="plots")
        mlflow.log_artifact(str(out_dir / "manifest.json"))
        mlflow.log_artifact(str(metrics_path))
    return summary


def keep_base(star_type: str, bases: list[Path], base_manifest: dict, finetune: dict, out_dir: Path,
              metrics_path: Path, plots_dir: Path) -> dict:
    """Fine-tuning data without a labelled star of this type: the base model's folds, unchanged,
    are this type's model (its manifest says so; `register` does not gate an unchanged type)."""
    import shutil

    _remove_previous_folds(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in bases:
        shutil.copy2(path, out_dir / path.name)
    reason = f"no labelled {star_type} star to fine-tune on: the base model's folds, unchanged"
    info = {k: v for k, v in finetune.items() if k != "training_range"}
    manifest = {**base_manifest, "test_source_ids": [],
                "finetune": {**info, "kept_base": reason, "source_ids": []}}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    summary = {"finetune": {**info, "kept_base": reason}, "n_stars": 0}
    metrics_path = Path(metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(summary, indent=1) + "\n")
    report.write_no_training_plots(plots_dir, reason)
    print(f"train {star_type}: {reason}", flush=True)
    return summary
