"""How far simulated curves are from real ones, as the network sees them (issue 21): a classifier
two-sample test. 0.5 AUC means a classifier cannot tell them apart; 1.0 means every curve gives
itself away.

Real: Gaia DR3 RR Lyrae folders from ../shared/data (never copied into the project); simulated:
the project's simulator with the params given (RRab only, no cuts). Both go through the same
code as `rrlfeh predict` (bench.real_classes.network_inputs: clean G epochs with their errors,
features.tensors.preprocess_curves at the params' curve options, predict.min_epochs and
predict.epoch_weights).

**The test** (fixed once, kept; `test` in the output): the network's own input tensors (the 64
standardized magnitudes and the period, which with the phase grid is its time channel); the real
side the stars bench.real_classes calls `rrab_clean`; classes balanced by subsampling the larger;
the out-of-fold AUC of 5-fold gradient boosting (scikit-learn), with a bootstrap standard error
and 95 % interval (stars resampled with their out-of-fold scores, --draws 1000).

Diagnostics beside it, on all real stars that preprocess and on the `rrab_clean` ones:
  - network: the test's representation;
  - network_and_side: plus the epoch count, amplitude, scatter and largest phase gap;
  - first_three_harmonics: the period and the first three harmonics of the resampled curve (A1,
    R21, R31, phi21, phi31 of its discrete Fourier transform): how much of the gap the low-order
    shape carries;
  - each side feature alone (which one gives the simulation away).
Prints JSON; says so and exits when no real folder is there.

    python -m bench.sim_real_gap [--real DIR ...] [--params params.yaml] [--n-sim 4000]
        [--draws 1000] [-S extract.simulate.sampling.epochs_median=40 ...]
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
DEFAULT_REAL = [SHARED / "gaia_dr3_rrl_unlabelled", SHARED / "gaia_dr3_rrab_labelled"]
SIDE = ("n_epochs", "amplitude", "scatter", "phase_gap")


def tensors(vari: pd.DataFrame, epochs: pd.DataFrame, options: dict) -> pd.DataFrame:
    """One row per star that preprocesses: source_id, the 64 standardized mags (the network's
    magnitude channel), the period (its time channel is the phase grid times the period), the side
    features and the bench.real_classes class."""
    from bench.real_classes import classify, fold_ratio, network_inputs, r21

    sid, curves, res = network_inputs(vari, epochs, options)
    ok = res.ok
    out = pd.DataFrame(res.X[ok, :, 1], columns=[f"m{j:02d}" for j in range(res.X.shape[1])])
    out.insert(0, "source_id", sid[ok])
    out["period"] = curves.period[ok]
    for name in SIDE:
        out[name] = np.asarray(getattr(res, name), dtype=np.float64)[ok]
    out["class"] = classify(ok, fold_ratio(curves, res), r21(res.X))[ok]
    return out


def oof_scores(real: pd.DataFrame, sim: pd.DataFrame, columns: list[str], seed: int = 0):
    """(labels, out-of-fold probabilities) of telling real (1) from simulated (0): classes
    balanced by subsampling the larger, 5-fold gradient boosting."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(real), len(sim))
    x = np.vstack([real[columns].to_numpy()[rng.permutation(len(real))[:n]],
                   sim[columns].to_numpy()[rng.permutation(len(sim))[:n]]])
    y = np.r_[np.ones(n), np.zeros(n)]
    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    p = cross_val_predict(clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                          method="predict_proba")[:, 1]
    return y, p


def auc(real: pd.DataFrame, sim: pd.DataFrame, columns: list[str], seed: int = 0) -> float:
    """Out-of-fold ROC AUC of telling real from simulated, classes balanced."""
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(*oof_scores(real, sim, columns, seed))), 4)


def auc_with_interval(real: pd.DataFrame, sim: pd.DataFrame, columns: list[str], draws: int = 1000,
                      seed: int = 0) -> dict:
    """The AUC, its bootstrap standard error and 95 % interval (stars resampled with their
    out-of-fold scores, 1,000 draws)."""
    from sklearn.metrics import roc_auc_score

    y, p = oof_scores(real, sim, columns, seed)
    rng = np.random.default_rng(seed + 1)
    boot = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            boot.append(roc_auc_score(y[i], p[i]))
    boot = np.asarray(boot)
    return {"auc": round(float(roc_auc_score(y, p)), 4), "se": round(float(boot.std(ddof=1)), 4),
            "interval_95": np.round(np.quantile(boot, [0.025, 0.975]), 4).tolist(), "n_per_class": int(len(y) // 2)}


def low_harmonics(curves: pd.DataFrame) -> pd.DataFrame:
    """Period, A1, R21, R31, phi21, phi31 of each resampled curve (its discrete Fourier transform)."""
    mags = curves[[c for c in curves.columns if c.startswith("m")]].to_numpy()
    f = np.fft.rfft(mags, axis=1)[:, 1:4]
    amp, phase = np.abs(f), np.angle(f)
    return pd.DataFrame({
        "period": curves["period"].to_numpy(), "A1": amp[:, 0], "R21": amp[:, 1] / amp[:, 0],
        "R31": amp[:, 2] / amp[:, 0], "phi21": np.angle(np.exp(1j * (phase[:, 1] - 2 * phase[:, 0]))),
        "phi31": np.angle(np.exp(1j * (phase[:, 2] - 3 * phase[:, 0]))),
    })


def gap(real: pd.DataFrame, sim: pd.DataFrame) -> dict:
    mags = [c for c in sim.columns if c.startswith("m")]
    network = mags + ["period"]
    low_real, low_sim = low_harmonics(real), low_harmonics(sim)
    out = {"n_real": int(len(real)), "n_sim": int(len(sim)),
           "auc_network": auc(real, sim, network),
           "auc_network_and_side": auc(real, sim, network + list(SIDE)),
           "auc_first_three_harmonics": auc(low_real, low_sim, list(low_real.columns))}
    out["auc_alone"] = {c: auc(real, sim, [c]) for c in ("period", *SIDE)}
    out["medians_real_sim"] = {c: [round(float(real[c].median()), 4), round(float(sim[c].median()), 4)]
                               for c in ("period", *SIDE)}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, action="append", default=None)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--n-sim", type=int, default=4000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("-S", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    from bench.calibrate_simulator import rrab_params
    from bench.real_classes import predict_options, read_folder
    from rrlfeh.sim.simulate import simulate_tables

    p = rrab_params(args.params, args.overrides, args.n_sim)
    options = predict_options(p)
    tables = simulate_tables(p.extract.simulate, p.seed)
    vari = tables["vari_rrlyrae"]
    sim = tensors(vari[vari["best_classification"] == "RRab"], tables["epoch_photometry"], options)
    network = [c for c in sim.columns if c.startswith("m")] + ["period"]
    report = {"params": str(args.params), "overrides": args.overrides, "curve_options": options, "real": {}}
    for folder in args.real or DEFAULT_REAL:
        if not folder.is_dir():
            report["real"][folder.name] = f"{folder} not found: not measured"
            continue
        real = tensors(*read_folder(folder), options)
        clean = real[real["class"] == "rrab_clean"]
        report["real"][folder.name] = {
            "test": {"real_side": "rrab_clean (bench.real_classes)", "n_real": int(len(clean)),
                     "n_sim": int(len(sim)), **auc_with_interval(clean, sim, network, args.draws)},
            "all": gap(real, sim),
            "rrab_clean": {"share_of_real_kept": round(len(clean) / max(len(real), 1), 4), **gap(clean, sim)},
        }
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
