"""The trained model against the simulator's noise floor when the labels are measured (issue 21).

With `label_mode: measured` the label is the oracle's own value (the relation at the shape fitted
to the star's noisy epochs), so `train` reports no ratio to the oracle. The floor is still there
against the noise-free value, the relation at the star's true shape (`feh_relation` of
data/raw/truth.parquet): the oracle misses it by the measurement noise of the epochs, and a model
that learns the measured labels cannot do better. This prints, per type and split (pooled
out-of-fold `val`, the held-out `test`), the weighted RMSE of the model and of the oracle against
that value, and their ratio (the train stage's weights). Reads the outputs of `dvc repro` (the
simulated default only: truth.parquet). Prints JSON.

    python -m bench.sim_floor [--root .]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def floor_ratios(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Weighted RMSE of the model and of the oracle against the noise-free relation value."""
    p = predictions.merge(truth[["source_id", "feh_relation", "feh_oracle"]], on="source_id")
    w = p["weight"].to_numpy(float)

    def wrmse(a):
        return float(np.sqrt(np.sum(w * (p[a].to_numpy(float) - p["feh_relation"].to_numpy(float)) ** 2) / np.sum(w)))

    model, oracle = wrmse("feh_pred"), wrmse("feh_oracle")
    return {"n": int(len(p)), "model_wrmse": round(model, 4), "oracle_wrmse": round(oracle, 4),
            "ratio": round(model / oracle, 3) if oracle > 0 else None}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args(argv)
    truth_path = args.root / "data" / "raw" / "truth.parquet"
    if not truth_path.exists():
        print(json.dumps({"skipped": f"{truth_path} not found: run `make run` (the simulated default) first"}))
        return
    truth = pd.read_parquet(truth_path)
    out = {}
    for t in ("rrab", "rrc"):
        for split in ("val", "test"):
            path = args.root / "plots" / "train" / t / f"predictions_{split}.csv"
            if path.exists():
                out[f"{t}_{'oof' if split == 'val' else 'test'}"] = floor_ratios(pd.read_csv(path), truth)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
