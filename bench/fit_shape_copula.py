"""The joint distribution of real RRab light-curve shapes, for the simulator (issue 21):
writes src/rrlfeh/sim/rrab_shapes.json, what `extract.simulate.rrab.shapes: copula` draws from.

From the unlabelled real DR3 RR Lyrae of ../shared/data (never copied into the project): the
stars bench.real_classes calls `rrab_clean`, with at least MIN_EPOCHS clean G epochs and a phi31
error below MAX_PHI31_ERROR (the best-measured shapes: measurement noise would widen every
marginal), fitted with 6 harmonics, each epoch weighted by 1 / mag_error^2, at the catalogue
period. Of each star: P, A1, R21..R61 and phi21..phi61 (each phi_k1 wrapped near its circular
mean). The summary is a Gaussian copula: each parameter's marginal as N_QUANTILES quantiles
(from the minimum to the maximum), and the correlation matrix of the normal scores. No
source_id, magnitude or epoch of any star is in it.

    python -m bench.fit_shape_copula [--real DIR] [--out src/rrlfeh/sim/rrab_shapes.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REAL = ROOT.parent / "shared" / "data" / "gaia_dr3_rrl_unlabelled"
DEFAULT_OUT = ROOT / "src" / "rrlfeh" / "sim" / "rrab_shapes.json"
MIN_EPOCHS = 60
MAX_PHI31_ERROR = 0.15
N_HARMONICS = 6
N_QUANTILES = 201


def shape_table(folder: Path) -> dict[str, np.ndarray]:
    """The Fourier parameters of the selected stars (see the module's docstring)."""
    from bench.real_classes import classify, fold_ratio, network_inputs, predict_options, r21, read_folder
    from rrlfeh.config import load_params
    from rrlfeh.core.fourier import fit_fourier
    from rrlfeh.sim.oracle import wrap_near

    options = predict_options(load_params(ROOT / "params.yaml"))
    _, curves, res = network_inputs(*read_folder(folder), options)
    keep = (classify(res.ok, fold_ratio(curves, res), r21(res.X)) == "rrab_clean") & (curves.counts >= MIN_EPOCHS)
    curves = curves.take(np.flatnonzero(keep))
    fit = fit_fourier(curves, np.full(len(curves), N_HARMONICS))
    good = fit.phi_k1_error(3) < MAX_PHI31_ERROR
    out = {"period": fit.period, "A1": fit.amp[:, 0]}
    for k in range(2, N_HARMONICS + 1):
        out[f"R{k}1"] = fit.r_k1(k)
    for k in range(2, N_HARMONICS + 1):
        phi = fit.phi_k1(k)
        centre = float(np.angle(np.mean(np.exp(1j * phi[good]))) % (2 * np.pi))
        out[f"phi{k}1"] = wrap_near(phi, centre)
    return {k: v[good] for k, v in out.items()}


def copula(table: dict[str, np.ndarray]) -> dict:
    """Marginal quantiles and the correlation of the normal scores."""
    from scipy.stats import norm, rankdata

    names = list(table)
    x = np.column_stack([table[k] for k in names])
    n = len(x)
    scores = norm.ppf((np.column_stack([rankdata(c) for c in x.T]) - 0.5) / n)
    corr = np.corrcoef(scores, rowvar=False)
    levels = np.linspace(0.0, 1.0, N_QUANTILES)
    return {
        "source": "Gaia DR3 (Gaia Collaboration, Vallenari et al. 2023; Clementini et al. 2023): "
                  "bench/fit_shape_copula.py on ../shared/data/gaia_dr3_rrl_unlabelled",
        "selection": {"class": "rrab_clean", "min_epochs": MIN_EPOCHS, "max_phi31_error": MAX_PHI31_ERROR,
                      "harmonics": N_HARMONICS, "weighted": True},
        "n_stars": int(n),
        "parameters": names,
        "levels": np.round(levels, 6).tolist(),
        "quantiles": {k: np.round(np.quantile(table[k], levels), 6).tolist() for k in names},
        "correlation": np.round(corr, 6).tolist(),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(json.dumps({"skipped": f"{args.real} not found: the committed summary stays as it is"}))
        return
    summary = copula(shape_table(args.real))
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    med = {k: summary["quantiles"][k][N_QUANTILES // 2] for k in summary["parameters"]}
    json.dump({"out": str(args.out), "n_stars": summary["n_stars"], "medians": med}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
