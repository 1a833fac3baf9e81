"""What the train stage reports: CV summary, test score of the fold ensemble, manifest, metrics, plots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rrlfeh import tracking
from rrlfeh.config.loader import to_dict
from rrlfeh.config.stages import declared
from rrlfeh.config.params import Params
from rrlfeh.features.weights import split_weights
from rrlfeh.model import applicability, plots
from rrlfeh.model.dataset import Tensors
from rrlfeh.model.metrics import regression_metrics, summarize
from rrlfeh.model.splits import Holdout

if TYPE_CHECKING:  # for annotations only: model.train imports this module (a cycle at run time)
    from rrlfeh.model.train import FoldResult


# What write_outputs writes into the plots folder: the only files `train` overwrites there (the
# folder may hold the user's own files; they are left alone).
PLOT_FILES = ("predictions_val.csv", "predictions_test.csv", "learning_curves.csv",
              "learning_curves.png", "pred_vs_true.png", "residuals_vs_epochs.png", "reliability.png")


@dataclass(frozen=True)
class TrainPaths:
    """The train stage's files, as the CLI names them (dvc.yaml's cmd)."""

    data: Path  # data/processed/<type>.npz
    hparams: Path  # the tune stage's best_hparams.json
    out_dir: Path  # fold models and manifest.json
    metrics: Path  # metrics/train_<type>.json
    plots: Path  # the PLOT_FILES (the folder may hold other files; they are left alone)
    truth: Path | None = None  # the simulator's truth table (oracle metrics)


@dataclass(frozen=True)
class CVOutcome:
    """What the folds produced and how they scored: everything write_outputs reports."""

    data: Tensors
    holdout: Holdout
    hp: dict
    results: list[FoldResult]
    summary: dict  # summarize_cv's, with the uncertainty fit
    test_pred: np.ndarray  # the fold ensemble's prediction of each test star
    test_w: np.ndarray
    oof: tuple[np.ndarray, np.ndarray, np.ndarray]  # out_of_fold's (oof, in-fold, weights)


def dev_test_weights(params: Params, data: Tensors, holdout: Holdout) -> tuple[np.ndarray, np.ndarray]:
    """(development, test) weights: the KDE of the whole development set, at its own labels and at
    the test labels (never fitted on them); the gate weighs the test stars the same way."""
    return split_weights(data.y[holdout.dev], data.y[holdout.test], params.preprocess.kde_alpha,
                         params.preprocess.kde_max_weight)


def ensemble_test(params: Params, data: Tensors, holdout: Holdout, results: list[FoldResult]):
    """The fold ensemble's mean prediction for the test stars, and their weights."""
    pred = np.mean([r.pred_test for r in results], axis=0)
    return pred, dev_test_weights(params, data, holdout)[1]


def oracle_metrics(oracle: np.ndarray | None, y, w) -> dict | None:
    """The simulator's noise floor on these stars (None for real data or incomplete truth)."""
    if oracle is None or not np.isfinite(oracle).all():
        return None
    return regression_metrics(y, oracle, w)


def per_star_means(dev_size: int, results: list[FoldResult]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (validation) and in-fold (training) predictions per development star, averaged
    over repeats/folds; indices are positions in the development set."""
    sums = np.zeros((2, dev_size))
    counts = np.zeros((2, dev_size))
    for r in results:
        np.add.at(sums[0], r.fold.val, r.pred_val)
        np.add.at(counts[0], r.fold.val, 1)
        np.add.at(sums[1], r.fold.train, r.pred_train)
        np.add.at(counts[1], r.fold.train, 1)
    with np.errstate(invalid="ignore"):
        return sums[0] / counts[0], sums[1] / counts[1]


def out_of_fold(params: Params, data: Tensors, holdout: Holdout, results: list[FoldResult]):
    """(out-of-fold predictions, in-fold predictions, weights) of the development stars: each star's
    predictions averaged over repeats, weighed by the KDE of the whole development set."""
    oof, infold = per_star_means(holdout.dev.size, results)
    return oof, infold, dev_test_weights(params, data, holdout)[0]


def oracle_ratios(summary: dict) -> dict:
    """Model error / oracle error on the same stars, same weights: the headline of the noise floor.

    `oof`: all development stars' out-of-fold predictions pooled (~90% of the labelled stars, the
    stable figure); `test`: the fold ensemble on the held-out test stars."""
    out = {}
    for where in ("oof", "test"):
        model, floor = summary.get(where), summary.get("oracle", {}).get(where)
        if model and floor:
            for key in ("wrmse", "rmse"):
                # a floor at float precision means the labels are the oracle's own values
                # (simulate.label_mode measured): there is no noise floor to compare with
                if floor[key] > 1e-6:
                    out[f"{where}_{key}"] = float(model[key] / floor[key])
    return out


def summarize_cv(data: Tensors, holdout: Holdout, results: list[FoldResult], test_pred: np.ndarray,
                 test_w: np.ndarray, oracle: np.ndarray | None, wall_s: float,
                 oof: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict:
    """Means and stds over folds, the pooled out-of-fold and the ensemble's test metrics, the oracle
    beside each, and the model/oracle ratios."""
    y_test = data.y[holdout.test]
    oracle_val = [r.oracle_val for r in results]
    oracle_test = oracle_metrics(None if oracle is None else oracle[holdout.test], y_test, test_w)
    epochs = [r.best_epoch + 1 for r in results]
    summary = {
        "n_stars": {"total": int(data.y.size), "dev": int(holdout.dev.size), "test": int(holdout.test.size),
                    "unlabelled": int(holdout.unlabelled.size), "folds": len(results)},
        "cv": {"train": summarize([r.train_metrics for r in results]),
               "val": summarize([r.val_metrics for r in results])},
        "test": regression_metrics(y_test, test_pred, test_w),
        "best_epoch": {"mean": float(np.mean(epochs)), "std": float(np.std(epochs))},
        "samples_per_s": float(np.median([len(r.fold.train) / r.epoch_s for r in results])),
        "wall_s": float(wall_s),
    }
    y_dev = data.y[holdout.dev]
    if oof is not None:
        summary["oof"] = regression_metrics(y_dev, oof[0], oof[2])
    if all(o is not None for o in oracle_val) and oracle_test is not None:
        summary["oracle"] = {"cv_val": summarize(oracle_val), "test": oracle_test}
        oracle_oof = None if oof is None else oracle_metrics(oracle[holdout.dev], y_dev, oof[2])
        if oracle_oof is not None:
            summary["oracle"]["oof"] = oracle_oof
        summary["ratio_to_oracle"] = oracle_ratios(summary)
    return summary


def training_range(params: Params, data: Tensors, dev: np.ndarray) -> dict:
    """Where the models have seen data: inputs outside it are extrapolation (serving flags them)."""
    t = params.train
    return applicability.training_range(
        data.period[dev], data.amplitude[dev], data.scatter[dev], data.phase_gap[dev],
        data.n_epochs[dev], data.X[dev, :, 1], t.range_quantile, t.shape_components)


def uncertainty(data: Tensors, holdout: Holdout, oof: np.ndarray, test_pred: np.ndarray) -> dict:
    """feh_error's calibration, fitted on the pooled out-of-fold residuals of the development
    stars, with its 1-sigma coverage there and on the test stars (which it never saw)."""
    dev, test = holdout.dev, holdout.test
    fit = applicability.fit_uncertainty(oof - data.y[dev], data.scatter[dev], data.n_epochs[dev])
    sigma = applicability.feh_error(fit, data.scatter[test], data.n_epochs[test])
    r = test_pred - data.y[test]
    ok = np.isfinite(r)
    fit["coverage_1sigma_test"] = float(np.mean(np.abs(r[ok]) <= sigma[ok])) if ok.any() else None
    return fit


def _predictions_table(ids, y, pred, w, n_epochs) -> pd.DataFrame:
    return pd.DataFrame({"source_id": ids, "feh_true": y, "feh_pred": pred, "residual": pred - y,
                         "weight": w, "n_epochs": n_epochs})


def write_no_training_plots(plots_dir: Path, reason: str) -> None:
    """The declared plot files of a type that was not trained (its base model kept): tables with
    their columns and no row, and figures that say why, so the stage's outputs all exist."""
    import matplotlib  # lazy and heavy; the backend must be set before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)  # only the files below are written
    empty = _predictions_table(*(np.array([], dtype=d) for d in ("int64", "f8", "f8", "f8", "int64")))
    tables = {"predictions_val.csv": empty, "predictions_test.csv": empty,
              "learning_curves.csv": pd.DataFrame(columns=["fold", "epoch", "loss", "val_loss"])}
    for name in PLOT_FILES:
        if name in tables:
            tables[name].to_csv(plots_dir / name, index=False)
            continue
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True)
        fig.savefig(plots_dir / name, dpi=80)
        plt.close(fig)


def _manifest(params: Params, star_type: str, cv: CVOutcome, data_path: Path, run_id: str,
              base_range: dict | None) -> dict:
    """manifest.json: what serving and register read beside the fold models."""
    import keras  # lazy: the CLI picks the Keras backend before the first import

    data, dev, test, summary = cv.data, cv.holdout.dev, cv.holdout.test, cv.summary
    return {
        "type": star_type,
        "n_points": data.n_points,
        "preprocess": declared(params, "train", star_type)["preprocess"],  # the curve options serving uses
        "hparams": cv.hp,
        "folds": [{"file": r.file, "repeat": r.fold.repeat, "fold": r.fold.fold, "val_metrics": r.val_metrics,
                   "train_metrics": r.train_metrics, "best_epoch": r.best_epoch + 1,
                   "n_train": int(r.fold.train.size), "n_val": int(r.fold.val.size)} for r in cv.results],
        "test_source_ids": [int(s) for s in data.source_id[test]],
        # fine-tuned: the base model's range (the network learned the simulator's stars)
        "training_range": base_range or training_range(params, data, dev),
        "uncertainty": summary.get("uncertainty"),
        # the stars the weights have seen: scoring the model on them would flatter it
        "finetune": None if not summary.get("finetune") else {
            **summary["finetune"], "source_ids": [int(s) for s in data.source_id[dev]]},
        "cv_metrics": summary["cv"],
        "test_metrics": summary["test"],
        "oracle_metrics": summary.get("oracle"),
        "data_md5": tracking.md5_of(data_path),
        "git_commit": tracking.git_commit(),
        "mlflow_run_id": run_id,
        "keras_backend": keras.backend.backend(),
        "seed": params.seed,
        "split": to_dict(params.split),
        "train": declared(params, "train", star_type)["train"],
    }


def _write_tables(cv: CVOutcome, plots_dir: Path) -> None:
    """predictions_val.csv (out of fold), predictions_test.csv (ensemble), learning_curves.csv."""
    data, dev, test = cv.data, cv.holdout.dev, cv.holdout.test
    oof, _, w_dev = cv.oof
    val_table = _predictions_table(data.source_id[dev], data.y[dev], oof, w_dev, data.n_epochs[dev])
    val_table.to_csv(plots_dir / "predictions_val.csv", index=False)
    _predictions_table(data.source_id[test], data.y[test], cv.test_pred, cv.test_w,
                       data.n_epochs[test]).to_csv(plots_dir / "predictions_test.csv", index=False)
    curves = pd.concat([
        pd.DataFrame({"fold": r.file.removesuffix(".keras"), "epoch": np.arange(1, len(r.history["loss"]) + 1),
                      **{k: v for k, v in r.history.items()}}) for r in cv.results], ignore_index=True)
    curves.to_csv(plots_dir / "learning_curves.csv", index=False)


def _write_figures(cv: CVOutcome, plots_dir: Path) -> None:
    """The PNG plots: learning curves, predicted vs true, residuals vs epochs, reliability."""
    data, dev, test, test_pred = cv.data, cv.holdout.dev, cv.holdout.test, cv.test_pred
    oof, infold, w_dev = cv.oof
    plots.learning_curves([(r.file.removesuffix(".keras"), r.history) for r in cv.results],
                          plots_dir / "learning_curves.png")
    train_metrics = regression_metrics(data.y[dev], infold, w_dev)
    val_metrics = regression_metrics(data.y[dev], oof, w_dev)
    plots.pred_vs_true(
        {"train (in-fold)": (data.y[dev], infold), "validation (out-of-fold)": (data.y[dev], oof),
         "test (ensemble)": (data.y[test], test_pred)},
        {"train (in-fold)": train_metrics, "validation (out-of-fold)": val_metrics,
         "test (ensemble)": cv.summary["test"]},
        plots_dir / "pred_vs_true.png")
    plots.residuals_vs_epochs(data.n_epochs[dev].astype(float), oof - data.y[dev], plots_dir / "residuals_vs_epochs.png")
    unc = cv.summary["uncertainty"]  # simulated stars: the models' own term only (error_scale is for real ones)
    plots.reliability({
        "out-of-fold": (oof - data.y[dev]) / applicability.feh_error(unc, data.scatter[dev], data.n_epochs[dev]),
        "test": (test_pred - data.y[test]) / applicability.feh_error(unc, data.scatter[test], data.n_epochs[test]),
    }, plots_dir / "reliability.png")


def write_outputs(params: Params, star_type: str, cv: CVOutcome, paths: TrainPaths, run_id: str,
                  base_range: dict | None = None) -> None:
    """manifest.json beside the fold models, metrics JSON for DVC, CSV + PNG plots for DVC/MLflow."""
    manifest = _manifest(params, star_type, cv, paths.data, run_id, base_range)
    (paths.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(cv.summary, indent=1) + "\n")
    paths.plots.mkdir(parents=True, exist_ok=True)  # the files below are overwritten; nothing else is touched
    _write_tables(cv, paths.plots)
    _write_figures(cv, paths.plots)
