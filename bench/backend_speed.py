"""Training and inference throughput of one GRU, and of K fold models separate vs fused, per backend.

    KERAS_BACKEND=jax taskset -c 0 python -m bench.backend_speed --data data/processed/rrab.npz \
        [--stride 4] [--batch 64 256] [--folds 5]

`--stride s` keeps every s-th resampled point (264 -> 66: what a shorter `preprocess.n_points_*`
gives the network). Training: samples/s over 5 epochs after a compiling one (768 stars). Inference:
curves/s of one network at batch 4,096 after a warm-up; then K fold-shaped models called one by one
against the block-diagonal model.fused.fuse(models) and the branch-stacked model.fused.stack(models)
at batch 1, 64, 256 and 4,096 (and the largest difference of their answers). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def _rate(fn, n_items: int, repeats: int = 3) -> float:
    fn()  # warm-up (tracing / compilation)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n_items * repeats / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/processed/rrab.npz"))
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    from rrlfeh.runtime import configure_environment

    configure_environment()
    import keras
    import numpy as np

    from rrlfeh.model.fused import fuse, stack
    from rrlfeh.model.networks import build_model

    with np.load(args.data) as z:
        X = z["X"][:, :: args.stride].astype("float32")
        y = z["y"].astype("float32")
    n_points, n = X.shape[1], 768
    target = (float(np.nanmean(y)), float(np.nanstd(y)))
    out = {"bench": "backend_speed", "backend": keras.backend.backend(), "n_points": n_points, "train": {}}
    for batch in args.batch:
        model = build_model(n_points, {"units": 32, "dropout": 0.1, "learning_rate": 3e-3}, seed=0, target=target)
        model.fit(X[:n], y[:n], batch_size=batch, epochs=1, verbose=0)
        t0 = time.perf_counter()
        model.fit(X[:n], y[:n], batch_size=batch, epochs=5, verbose=0)
        out["train"][str(batch)] = {"samples_per_s": 5 * n / (time.perf_counter() - t0)}
    big = np.resize(X, (4096, n_points, 2))
    out["predict_one_network_per_s"] = _rate(lambda: model.predict_on_batch(big), len(big))
    models = [build_model(n_points, {"units": 32}, seed=k, target=target) for k in range(args.folds)]
    fused, stacked = fuse(models), stack(models)
    for bs in (1, 64, 256, 4096):
        xb = big[:bs]
        out[f"batch_{bs}"] = {
            "separate_stars_per_s": _rate(lambda: [m.predict_on_batch(xb) for m in models], bs),
            "fused_stars_per_s": _rate(lambda: fused.predict_on_batch(xb), bs),
            "stacked_stars_per_s": _rate(lambda: stacked.predict_on_batch(xb), bs),
        }
    sep = np.stack([np.asarray(m.predict_on_batch(big)).ravel() for m in models], axis=1)
    out["fused_max_abs_diff"] = float(np.abs(sep - np.asarray(fused.predict_on_batch(big))).max())
    out["stacked_max_abs_diff"] = float(np.abs(sep - np.asarray(stacked.predict_on_batch(big))).max())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
