"""How the fixed smoothing strength (preprocess.smoothing, lam) and the knots were chosen.

    python -m bench.preprocess_smoothing [--n 6000] [--real FOLDER_WITH_DR3_CSVS]

1. Simulated curves (bench/preprocess.py): RMS between each preprocessed curve and its noise-free
   truth, both standardized (what the network sees), per type and lam; plus the same for the
   per-curve GCV spline (scipy make_smoothing_spline without lam) on a subset.
2. Real data, if --real is given (vari_rrlyrae.csv + epoch_photometry.csv in Gaia DR3 layout):
   5-fold cross-validation over each star's epochs (fit on 4/5, predict the held-out 1/5),
   pooled over all stars, per lam and knot count.
3. The simulated RRab error at the default lam by largest phase gap (the max_phase_gap cut).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.preprocess import noise_free, simulate, straightforward
from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core import schema
from rrlfeh.core import ragged
from rrlfeh.features.folding import fold, largest_phase_gap
from rrlfeh.features.spline import fit_periodic, periodic_basis
from rrlfeh.features.tensors import phase_grid, preprocess_arrays

LAMS = (1e-7, 1e-6, 3e-6, 5e-6, 1e-5, 3e-5, 1e-4)
KNOTS = (24, 32, 48, 64)


def truth_error(n: int, seed: int, n_gcv: int) -> dict:
    stars, epochs = simulate(n, seed)
    epochs = epochs[~epochs["rejected_by_variability"]]
    n_points = PreprocessConfig.n_points_rrab
    shift = ((stars["epoch_g"] - stars["t0"]) / stars["period"]).to_numpy()[:, None]
    truth = noise_free(stars, phase_grid(n_points)[None, :] + shift)
    truth = (truth - truth.mean(1, keepdims=True)) / truth.std(1, keepdims=True)
    groups = dict(tuple(epochs.groupby("source_id")))
    curves = [groups[s] for s in stars["source_id"]]
    times = [c["time"].to_numpy() for c in curves]
    mags = [c["mag"].to_numpy() for c in curves]
    rrab = (stars["type"] == "RRab").to_numpy()
    out, errors, default = {}, {}, PreprocessConfig().smoothing
    for lam in LAMS:
        opts = {**PreprocessConfig(smoothing=lam).curve_options("rrab"), "max_phase_gap": 1.0}
        res = preprocess_arrays(times, mags, stars["period"], stars["epoch_g"], opts)
        err = np.sqrt(((res.X[:, :, 1] - truth) ** 2).mean(axis=1))
        errors[lam] = np.where(res.ok, err, np.nan)
        out[f"{lam:g}"] = {
            t: {"median": round(float(np.median(err[res.ok & m])), 4),
                "mean": round(float(err[res.ok & m].mean()), 4)}
            for t, m in (("RRab", rrab), ("RRc", ~rrab))
        }
    key = f"rrab_error_by_largest_phase_gap_at_lam_{default:g}"
    out[key] = gap_table(times, stars, errors[default], rrab)
    sub = stars.iloc[:n_gcv]
    gcv = straightforward(epochs[epochs["source_id"].isin(sub["source_id"])], sub, n_points)
    err = np.sqrt(((gcv - truth[:n_gcv]) ** 2).mean(axis=1))
    out["gcv_per_curve"] = {
        t: {"median": round(float(np.median(err[m[:n_gcv]])), 4),
            "mean": round(float(err[m[:n_gcv]].mean()), 4)}
        for t, m in (("RRab", rrab), ("RRc", ~rrab))
    }
    return out


def gap_table(times, stars: pd.DataFrame, err: np.ndarray, mask: np.ndarray) -> dict:
    """Median / mean standardized error of the stars in `mask`, by largest phase gap."""
    time, offsets = ragged.concat(times)
    star = ragged.star_index(np.diff(offsets))
    period, epoch = stars["period"].to_numpy(), stars["epoch_g"].to_numpy()
    gap = largest_phase_gap(fold(time, epoch[star], period[star]), star, len(stars))
    edges = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.0)
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = mask & (gap > lo) & (gap <= hi)
        if sel.any():
            out[f"{lo}-{hi}"] = {"stars": int(sel.sum()),
                                 "median": round(float(np.median(err[sel])), 4),
                                 "mean": round(float(err[sel].mean()), 4)}
    return out


def cv_rms(star, phase, mag, lam, n_knots, folds=5, seed=0) -> float:
    """Pooled RMS of held-out epochs: each star fitted on the other folds of its own epochs."""
    fold_of = np.random.default_rng(seed).integers(0, folds, len(star))
    n = star.max() + 1
    resid = np.empty(len(star))
    for k in range(folds):
        tr, te = fold_of != k, fold_of == k
        cnt = np.maximum(np.bincount(star[tr], minlength=n), 1)
        centre = np.bincount(star[tr], weights=mag[tr], minlength=n) / cnt
        coef = fit_periodic(phase[tr], mag[tr] - centre[star[tr]], star[tr], n, n_knots, lam)
        idx, val = periodic_basis(phase[te], n_knots)
        resid[te] = mag[te] - centre[star[te]] - (coef[star[te][:, None], idx] * val).sum(1)
    return round(float(np.sqrt(np.mean(resid**2))), 5)


def real_cv(folder: Path) -> dict:
    vari = schema.conform(pd.read_csv(folder / "vari_rrlyrae.csv"), "vari_rrlyrae")
    ep = schema.conform(pd.read_csv(folder / "epoch_photometry.csv"), "epoch_photometry")
    ep = ep[(ep["band"] == "G") & ~ep["rejected_by_variability"] & ep["mag"].notna()]
    ep = ep.sort_values("source_id", kind="stable")
    vari = vari.set_index("source_id")
    period = schema.period_of(vari.reset_index()).to_numpy()
    row = vari.index.get_indexer(ep["source_id"])
    star = pd.factorize(ep["source_id"])[0]
    phase = fold(ep["time"].to_numpy(), vari["epoch_g"].to_numpy()[row], period[row])
    mag = ep["mag"].to_numpy()
    k0 = PreprocessConfig.n_knots
    return {
        "stars": int(star.max() + 1),
        "cv_rms_by_lam": {f"{lam:g}": cv_rms(star, phase, mag, lam, k0) for lam in LAMS},
        "cv_rms_by_knots": {k: cv_rms(star, phase, mag, PreprocessConfig.smoothing, k)
                            for k in KNOTS},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--n-gcv", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--real", type=Path)
    args = ap.parse_args()
    report = {"simulated_rms_vs_truth_standardized": truth_error(args.n, args.seed, args.n_gcv)}
    if args.real:
        report["real_epoch_cv"] = real_cv(args.real)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
