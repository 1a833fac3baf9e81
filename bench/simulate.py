"""The simulator: run time, clean-cut pass fractions and the oracle's noise floor.

    python -m bench.simulate [--preset default|paper] [--label-mode photometric|spectroscopic]
                             [--seed 42]

Simulates with params.yaml's `extract.simulate` (preset and label mode overridden), applies the
default clean cuts of params.yaml's `clean` section (>= 50 clean G epochs, feh_error, peak-to-peak,
RRab phi31 error) and prints one JSON object: CPU and wall seconds of `simulate_tables`, rows,
stars kept per type, and the oracle's RMSE, MAE, bias and R^2 against the labels on the kept stars
(the simulator's noise floor a model is compared with).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _kept(vari, labels, clean):
    v = vari.merge(labels, on="source_id", how="left")
    ok = ((v["num_clean_epochs_g"] >= clean.min_clean_epochs)
          & (v["feh_error"] < clean.max_feh_error)
          & (v["peak_to_peak_g"] < clean.max_peak_to_peak_g))
    rrab = v["best_classification"] == "RRab"
    ok &= ~rrab | (v["phi31_g_error"] < clean.max_phi31_error_rrab)
    return v[ok & v["best_classification"].isin(clean.types)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", choices=["default", "paper"])
    ap.add_argument("--label-mode", default="photometric", choices=["photometric", "spectroscopic"])
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    from rrlfeh.config import load_params
    from rrlfeh.sim.simulate import simulate_tables

    params = load_params(ROOT / "params.yaml")
    cfg = dataclasses.replace(params.extract.simulate, preset=args.preset,
                              label_mode=args.label_mode)
    cpu, wall = time.process_time(), time.perf_counter()
    tables = simulate_tables(cfg, args.seed)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    vari, truth = tables["vari_rrlyrae"], tables["truth"]
    kept = _kept(vari, tables["labels"], params.clean).merge(truth, on="source_id")
    out = {
        "preset": args.preset, "label_mode": args.label_mode, "seed": args.seed,
        "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rows": {k: len(v) for k, v in tables.items()}, "machine": platform.node(),
        "types": {},
    }
    for kind in ("RRab", "RRc"):
        k = kept[kept["best_classification"] == kind]
        err = (k["feh_oracle"] - k["feh"]).to_numpy()
        y = k["feh"].to_numpy()
        n_sim = int((vari["best_classification"] == kind).sum())
        out["types"][kind] = {
            "simulated": n_sim, "kept": len(k), "pass_fraction": round(len(k) / max(n_sim, 1), 4),
            "oracle_rmse": round(float(np.sqrt(np.mean(err**2))), 4),
            "oracle_mae": round(float(np.mean(np.abs(err))), 4),
            "oracle_bias": round(float(np.mean(err)), 4),
            "oracle_r2": round(float(1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2)), 4),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
