"""Simulated against real G light curves, measured by the same code (docs/SIMULATOR.md,
"Calibration on real DR3 curves"): the scatter around a smooth fit and its profile along the
phase (phase and amplitude jitter), the outlier share, epoch counts, the Fourier parameters and the
P-phi31 relation of the labels. Real stars: the calibration half of a labelled folder only
(rrlfeh.evaluation.split), plus an unlabelled folder if given. Prints JSON.

    python -m bench.calibrate_simulator [--real DIR] [--unlabelled DIR] [--n-rrab 1500]
        [-S extract.simulate.sampling.phase_jitter=0.01 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from rrlfeh.config.loader import load_params
from rrlfeh.sim.simulate import simulate_tables
from rrlfeh.evaluation.curve_stats import (curves_from_epochs, relation_fit, residuals,
                                           scatter_profile, shape_parameters)
from rrlfeh.evaluation.real_data import read_real
from rrlfeh.evaluation.split import is_calibration

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def describe(shape: pd.DataFrame) -> dict:
    q = {c: [round(float(v), 3) for v in np.nanpercentile(shape[c], [10, 50, 90])]
         for c in ("n_epochs", "A1", "R21", "R31", "phi21", "phi31", "phi31_error")}
    return {"percentiles_10_50_90": q, "n_stars": int(len(shape))}


def measure(curves, feh=None) -> dict:
    shape = shape_parameters(curves)
    out = {**describe(shape), "scatter": scatter_profile(residuals(curves))}
    if feh is not None and np.isfinite(feh).any():
        out["relation"] = relation_fit(shape, np.asarray(feh, float))
    return out


def rrab_params(params_path: Path, overrides: list[str], n_rrab: int):
    """The params with `-S key=value` overrides and the simulator reduced to n_rrab RRab (checked
    by the project's loader, from a temporary copy)."""
    data = yaml.safe_load(params_path.read_text())
    for o in overrides:
        key, value = o.split("=", 1)
        node = data
        *parents, leaf = key.split(".")
        for k in parents:
            node = node[k]
        node[leaf] = yaml.safe_load(value)
    data["extract"]["simulate"].update(n_rrab=n_rrab, n_rrc=0, n_rrd=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_params(path)


def simulated(params_path: Path, overrides: list[str], n_rrab: int):
    p = rrab_params(params_path, overrides, n_rrab)
    t = simulate_tables(p.extract.simulate, p.seed)
    v = t["vari_rrlyrae"].merge(t["labels"], on="source_id")
    # the training cuts' epoch floor is not applied: real stars at inference have 20+ epochs
    stars = pd.DataFrame({"source_id": v["source_id"], "period": v["pf"], "epoch_g": v["epoch_g"],
                          "feh": v["feh"]})
    return stars, curves_from_epochs(t["epoch_photometry"], stars)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=SHARED / "gaia_dr3_rrab_labelled")
    ap.add_argument("--unlabelled", type=Path, default=SHARED / "gaia_dr3_rrl_sample")
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--n-rrab", type=int, default=1500)
    ap.add_argument("-S", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    report: dict = {"overrides": args.overrides}
    if args.real.is_dir():
        stars, curves = read_real(args.real)
        cal = is_calibration(stars["source_id"])
        sub = curves_from_epochs_subset(stars, curves, cal)
        report["real_calibration_half"] = measure(sub, stars["feh"].to_numpy()[cal])
    else:
        report["real_calibration_half"] = f"{args.real} not found: real stars not measured"
    if args.unlabelled.is_dir():
        report["real_unlabelled"] = measure(read_real(args.unlabelled)[1])
    stars, curves = simulated(args.params, args.overrides, args.n_rrab)
    report["simulated_rrab"] = measure(curves, stars["feh"].to_numpy())
    json.dump(report, sys.stdout, indent=1)
    print()


def curves_from_epochs_subset(stars, curves, keep):
    """The curves of the stars where `keep` is True."""
    return curves.take(np.flatnonzero(keep))


if __name__ == "__main__":
    main()
