"""Tiny data/processed-style tensors and a params.yaml with tiny budgets, for the tune and train
stages (tests/integration/test_tune_train.py, the JAX backend and the fault tier)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from rrlfeh.config import load_params

ROOT = Path(__file__).resolve().parents[2]
N_POINTS = 24


def make_tensors(path: Path, n: int = 96, seed: int = 0, unlabelled: int = 4) -> pd.DataFrame:
    """data/processed-style npz: phase x period and a standardized curve whose phi31 follows [Fe/H]."""
    rng = np.random.default_rng(seed)
    feh = np.clip(rng.normal(-1.55, 0.45, n), -2.8, 0.2)
    period = np.clip(0.585 - 0.15 * (feh + 1.5) + rng.normal(0, 0.01, n), 0.3, 0.95)
    phase = np.linspace(0, 1, N_POINTS, endpoint=False)
    phi31 = 2.343 + 1.174 * (feh + 1.5)
    mag = (np.cos(2 * np.pi * phase)[None] + 0.6 * np.cos(6 * np.pi * phase[None] + phi31[:, None])
           + rng.normal(0, 0.02, (n, N_POINTS)))
    mag = (mag - mag.mean(1, keepdims=True)) / mag.std(1, keepdims=True)
    y = feh.astype("float32")
    y[:unlabelled] = np.nan
    sid = np.arange(10**15, 10**15 + n, dtype="int64")
    np.savez(path, X=np.stack([phase[None] * period[:, None], mag], -1).astype("float32"), y=y,
             w=np.ones(n, "float32"), source_id=sid, n_epochs=rng.integers(50, 200, n).astype("int32"),
             period=period, amplitude=rng.uniform(0.3, 1.1, n), feh_error=np.full(n, 0.35, "float32"),
             scatter=rng.uniform(0.01, 0.05, n), phase_gap=rng.uniform(0.02, 0.1, n))
    return pd.DataFrame({"source_id": sid, "feh_true": feh, "feh_relation": feh,
                         "feh_oracle": feh + rng.normal(0, 0.05, n)})


def write_params(path: Path, **sections) -> Path:
    """The project's params.yaml with some sections overridden (tiny budgets)."""
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, values in sections.items():
        data[name] = {**data[name], **values}
    path.write_text(yaml.safe_dump(data))
    load_params(path)  # still valid
    return path


TINY = {
    "preprocess": {"n_points_rrab": N_POINTS},
    "split": {"test_fraction": 0.15, "n_bins": 4},
    # min_epochs 1: keras-tuner's own brackets, so the search has several rounds to check
    "tune": {"workers": 1, "max_epochs": 2, "factor": 2, "min_epochs": 1, "units": [8, 12], "dropout": [0.1, 0.2], "learning_rate": [0.01],
             "batch_size": [16], "reg_type": ["none", "l2"], "reg_strength": [1.0e-5]},
    # the cosine recipe: continued Hyperband rounds resume its schedule; folds follow it to the end
    "fit": {"schedule": "cosine", "lr_warmup_epochs": 0, "final_lr_fraction": 0.5, "clipnorm": 1.0},
    # n_jobs 2: the folds train in two worker processes, their runs nested under the parent's
    "train": {"k_folds": 2, "repeats": 1, "epochs": 10, "patience": 10, "warmup_epochs": 2, "n_jobs": 2},
}
