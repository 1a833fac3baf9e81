"""How much [Fe/H] the preprocessed tensors still hold: a linear model on their Fourier parameters.

    python -m bench.fourier_baseline [--data data/processed] [--truth data/raw/truth.parquet] [--folds 5]

For each type, reads {type}.npz (the GRU's exact input), takes the period from channel 1 and the
Fourier parameters (A1, R21, R31, phi21, phi31) of the resampled curve from channel 2 (a DFT: the
points are uniform in phase), and cross-validates a linear regression on them. If it lands near the
simulator's oracle, the folding and smoothing kept what the relation needs, and any gap between the
GRU and the oracle is the network's. Prints one JSON object; P alone is shown for scale.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def fourier_features(X: np.ndarray, n_harmonics: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(period, features) from (n, N, 2) tensors: phase x period in channel 0, standardized mag in 1."""
    n_points = X.shape[1]
    period = X[:, -1, 0] * n_points / (n_points - 1)  # the last point sits at phase (N-1)/N
    coef = np.fft.rfft(X[:, :, 1], axis=1)[:, 1:n_harmonics + 1] * 2 / n_points
    amp, phase = np.abs(coef), np.angle(coef)  # m = sum A_k cos(2 pi k phase + phi_k)
    phi21 = np.mod(phase[:, 1] - 2 * phase[:, 0], 2 * np.pi)
    phi31 = np.mod(phase[:, 2] - 3 * phase[:, 0], 2 * np.pi)
    feats = np.column_stack([period, amp[:, 0], amp[:, 1] / amp[:, 0], amp[:, 2] / amp[:, 0], phi21, phi31])
    return period, feats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/processed"))
    ap.add_argument("--truth", type=Path, default=Path("data/raw/truth.parquet"))
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_predict

    from rrlfeh.model.dataset import load_tensors, oracle_lookup
    from rrlfeh.model.metrics import regression_metrics

    cv = KFold(args.folds, shuffle=True, random_state=0)
    out = {"bench": "fourier_baseline", "folds": args.folds, "types": {}}
    for star_type in ("rrab", "rrc"):
        path = args.data / f"{star_type}.npz"
        if not path.exists():
            continue
        data = load_tensors(path)
        ok = np.isfinite(data.y)
        X, y, w = data.X[ok], data.y[ok].astype("float64"), data.w[ok].astype("float64")
        period, feats = fourier_features(X)
        row = {"n": int(ok.sum()),
               "period_from_channel_0_max_rel_err": float(np.max(np.abs(period / data.period[ok] - 1)))}
        for name, F in (("linear_fourier", feats), ("linear_period_only", period[:, None])):
            pred = cross_val_predict(LinearRegression(), F, y, cv=cv)
            row[name] = regression_metrics(y, pred, w)
        oracle = oracle_lookup(args.truth if args.truth.exists() else None, data.source_id[ok])
        if oracle is not None and np.isfinite(oracle).all():
            row["oracle"] = regression_metrics(y, oracle, w)
        out["types"][star_type] = row
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
