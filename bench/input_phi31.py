"""Which phi31 the network's input carries (issue 21): the P-phi31 line fitted on the phi31 of the
resampled curve the GRU reads, against the benchmark's line (4-harmonic unweighted fit of the raw
epochs), on the labelled real RRab.

Each star's clean G epochs (with their magnitude errors, 1.0857 / flux_over_error) go through
features.tensors.preprocess_curves with the params' curve options and `epoch_weights` none, then
errors; phi31 is read off the resampled standardized curve (a 6-harmonic fit of its 64 points).
The line [Fe/H] = a + b (P - 0.6) + c (phi31 - 2.3) is fitted on the calibration half
(rrlfeh.evaluation.split) and scored on both halves, on the stars where the benchmark's line is
defined (4-harmonic phi31 error < 0.3 rad) and every curve preprocesses: RMSE (dex) overall, below
50 clean G epochs and from 50 up. Beside it (`simulator_relation`), the simulator's own relation at
the input's phi31, nothing refitted: what a network trained on measured labels should return. Prints
JSON; says so and exits when the data folder is absent.

    python -m bench.input_phi31 [--data ../shared/data/gaia_dr3_rrab_labelled] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gaia_dr3_rrab_labelled"


def resampled_phi31(curves, options: dict) -> np.ndarray:
    """phi31 of each star's preprocessed curve (NaN where it does not preprocess)."""
    from rrlfeh.core.ragged import LightCurves
    from rrlfeh.evaluation.curve_stats import shape_parameters
    from rrlfeh.features.tensors import preprocess_curves

    res = preprocess_curves(curves, options)
    n, n_points = len(curves), res.X.shape[1]
    grid = np.arange(n_points) / n_points
    grid_curves = LightCurves.from_counts(np.full(n, n_points), np.tile(grid, n),
                                          res.X[:, :, 1].astype(np.float64).ravel(), np.ones(n), np.zeros(n))
    return np.where(res.ok, shape_parameters(grid_curves, 6)["phi31"].to_numpy(), np.nan)


def relation_scores(feh, period, phi31, defined, calibration, n_epochs, relation) -> dict:
    """The simulator's own relation (params extract.simulate.rrab.relation, nothing refitted) at
    the input's phi31: what a network trained on measured labels should return, scored per half
    and epoch group (< 40, 40-49, >= 50)."""
    from rrlfeh.sim.oracle import wrap_near
    from rrlfeh.sim.populations import relation_feh

    pred = relation_feh(relation, period, wrap_near(phi31, relation.shape_pivot))
    good = defined & np.isfinite(pred) & np.isfinite(feh)
    resid = pred - feh
    out = {}
    for half, mask in (("calibration", good & calibration), ("scoring", good & ~calibration)):
        out[half] = {name: round(float(np.sqrt(np.mean(resid[m] ** 2))), 4) if m.any() else None
                     for name, m in (("all", mask), ("lt40", mask & (n_epochs < 40)),
                                     ("40_49", mask & (n_epochs >= 40) & (n_epochs < 50)),
                                     ("ge50", mask & (n_epochs >= 50)))}
    return out


def line_scores(feh, period, phi31, defined, calibration, n_epochs) -> dict:
    """The line fitted on the calibration half, scored per half and epoch group."""
    good = defined & np.isfinite(phi31) & np.isfinite(feh)
    x = np.column_stack([np.ones(len(feh)), period - 0.6, phi31 - 2.3])
    coef = np.linalg.lstsq(x[good & calibration], feh[good & calibration], rcond=None)[0]
    resid = feh - x @ coef

    def rmse(mask):
        return round(float(np.sqrt(np.mean(resid[mask] ** 2))), 4) if mask.any() else None

    out = {"coefficients": np.round(coef, 4).tolist()}
    for half, mask in (("calibration", good & calibration), ("scoring", good & ~calibration)):
        out[half] = {"n": int(mask.sum()), "rmse": rmse(mask), "rmse_lt50": rmse(mask & (n_epochs < 50)),
                     "rmse_ge50": rmse(mask & (n_epochs >= 50))}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(json.dumps({"skipped": f"{args.data} not found: nothing measured"}))
        return
    from bench.label_mode import mag_errors
    from rrlfeh.config.loader import load_params
    from rrlfeh.evaluation.curve_stats import shape_parameters
    from rrlfeh.evaluation.real_data import read_real
    from rrlfeh.evaluation.split import is_calibration

    stars, curves = read_real(args.data)
    curves = dataclasses.replace(curves, error=mag_errors(args.data, curves))
    feh, period = stars["feh"].to_numpy(float), stars["period"].to_numpy(float)
    calibration = is_calibration(stars["source_id"])
    k4 = shape_parameters(curves, 4)
    defined = (k4["phi31_error"] < 0.3).to_numpy()
    params = load_params(args.params)
    options = params.preprocess.curve_options("rrab")
    args_common = (feh, period)
    report = {"data": str(args.data), "curve_options": options,
              "line_4_harmonics": line_scores(*args_common, k4["phi31"].to_numpy(), defined, calibration,
                                              curves.counts)}
    for weights in ("none", "errors"):
        phi31 = resampled_phi31(curves, {**options, "epoch_weights": weights})
        report[f"input_epoch_weights_{weights}"] = line_scores(*args_common, phi31, defined, calibration,
                                                                curves.counts)
        report[f"input_epoch_weights_{weights}"]["simulator_relation"] = relation_scores(
            *args_common, phi31, defined, calibration, curves.counts, params.extract.simulate.rrab.relation)
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
