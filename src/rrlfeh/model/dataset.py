"""Inputs of tune and train: the preprocessed tensors, the tuned hyperparameters, the simulator's truth."""

from __future__ import annotations

import json
from dataclasses import dataclass
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.model.networks import full_hparams

NPZ_KEYS = ("X", "y", "w", "source_id", "n_epochs", "period", "amplitude", "feh_error", "scatter",
            "phase_gap")


@dataclass(frozen=True)
class Tensors:
    """data/processed/{type}.npz (one row per star; y NaN where unlabelled)."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    source_id: np.ndarray
    n_epochs: np.ndarray
    period: np.ndarray
    amplitude: np.ndarray
    feh_error: np.ndarray
    scatter: np.ndarray  # epochs around the smoothed curve / amplitude (features.tensors)
    phase_gap: np.ndarray

    @property
    def n_points(self) -> int:
        return int(self.X.shape[1])


def load_tensors(path: str | Path) -> Tensors:
    """Read and check a preprocessed npz; DataError naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file (run `rrlfeh preprocess` first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in NPZ_KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; found {sorted(z.files)}")
            arrays = {k: z[k] for k in NPZ_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # a file cut short (an interrupted write of an older version) or not an npz at all
        raise DataError(f"{path}: not a readable npz file, truncated? rerun `rrlfeh preprocess` "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None
    X = arrays["X"]
    if X.ndim != 3 or X.shape[2] != 2:
        raise DataError(f"{path}: X must have shape (n, N, 2), got {X.shape}")
    n = X.shape[0]
    bad = [k for k in NPZ_KEYS[1:] if arrays[k].shape != (n,)]
    if bad:
        raise DataError(f"{path}: arrays {bad} do not have one value per star ({n})")
    if not np.isfinite(X).all():
        rows = np.flatnonzero(~np.isfinite(X).all(axis=(1, 2)))
        raise DataError(f"{path}: non-finite values in X, e.g. source_id {arrays['source_id'][rows[:5]].tolist()}")
    return Tensors(
        X=X.astype("float32", copy=False),
        y=arrays["y"].astype("float32", copy=False),
        w=arrays["w"].astype("float32", copy=False),
        source_id=arrays["source_id"].astype("int64", copy=False),
        n_epochs=arrays["n_epochs"].astype("int32", copy=False),
        period=arrays["period"].astype("float64", copy=False),
        amplitude=arrays["amplitude"].astype("float64", copy=False),
        feh_error=arrays["feh_error"].astype("float32", copy=False),
        scatter=arrays["scatter"].astype("float64", copy=False),
        phase_gap=arrays["phase_gap"].astype("float64", copy=False),
    )


def read_hparams(path: str | Path) -> dict:
    """best_hparams.json of the tune stage: {"hparams": {...}, ...} (a flat dict is accepted too)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file (run `rrlfeh tune` first)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    hp = data.get("hparams", data) if isinstance(data, dict) else None
    if not isinstance(hp, dict):
        raise DataError(f"{path}: expected a JSON object of hyperparameters")
    return read_hparams_dict(hp, str(path))


def read_hparams_dict(hp: dict, where: str = "hparams") -> dict:
    """Hyperparameters completed with the defaults and checked; DataError naming `where`."""
    try:
        return full_hparams(hp)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: {exc}") from exc


def oracle_lookup(truth_path: str | Path | None, source_id: np.ndarray) -> np.ndarray | None:
    """truth.feh_oracle for each star (NaN where the truth table lacks it); None without truth.

    Real data has an empty truth table: then there is no oracle to report.
    """
    if truth_path is None or not Path(truth_path).exists():
        return None
    truth = schema.read_table(truth_path, "truth")
    if truth.empty:
        return None
    oracle = truth.drop_duplicates("source_id").set_index("source_id")["feh_oracle"]
    return oracle.reindex(np.asarray(source_id, dtype="int64")).to_numpy(dtype="float64")
