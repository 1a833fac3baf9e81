"""Checks on the tensors before they are written: the contract the training stage relies on.

Plain numpy rather than a Great Expectations suite: GX validates tables, and a (n, N, 2) tensor
would have to be flattened to n x 2N columns to fit it. Failures name the check and source_ids.
"""

from __future__ import annotations

import numpy as np

from rrlfeh.errors import ValidationFailed


def _ids(source_id: np.ndarray, bad: np.ndarray, n: int = 5) -> list[int]:
    return source_id[bad][:n].tolist()


def check_tensors(arrays: dict[str, np.ndarray], n_points: int) -> None:
    """Raise ValidationFailed unless the npz arrays meet the data/processed contract.

    Shapes and dtypes as configured, every value of X, w, period, amplitude finite, y finite or
    NaN only where unlabelled (w == 1), per-curve standardization holds, source_id unique.
    """
    sid = np.asarray(arrays["source_id"])
    X = arrays["X"]
    n = len(sid)
    problems: list[str] = []
    if X.ndim != 3 or X.shape != (n, n_points, 2) or X.dtype != np.float32:
        raise ValidationFailed(
            f"tensor shape: X is {X.dtype}{X.shape}, expected float32({n}, {n_points}, 2)"
        )
    for key, dtype in (("y", np.float32), ("w", np.float32), ("n_epochs", np.int32),
                       ("period", np.float64), ("amplitude", np.float64),
                       ("feh_error", np.float32), ("source_id", np.int64)):
        a = arrays[key]
        if a.shape != (n,) or a.dtype != dtype:
            raise ValidationFailed(
                f"tensor shape: {key} is {a.dtype}{a.shape}, expected {dtype.__name__}({n},)"
            )
    finite = {"X": np.isfinite(X).all(axis=(1, 2))}
    finite.update({key: np.isfinite(arrays[key]) for key in ("w", "period", "amplitude")})
    for key, ok in finite.items():
        if not ok.all():
            problems.append(
                f"{key} not finite for {int((~ok).sum())} star(s), e.g. source_id {_ids(sid, ~ok)}"
            )
    bad = np.isinf(arrays["y"]) | (np.isnan(arrays["y"]) & (arrays["w"] != 1))
    if bad.any():
        problems.append(f"y infinite, or NaN with a weight, e.g. source_id {_ids(sid, bad)}")
    if n and finite["X"].all():
        mag = X[:, :, 1].astype(np.float64)
        bad = (np.abs(mag.mean(axis=1)) > 1e-3) | (np.abs(mag.std(axis=1) - 1) > 1e-3)
        if bad.any():
            problems.append(f"magnitudes not standardized, e.g. source_id {_ids(sid, bad)}")
    uniq, counts = np.unique(sid, return_counts=True)
    if (counts > 1).any():
        problems.append(f"duplicated source_id, e.g. {uniq[counts > 1][:5].tolist()}")
    if problems:
        raise ValidationFailed("processed tensors: " + "; ".join(problems))
