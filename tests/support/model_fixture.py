"""A tiny trained `rrl-feh` workspace for tests: data/clean, data/processed and models/{rrab,rrc}.

Built once per test session (~20 s on an idle 2-core machine): a few hundred Fourier-series light curves whose shape encodes
[Fe/H] the way SIMULATOR.md describes (RRab through P and phi31, RRc through P and R21), the
project's real preprocessing, and two-fold ensembles of a small GRU trained for a few epochs at a
reduced resolution (n_points 32), written in the trained-artifact layout of the contract.

The session fixture `tiny_workspace` (tests/conftest.py) builds it; a test uses it as
    from tests.support.model_fixture import register_tiny
    def test_x(mlflow_store, tiny_workspace):
        result = register_tiny(tiny_workspace)       # registers, becomes champion in a new store
        model = mlflow.pyfunc.load_model("models:/rrl-feh@champion")
`tiny_workspace.variant(shift)` gives a copy of the models whose predictions are all moved by
`shift` dex (a strictly worse model for shift != 0: the gate tests rely on it).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config import Params, from_dict, load_params
from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core import schema

ROOT = Path(__file__).resolve().parents[2]
N_POINTS = 32
HPARAMS = {"units": 8, "dropout": 0.1, "learning_rate": 0.01, "reg_type": "none",
           "reg_strength": 0.0, "batch_size": 32}
EPOCHS = 12
SPAN = (1666.4, 2704.4)  # Gaia DR3, BJD(TCB) - 2455197.5


def _curve(phase: np.ndarray, amps: np.ndarray, phis: np.ndarray) -> np.ndarray:
    k = np.arange(1, amps.shape[-1] + 1)
    return (amps[:, None, :] * np.cos(2 * np.pi * k * phase[..., None] + phis[:, None, :])).sum(-1)


def simulate(n_per_type: int, seed: int) -> dict[str, pd.DataFrame]:
    """Conformed vari_rrlyrae, epoch_photometry (G) and labels of RRab + RRc stars."""
    rng = np.random.default_rng(seed)
    vari, epochs, labels = [], [], []
    for t_i, star_type in enumerate(("RRab", "RRc")):
        n = n_per_type
        feh = np.clip(rng.normal(-1.55, 0.45, n), -2.8, 0.2)
        if star_type == "RRab":
            period = np.clip(0.585 - 0.08 * (feh + 1.5) + rng.normal(0, 0.05, n), 0.4, 0.95)
            a1 = 0.27 - 0.56 * (period - 0.6) + rng.normal(0, 0.03, n)
            ratios = np.stack([np.ones(n), np.full(n, 0.46), np.full(n, 0.30)], 1)
            phi31 = 2.343 + 6.25 * (period - 0.6) + 1.174 * (feh + 1.5)
            phi21 = 3.236 + 0.392 * phi31
        else:
            period = np.clip(0.325 - 0.05 * (feh + 1.5) + rng.normal(0, 0.02, n), 0.2, 0.45)
            a1 = np.full(n, 0.19)
            r21 = np.clip(0.2 - (feh + 1.737 + 9.968 * (period - 0.3)) / 5.041, 0.02, 0.5)
            ratios = np.stack([np.ones(n), r21, np.full(n, 0.08)], 1)
            phi21, phi31 = np.full(n, 4.7), 3.1 + 0.4 * (feh + 1.5)
        amps = a1[:, None] * ratios
        phi1 = rng.uniform(0, 2 * np.pi, n)
        phis = np.stack([phi1, phi21 + 2 * phi1, phi31 + 3 * phi1], 1)
        grid = np.linspace(0, 1, 500, endpoint=False)
        shape = _curve(np.broadcast_to(grid, (n, grid.size)), amps, phis)
        t_max = grid[np.argmin(shape, axis=1)]  # maximum light = minimum magnitude
        t0 = rng.uniform(*SPAN, n)
        ids = (np.arange(n) + 1 + t_i * 10_000).astype(np.int64) * 1_000_003
        n_ep = rng.integers(45, 90, n)
        star = np.repeat(np.arange(n), n_ep)
        time = rng.uniform(*SPAN, star.size)
        phase = ((time - t0[star]) / period[star]) % 1.0
        g0 = rng.uniform(15.5, 18.5, n)
        harmonics = 2 * np.pi * np.arange(1, 4) * phase[:, None] + phis[star]
        mag = g0[star] + (amps[star] * np.cos(harmonics)).sum(1) + rng.normal(0, 0.01, star.size)
        vari.append(pd.DataFrame({
            "source_id": ids, "pf": np.where(star_type == "RRab", period, np.nan),
            "p1_o": np.where(star_type == "RRc", period, np.nan), "epoch_g": t0 + t_max * period,
            "peak_to_peak_g": np.ptp(shape, axis=1),
            "num_clean_epochs_g": n_ep.astype(float), "best_classification": star_type,
            "int_average_g": g0}))
        epochs.append(pd.DataFrame({
            "source_id": ids[star], "transit_id": np.arange(star.size) + t_i * 10**7, "band": "G",
            "time": time, "mag": mag, "rejected_by_variability": rng.random(star.size) < 0.02}))
        labels.append(pd.DataFrame({"source_id": ids, "feh": feh, "feh_error": 0.3}))
    return {
        "vari_rrlyrae": schema.conform(pd.concat(vari, ignore_index=True), "vari_rrlyrae"),
        "epoch_photometry": schema.conform(pd.concat(epochs, ignore_index=True), "epoch_photometry"),
        "labels": schema.conform(pd.concat(labels, ignore_index=True), "labels"),
    }


def tiny_params(**predict) -> Params:
    """The project's params.yaml with the preprocessing at the tiny model's resolution."""
    base = dataclasses.asdict(load_params(ROOT / "params.yaml"))
    base["preprocess"].update(n_points_rrab=N_POINTS, n_points_rrc=N_POINTS)
    base["predict"].update(predict)
    return from_dict(Params, base)


@dataclass(frozen=True)
class TinyWorkspace:
    root: Path
    models_dir: Path
    processed_dir: Path
    clean_dir: Path

    def variant(self, shift: float) -> Path:
        """models/ copy whose fold models all predict `shift` dex more (cached per shift)."""
        import keras

        dst = self.root / f"models_shift_{shift:+.2f}"
        if dst.exists():
            return dst
        shutil.copytree(self.models_dir, dst)
        for path in dst.glob("*/fold_*.keras"):
            shifted(keras.saving.load_model(path, compile=False), shift).save(path)
        return dst


def shifted(model, shift: float):
    """`model` with `shift` dex added to its output (a built-in layer: loads without custom code)."""
    import keras

    out = keras.layers.Rescaling(scale=1.0, offset=float(shift))(model.outputs[0])
    return keras.Model(model.inputs, out, name=model.name)


def _train_type(star_type: str, data: dict, cfg: PreprocessConfig, seed: int, out: Path,
                processed: Path) -> None:
    import keras

    from rrlfeh.features.tensors import preprocess_arrays
    from rrlfeh.features.weights import split_weights
    from rrlfeh.model.networks import build_model
    from rrlfeh.model.metrics import regression_metrics
    from rrlfeh.serving.payload import model_input_from_tables

    vari = data["vari_rrlyrae"]
    vari = vari[vari["best_classification"] == {"rrab": "RRab", "rrc": "RRc"}[star_type]]
    rows = model_input_from_tables(vari, data["epoch_photometry"])
    res = preprocess_arrays(list(rows["time"]), list(rows["mag"]), rows["period"].to_numpy(),
                            rows["epoch_g"].to_numpy(), cfg.curve_options(star_type))
    assert res.ok.all(), f"tiny {star_type} curves rejected: {set(res.reason[~res.ok])}"
    y = data["labels"].set_index("source_id").loc[rows["source_id"], "feh"].to_numpy()
    ids = rows["source_id"].to_numpy()
    rng = np.random.default_rng(seed)
    test = rng.random(len(ids)) < 0.2
    dev = np.flatnonzero(~test)
    w_dev = split_weights(y[dev], [], cfg.kde_alpha, cfg.kde_max_weight)[0]
    np.savez(processed / f"{star_type}.npz", X=res.X, y=y.astype(np.float32),
             w=np.ones(len(y), np.float32), source_id=ids, n_epochs=res.n_epochs.astype(np.int32),
             period=rows["period"].to_numpy(), amplitude=res.amplitude,
             feh_error=np.full(len(y), 0.3, np.float32), scatter=res.scatter,
             phase_gap=res.phase_gap)
    out.mkdir(parents=True)
    folds, models = [], []
    for k, val in enumerate(np.array_split(rng.permutation(dev), 2)):
        fit = np.setdiff1d(dev, val)
        model = build_model(N_POINTS, HPARAMS, seed + k)
        model.fit(res.X[fit], y[fit], sample_weight=w_dev[np.searchsorted(dev, fit)],
                  epochs=EPOCHS, batch_size=HPARAMS["batch_size"], verbose=0)
        models.append(model)
        folds.append({"file": f"fold_r0_k{k}.keras", "repeat": 0, "fold": k, "val_metrics":
                      regression_metrics(y[val], model.predict(res.X[val], verbose=0).ravel(), None)})
    # Test-only calibration: zero weighted mean error of the ensemble on the test split, with the
    # gate's weights. Then wRMSE(shift)^2 = wRMSE(0)^2 + shift^2: every variant(shift) is worse.
    # (float32 labels, as the npz's: the gate weighs with those)
    w_test = split_weights(y[dev].astype(np.float32), y[test].astype(np.float32), cfg.kde_alpha,
                           cfg.kde_max_weight)[1]
    pred = np.mean([m.predict(res.X[test], verbose=0).ravel() for m in models], axis=0)
    delta = -float(np.average(pred - y[test], weights=w_test))
    for k, model in enumerate(models):
        shifted(model, delta).save(out / f"fold_r0_k{k}.keras")
    rng_dev = {"period": rows["period"].to_numpy()[dev], "amplitude": res.amplitude[dev],
               "n_epochs": res.n_epochs[dev]}
    manifest = {
        "type": star_type, "n_points": N_POINTS, "preprocess": dataclasses.asdict(cfg),
        "hparams": HPARAMS, "folds": folds, "test_source_ids": ids[test].tolist(),
        "training_range": {k: [float(v.min()), float(v.max())] for k, v in rng_dev.items()},
        "cv_metrics": {}, "test_metrics": {}, "oracle_metrics": None, "data_md5": "tiny",
        "git_commit": "tiny", "mlflow_run_id": None, "keras_backend": keras.backend.backend(),
        "uncertainty": {"floor": 0.2, "shape": 0.0, "scale": 1.0},  # feh_error 0.2 dex (+ predict.extra_error)
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


def build_workspace(root: Path, n_per_type: int = 150, seed: int = 7) -> TinyWorkspace:
    """Write the tiny data/clean, data/processed and models/{rrab,rrc} under `root`."""
    ws = TinyWorkspace(root, root / "models", root / "data/processed", root / "data/clean")
    data = simulate(n_per_type, seed)
    for name, df in data.items():
        schema.write_table(df, ws.clean_dir / f"{name}.parquet", name)
    schema.write_table(schema.empty("rejected"), ws.clean_dir / "rejected.parquet", "rejected")
    ws.processed_dir.mkdir(parents=True)
    cfg = tiny_params().preprocess
    for i, star_type in enumerate(("rrab", "rrc")):
        _train_type(star_type, data, cfg, seed + 10 * i, ws.models_dir / star_type, ws.processed_dir)
    return ws


def register_tiny(ws: TinyWorkspace, models_dir: Path | None = None, **predict) -> dict:
    """run_register of the tiny models into the current MLflow store (use with mlflow_store)."""
    from rrlfeh.serving.registry import run_register

    out = ws.root / "registered.json"
    return run_register(tiny_params(**predict), models_dir or ws.models_dir, ws.processed_dir,
                        ws.clean_dir, out)
