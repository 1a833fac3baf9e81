"""One GRU fit on a preprocessed npz with chosen hyperparameters: the validation curve, epoch by epoch.

    python -m bench.single_fit --data data/processed/rrab.npz [--units 32] [--dropout 0.1]
        [--reg-type none] [--reg-strength 0] [--lr 0.001] [--batch 64] [--epochs 90] [--every 5]
        [--schedule cosine|constant] [--clipnorm 1] [--lr-warmup 5] [--final-lr 0.02] [--ema 0]
        [--weight-decay 0]

The optimizer is the pipeline's (model.networks.make_optimizer with the params `fit` recipe given here).

A random 80/20 split (seeded), KDE weights fitted on the training part (as in a CV fold), no early
stopping: it shows how far a setting goes and how noisy its validation curve is, which a short
Hyperband cannot. Prints one JSON object (R² and RMSE on the validation and training stars every
`--every` epochs, the best validation epoch, seconds per epoch, the Keras backend).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/processed/rrab.npz"))
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--reg-type", default="none")
    ap.add_argument("--reg-strength", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=90)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--truth", type=Path, default=Path("data/raw/truth.parquet"),
                    help="the simulator's truth: its oracle is scored on the same validation stars")
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--clipnorm", type=float, default=1.0)
    ap.add_argument("--lr-warmup", type=int, default=5)
    ap.add_argument("--final-lr", type=float, default=0.02)
    ap.add_argument("--ema", type=float, default=0.0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    args = ap.parse_args()

    from rrlfeh.runtime import configure_environment

    configure_environment()
    import keras
    import numpy as np

    from rrlfeh.config import load_params
    from rrlfeh.model.dataset import load_tensors, oracle_lookup
    from rrlfeh.config.model import FitConfig
    from rrlfeh.model.networks import build_model, label_scale, make_optimizer
    from rrlfeh.model.metrics import regression_metrics
    from rrlfeh.features.weights import split_weights

    data = load_tensors(args.data)
    labelled = np.flatnonzero(np.isfinite(data.y))
    idx = np.random.default_rng(args.seed).permutation(labelled)
    va, tr = idx[: len(idx) // 5], idx[len(idx) // 5:]
    X, y = data.X, data.y
    weights = load_params(ROOT / "params.yaml").preprocess  # the pipeline's KDE weights and cap
    w_tr, w_va = split_weights(y[tr], y[va], weights.kde_alpha, weights.kde_max_weight)
    hp = {"units": args.units, "dropout": args.dropout, "reg_type": args.reg_type,
          "reg_strength": args.reg_strength, "learning_rate": args.lr, "batch_size": args.batch}
    fit = FitConfig(schedule=args.schedule, lr_warmup_epochs=args.lr_warmup, final_lr_fraction=args.final_lr,
                    clipnorm=args.clipnorm, weight_decay=args.weight_decay, ema_momentum=args.ema)
    fit.check()
    optimizer = make_optimizer(hp, fit, n_train=len(tr), epochs=args.epochs)
    model = build_model(data.n_points, hp, seed=args.seed + 1, target=label_scale(y[tr]), optimizer=optimizer)
    curve, best = [], {"epoch": 0, "val_r2": -np.inf}
    seconds: list[float] = []

    class Curve(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t0)
            val = regression_metrics(y[va], self.model.predict(X[va], batch_size=2048, verbose=0).ravel(), w_va)
            if val["r2"] > best["val_r2"]:
                best.update(epoch=epoch + 1, val_r2=val["r2"], val_rmse=val["rmse"])
            if (epoch + 1) % args.every == 0:
                fit = regression_metrics(y[tr], self.model.predict(X[tr], batch_size=2048, verbose=0).ravel(), w_tr)
                curve.append({"epoch": epoch + 1, "val_r2": val["r2"], "val_rmse": val["rmse"],
                              "train_r2": fit["r2"], "train_rmse": fit["rmse"]})
                print(json.dumps(curve[-1]), flush=True)

    model.fit(X[tr], y[tr], sample_weight=w_tr, batch_size=args.batch, epochs=args.epochs, verbose=0,
              shuffle=True, callbacks=[Curve()])
    oracle = oracle_lookup(args.truth, data.source_id)
    oracle_val = None if oracle is None else regression_metrics(y[va], oracle[va], w_va)
    final = regression_metrics(y[va], model.predict(X[va], batch_size=2048, verbose=0).ravel(), w_va)
    print(json.dumps({"bench": "single_fit", "final_val": final, "oracle_val": oracle_val, "data": str(args.data), "hparams": hp, "fit": vars(fit), "n_train": len(tr),
                      "n_val": len(va), "backend": keras.backend.backend(), "best": best,
                      "epoch_s_median": float(np.median(seconds[1:] or seconds)), "curve": curve}, default=float))


if __name__ == "__main__":
    main()
