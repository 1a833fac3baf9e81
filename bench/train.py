"""Training throughput of the GRU on this machine: samples/s per epoch, per batch size.

    python -m bench.train [--units 32] [--n-points 264] [--n 1000] [--batch 32 64 128 256 512]

Prints one JSON object. Synthetic inputs of the contract's shape (n, N, 2); throughput does not
depend on the values. The first epoch (graph tracing) is timed apart from the steady epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--n-points", type=int, default=264)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after the first")
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    args = ap.parse_args()

    from rrlfeh.runtime import configure_environment

    configure_environment()
    import keras
    import numpy as np

    from rrlfeh.model.networks import build_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.n_points, 2)).astype("float32")
    y = rng.normal(-1.5, 0.45, size=args.n).astype("float32")
    w = np.ones(args.n, dtype="float32")
    rows = []
    for batch in args.batch:
        model = build_model(args.n_points, {"units": args.units, "batch_size": batch}, seed=0)
        t0 = time.perf_counter()
        model.fit(x, y, sample_weight=w, batch_size=batch, epochs=1, verbose=0)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.fit(x, y, sample_weight=w, batch_size=batch, epochs=args.epochs, verbose=0)
        steady = (time.perf_counter() - t0) / args.epochs
        t0 = time.perf_counter()
        model.predict(x, batch_size=1024, verbose=0)
        infer = time.perf_counter() - t0
        rows.append({
            "batch_size": batch,
            "first_epoch_s": round(first, 2),
            "epoch_s": round(steady, 2),
            "train_samples_per_s": round(args.n / steady, 1),
            "predict_samples_per_s": round(args.n / infer, 1),
        })
    print(json.dumps({
        "bench": "train",
        "backend": keras.backend.backend(),
        "units": args.units,
        "n_points": args.n_points,
        "n": args.n,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "results": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
