"""Which real DR3 curves are RRab with a clean fold (issue 21): the classification the two-sample
test and the unlabelled flag shares use.

The unlabelled set was not selected as RRab: its `pf` comes from a Lomb-Scargle search over
0.4-1.0 d, so first-overtone and double-mode stars (true periods 0.2-0.45 d) sit at alias
periods and fold into noise, and some RRab periods are aliases too. Each star goes through the
code of `rrlfeh predict` (serving.star_rows.clean_curves, features.tensors.preprocess_curves at the
params' curve options and predict.min_epochs) and is put in one class, the first that applies:

  - `not_preprocessed`: predict would reject it (too few epochs, a phase gap, ...);
  - `bad_fold`: the fold explains little of the light curve: the robust scatter of the epochs
    around the folded curve is more than FOLD_RATIO of the robust spread of the magnitudes
    themselves (a wrong period folds into noise: ratio near 1; a clean RRab fold is near 0.1);
  - `sinusoidal`: a clean fold of a near-sinusoidal curve (R21 < MIN_R21: RRc-like; the labelled
    RRab have R21 >= 0.22 at the 1st percentile);
  - `rrab_clean`: the rest.

FOLD_RATIO and MIN_R21 were set once on the distributions printed here (`ratio_histogram`: the
valley between the clean folds and the noise folds) and are kept fixed.

    python -m bench.real_classes [--real DIR] [--params params.yaml]   # ~10 s
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_REAL = SHARED / "gaia_dr3_rrl_unlabelled"
FOLD_RATIO = 0.35
MIN_R21 = 0.25
CLASSES = ("rrab_clean", "sinusoidal", "bad_fold", "not_preprocessed")
RATIO_BINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0, 10.0)


def read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The folder's vari_rrlyrae table and all its epoch rows (the archive layout)."""
    from rrlfeh.sources.files import discover, iter_epoch_batches, read_vari_table

    files = discover([folder])
    vari = read_vari_table(files.vari)
    epochs = pd.concat(list(iter_epoch_batches(files.epochs, 5000)), ignore_index=True)
    return vari, epochs


def network_inputs(vari: pd.DataFrame, epochs: pd.DataFrame, options: dict):
    """(source_id, the clean curves at the catalogue periods, their preprocess result), one row
    per star with clean G epochs, in source_id order."""
    from rrlfeh.core import schema
    from rrlfeh.features.tensors import preprocess_curves
    from rrlfeh.serving.star_rows import clean_curves

    vari = schema.conform(vari, "vari_rrlyrae")
    ids = np.sort(vari["source_id"].to_numpy(np.int64))
    curves = clean_curves(schema.conform(epochs, "epoch_photometry"), ids)
    v = vari.set_index("source_id").loc[curves.source_id]
    curves = dataclasses.replace(curves, period=schema.period_of(v.reset_index()).to_numpy(np.float64),
                                 epoch=v["epoch_g"].to_numpy(np.float64))
    return curves.source_id, curves, preprocess_curves(curves, options)


def r21(X: np.ndarray) -> np.ndarray:
    """A2 / A1 of each resampled curve (its discrete Fourier transform)."""
    f = np.abs(np.fft.rfft(X[:, :, 1], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return f[:, 2] / f[:, 1]


def fold_ratio(curves, res) -> np.ndarray:
    """Robust scatter around the folded curve / robust spread of the magnitudes (NaN where the
    star did not preprocess)."""
    from rrlfeh.core.ragged import segment_median

    n = len(curves)
    med = segment_median(curves.mag, curves.star, n)
    spread = 1.4826 * segment_median(np.abs(curves.mag - med[curves.star]), curves.star, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(res.ok, res.scatter * res.amplitude / spread, np.nan)


def classify(ok: np.ndarray, ratio: np.ndarray, r21_: np.ndarray) -> np.ndarray:
    """One of CLASSES per star (the first that applies, in the order of the module's docstring)."""
    out = np.full(len(ok), "rrab_clean", dtype=object)
    out[ok & (r21_ < MIN_R21)] = "sinusoidal"
    out[ok & ~(ratio <= FOLD_RATIO)] = "bad_fold"
    out[~ok] = "not_preprocessed"
    return out


def classes_of(folder: Path, options: dict) -> pd.DataFrame:
    """source_id, class, fold ratio, R21 and n_epochs of every star of `folder` with clean G
    epochs (a star without any is not in the table: predict rejects it before preprocessing)."""
    sid, curves, res = network_inputs(*read_folder(folder), options)
    ratio, r = fold_ratio(curves, res), np.where(res.ok, r21(res.X), np.nan)
    return pd.DataFrame({"source_id": sid, "class": classify(res.ok, ratio, r), "fold_ratio": ratio,
                         "r21": r, "n_epochs": res.n_epochs, "reason": res.reason})


def summary(table: pd.DataFrame) -> dict:
    counts = table["class"].value_counts()
    return {
        "stars": int(len(table)),
        "classes": {c: int(counts.get(c, 0)) for c in CLASSES},
        "ratio_histogram": dict(zip([f"{a}-{b}" for a, b in zip(RATIO_BINS[:-1], RATIO_BINS[1:])],
                                    np.histogram(table["fold_ratio"].dropna(), RATIO_BINS)[0].tolist())),
        "r21_quantiles_clean_fold": np.round(np.nanquantile(
            table.loc[table["fold_ratio"] <= FOLD_RATIO, "r21"], [0.01, 0.05, 0.1, 0.5]), 3).tolist(),
    }


def predict_options(p) -> dict:
    """The curve options `rrlfeh predict` uses for RRab (Params: its preprocess, predict's cut and
    epoch weights)."""
    weights = p.predict.epoch_weights or p.preprocess.epoch_weights
    return {**p.preprocess.curve_options("rrab"), "min_epochs": p.predict.min_epochs, "epoch_weights": weights}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, action="append", default=None)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = ap.parse_args(argv)
    from rrlfeh.config import load_params

    options = predict_options(load_params(args.params))
    report = {"fold_ratio_limit": FOLD_RATIO, "min_r21": MIN_R21, "curve_options": options, "real": {}}
    for folder in args.real or [DEFAULT_REAL, SHARED / "gaia_dr3_rrab_labelled"]:
        if not folder.is_dir():
            report["real"][folder.name] = f"{folder} not found: not measured"
            continue
        report["real"][folder.name] = summary(classes_of(folder, options))
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
