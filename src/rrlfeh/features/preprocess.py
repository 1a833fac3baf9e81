"""Stage `preprocess@{rrab,rrc}`: clean tables -> {type}.npz, {type}.json, {type}_rejected.parquet.

Every star of the type in data/clean/vari_rrlyrae.parquet ends up either in the npz or in the
rejects table with its reason; the counts of each step go in {type}.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.stages import section_values
from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core import reasons as R
from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_parquet_stars
from rrlfeh.errors import DataError
from rrlfeh.features import plots
from rrlfeh.features.batch import COUNT_KEYS, preprocess_batches
from rrlfeh.features.checks import check_tensors
from rrlfeh.features.tensors import REASONS, PreprocessResult
from rrlfeh.features.weights import split_weights

TYPE_NAMES = {"rrab": "RRab", "rrc": "RRc"}


def load_stars(clean_dir: Path, star_type: str) -> pd.DataFrame:
    """source_id, period, epoch_g, y (feh or NaN), feh_error of the type, sorted by source_id."""
    vari = schema.read_table(clean_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")
    name = TYPE_NAMES[star_type]
    vari = vari[vari["best_classification"] == name]
    stars = pd.DataFrame({
        "source_id": vari["source_id"].to_numpy(),
        "period": vari[schema.PERIOD_COLUMN[name]].to_numpy(dtype=np.float64),
        "epoch_g": vari["epoch_g"].to_numpy(dtype=np.float64),
    }).sort_values("source_id", kind="stable", ignore_index=True)
    dup = stars["source_id"][stars["source_id"].duplicated()]
    if len(dup):
        raise DataError(f"vari_rrlyrae: duplicated source_id, e.g. {dup.head(5).tolist()}")
    labels_path = clean_dir / "labels.parquet"
    labels = (schema.read_table(labels_path, "labels") if labels_path.exists()
              else schema.empty("labels"))
    dup = labels["source_id"][labels["source_id"].duplicated()]
    if len(dup):
        raise DataError(f"labels: duplicated source_id, e.g. {dup.head(5).tolist()}")
    labels = labels.rename(columns={"feh": "y"})[["source_id", "y", "feh_error"]]
    return stars.merge(labels, on="source_id", how="left", validate="one_to_one")


def tensor_arrays(
    stars: pd.DataFrame, res: PreprocessResult, kde_alpha: float, kde_max_weight: float = np.inf
) -> dict[str, np.ndarray]:
    """The npz arrays (data/processed contract) of the stars that passed."""
    kept = stars[res.ok]
    y = kept["y"].to_numpy(dtype=np.float64)
    labelled = np.isfinite(y)
    w = np.ones(len(kept), np.float32)
    # every labelled star by the KDE of them all (preprocess does not know the test split; train
    # and register weigh by the development labels alone): the weights plotted in feh_weights.png
    w[labelled] = split_weights(y[labelled], [], kde_alpha, kde_max_weight)[0]
    return {
        "X": res.X[res.ok],
        "y": y.astype(np.float32),
        "w": w.astype(np.float32),
        "source_id": kept["source_id"].to_numpy(dtype=np.int64),
        "n_epochs": res.n_epochs[res.ok].astype(np.int32),
        "period": kept["period"].to_numpy(dtype=np.float64),
        "amplitude": res.amplitude[res.ok].astype(np.float64),
        "scatter": res.scatter[res.ok].astype(np.float64),
        "phase_gap": res.phase_gap[res.ok].astype(np.float64),
        "feh_error": kept["feh_error"].to_numpy(dtype=np.float32),
    }


def rejected_table(
    stars: pd.DataFrame, res: PreprocessResult, cfg: PreprocessConfig
) -> pd.DataFrame:
    """Rejects rows (stage 'preprocess') with the reason and the star's usable epoch count."""
    why = {
        R.BAD_PERIOD.code: "period missing or <= 0",
        R.BAD_EPOCH.code: "epoch_g missing",
        R.FEW_EPOCHS.code: f"fewer than {cfg.min_epochs} finite G epochs",
        R.CONSTANT_MAGNITUDES.code: "all G magnitudes equal",
        R.POOR_PHASE_COVERAGE.code: f"a phase gap wider than {cfg.max_phase_gap}",
        R.SPLINE_FAILED.code: "the smoothing spline gave a non-finite or flat curve",
    }
    bad = ~res.ok
    reason = pd.Series(res.reason[bad], dtype="string")
    detail = reason.map(why).astype("string") + "; n_epochs=" + pd.Series(
        res.n_epochs[bad]).astype("string").to_numpy()
    return schema.conform(pd.DataFrame({
        "source_id": stars["source_id"].to_numpy()[bad], "stage": "preprocess",
        "reason": reason.to_numpy(), "detail": detail.to_numpy(),
    }), "rejected")


def summary(stars: pd.DataFrame, res: PreprocessResult, arrays: dict, counts: dict,
            cfg: PreprocessConfig, star_type: str) -> dict:
    rejected = pd.Series(res.reason[~res.ok]).value_counts()
    out = {
        "type": star_type,
        "config": section_values(cfg, "preprocess", "preprocess", star_type),  # what the tensors depend on
        "curve_options": cfg.curve_options(star_type),
        "counts": {
            "stars_in": int(len(stars)),
            **{key: int(counts[key]) for key in COUNT_KEYS},
            **{f"rejected_{r}": int(rejected.get(r, 0)) for r in REASONS},
            "stars_out": int(res.ok.sum()),
            "stars_out_labelled": int(np.isfinite(arrays["y"]).sum()),
        },
    }
    if len(arrays["source_id"]):
        out["ranges"] = {
            k: [arrays[k].min().item(), arrays[k].max().item()]
            for k in ("period", "amplitude", "n_epochs")
        }
    return out


def run_preprocess(cfg: PreprocessConfig, star_type: str, clean_dir: Path, out_dir: Path,
                   plots_dir: Path) -> dict:
    """Write out_dir/{type}.npz, {type}.json, {type}_rejected.parquet and the plots."""
    if star_type not in TYPE_NAMES:
        raise DataError(f"type must be one of {list(TYPE_NAMES)}, got {star_type!r}")
    clean_dir, out_dir, plots_dir = Path(clean_dir), Path(out_dir), Path(plots_dir)
    stars = load_stars(clean_dir, star_type)
    res, counts = preprocess_batches(
        iter_parquet_stars(clean_dir / "epoch_photometry.parquet", cfg.chunk_stars,
                           stars["source_id"].to_numpy()),
        stars["source_id"].to_numpy(), stars["period"].to_numpy(), stars["epoch_g"].to_numpy(),
        cfg.curve_options(star_type), n_jobs=cfg.n_jobs, progress=len(stars) > 4 * cfg.chunk_stars,
    )
    arrays = tensor_arrays(stars, res, cfg.kde_alpha, cfg.kde_max_weight)
    check_tensors(arrays, cfg.n_points(star_type))
    out_dir.mkdir(parents=True, exist_ok=True)
    # written under a temporary name and renamed: a kill never leaves a truncated npz behind
    final = out_dir / f"{star_type}.npz"
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    schema.write_table(rejected_table(stars, res, cfg), out_dir / f"{star_type}_rejected.parquet",
                       "rejected")
    report = summary(stars, res, arrays, counts, cfg, star_type)
    (out_dir / f"{star_type}.json").write_text(json.dumps(report, indent=2) + "\n")
    plots.curve_grid(arrays["X"], arrays["source_id"], arrays["y"], arrays["period"],
                     plots_dir / "curves.png")
    plots.feh_weights(arrays["y"], arrays["w"], plots_dir / "feh_weights.png")
    return report
