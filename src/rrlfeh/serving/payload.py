"""What the served model `rrl-feh` takes and returns: one row per star in, one row per star out.

Request-level problems (not a table, a missing column) raise PayloadError, which the pyfunc turns
into a 400. Everything wrong with a single star (unknown type, bad period, mismatched or empty
arrays) becomes that star's `reason`, so one bad star never fails a 10,000-star request.
`mag_error` (one magnitude error per epoch) may be left out, as a column or for a star (null):
those epochs weigh alike in the fit. Reason codes, in the order they are checked (the first
failure is the one reported):
  invalid_input  time/mag not arrays or of different lengths (mag_error too, where given)
  the input-sanity codes (rrlfeh.serving.sanity: bad_source_id, time_outside_window,
                 mag_outside_range, conflicting_epochs, period_outside_range), shared with
                 `rrlfeh predict`
  invalid_input  no (time, mag) pair left without a missing value
  unknown_type   not RRab/RRc (in any case or spacing: schema.canonical_type), or no model of that
                 type in the registered version
then the preprocessing's own codes (rrlfeh.features.tensors.REASONS: bad_period, bad_epoch,
few_epochs, constant_magnitudes, poor_phase_coverage, spline_failed), so a star is judged exactly
as training judged it. What each code tests: rrlfeh.core.reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rrlfeh.core import curve, schema
from rrlfeh.core import reasons as R
from rrlfeh.core.ragged import LightCurves
from rrlfeh.errors import DataError
from rrlfeh.serving import sanity
from rrlfeh.serving.star_rows import clean_curves, isin_sorted

INPUT_COLUMNS = curve.INPUT_COLUMNS
REQUIRED_COLUMNS = curve.REQUIRED_INPUT
OUTPUT_COLUMNS = curve.OUTPUT_COLUMNS
# best_classification (as schema.canonical_type spells it) -> the model key (models/{key}/)
TYPE_KEYS = {"RRab": "rrab", "RRc": "rrc"}


class PayloadError(DataError):
    """The request as a whole cannot be read (not a table, missing columns, ids not integers)."""


@dataclass(frozen=True)
class Request:
    """A validated request: arrays aligned with the input rows; the curves (with each star's period
    and epoch_g) hold (time, mag) pairs without a missing value only."""

    source_id: np.ndarray  # int64
    type_key: np.ndarray  # object: 'rrab', 'rrc' or '' (unknown)
    curves: LightCurves
    reason: np.ndarray  # object, '' where the star is fine so far
    n_duplicates: np.ndarray | None = None  # int64, exactly repeated epochs dropped per star

    def __len__(self) -> int:
        return len(self.source_id)

    @property
    def period(self) -> np.ndarray:
        return self.curves.period

    @property
    def epoch_g(self) -> np.ndarray:
        return self.curves.epoch

    @property
    def n_epochs(self) -> np.ndarray:
        """(time, mag) pairs per star, int64."""
        return self.curves.counts


def _as_curve(value) -> np.ndarray | None:
    """A 1-D float array from a list/array cell, or None when the cell is not a sequence of numbers."""
    if value is None or isinstance(value, (str, bytes, dict)) or np.isscalar(value):
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim == 1 else None


def _missing(cell) -> bool:
    """A star's mag_error left out: null (None, NaN, pandas NA)."""
    return cell is None or cell is pd.NA or (isinstance(cell, float) and np.isnan(cell))


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def parse_source_ids(values: pd.Series) -> np.ndarray:
    """int64 ids, or a PayloadError when one is not an integer or beyond int64 (an id cannot be
    answered under another number). Ids <= 0 are left to the sanity check (bad_source_id)."""
    if values.dtype == object:  # Python objects (JSON): exact integers only, never bool or float
        def as_int(v):
            if isinstance(v, str) and v.strip().lstrip("-").isdigit():
                v = int(v.strip())  # ids as strings: how clients without 64-bit integers send them
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
            return int(v) if ok and -2**63 <= int(v) <= sanity.SOURCE_ID_MAX else None
        parsed = [as_int(v) for v in values]
        wrong = np.array([v is None for v in parsed], dtype=bool)
    else:
        numeric = pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype)
        wrong = np.full(len(values), not numeric, dtype=bool)
        if not wrong.any() and pd.api.types.is_float_dtype(values.dtype):
            v = values.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):  # beyond 2**53 a double no longer holds every id
                wrong = ~np.isfinite(v) | (v != np.floor(v)) | (np.abs(v) > 2**53)
        elif not wrong.any() and values.dtype == np.uint64:
            wrong = values.to_numpy() > sanity.SOURCE_ID_MAX
        parsed = None
    if wrong.any():
        bad = values[wrong].head(5).tolist()
        raise PayloadError(f"source_id must be integers in 1 .. 2**63-1, got e.g. {bad}")
    return np.asarray(parsed if parsed is not None else values.to_numpy(), dtype=np.int64)


def parse_request(df: pd.DataFrame, bounds: sanity.Bounds | None = None) -> Request:
    """Check the columns, then give every star either a clean light curve or a reason."""
    if not isinstance(df, pd.DataFrame):
        raise PayloadError(f"expected a table of stars, got {type(df).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise PayloadError(f"missing column(s) {missing}; a request needs {list(REQUIRED_COLUMNS)} "
                           f"(and may add {list(curve.OPTIONAL_INPUT)})")
    ids = parse_source_ids(df["source_id"])

    n = len(df)
    reason = np.full(n, "", dtype=object)
    times: list[np.ndarray] = []
    mags: list[np.ndarray] = []
    errors: list[np.ndarray] = []
    empty = np.empty(0, dtype=np.float64)
    error_cells = df["mag_error"].to_numpy(object) if "mag_error" in df.columns else np.full(n, None)
    cells = zip(df["time"].to_numpy(object), df["mag"].to_numpy(object), error_cells)
    for i, (t_cell, m_cell, e_cell) in enumerate(cells):
        t, m = _as_curve(t_cell), _as_curve(m_cell)
        e = None if _missing(e_cell) else _as_curve(e_cell)
        if (t is None or m is None or t.shape != m.shape
                or (not _missing(e_cell) and (e is None or e.shape != t.shape))):
            reason[i] = R.INVALID_INPUT.code
            times.append(empty)
            mags.append(empty)
            errors.append(empty)
            continue
        times.append(t)
        mags.append(m)
        errors.append(np.full(t.shape, np.nan) if e is None else e)
    curves = LightCurves.from_lists(times, mags, _numbers(df, "period"), _numbers(df, "epoch_g"),
                                    errors)
    # NaN epochs are dropped (as in training), exact repeats dropped and counted, impossible values
    # give the star a reason: one implementation for predict and serve (serving/sanity.py)
    checked = sanity.screen(ids, curves, bounds or sanity.Bounds())
    n_epochs = checked.curves.counts
    reason = np.where(reason == "", checked.reason, reason)
    reason[(reason == "") & (n_epochs == 0)] = R.INVALID_INPUT.code

    # the spelling rrlfeh predict reads vari_rrlyrae with: both answer 'RRAB', ' rrab ' alike
    type_key = np.array(
        [TYPE_KEYS.get(schema.canonical_type(t), "") if isinstance(t, str) else "" for t in df["type"]],
        dtype=object,
    )
    reason[(reason == "") & (type_key == "")] = R.UNKNOWN_TYPE.code
    return Request(source_id=ids, type_key=type_key, curves=checked.curves, reason=reason,
                   n_duplicates=checked.n_duplicates)


def build_output(req: Request, feh: np.ndarray, feh_error: np.ndarray, feh_std: np.ndarray,
                 n_epochs: np.ndarray, reason: np.ndarray, oor_reason: np.ndarray) -> pd.DataFrame:
    """The response table, one row per request row, in request order."""
    reason = np.asarray(reason, dtype=object)
    return pd.DataFrame({
        "source_id": req.source_id.astype(np.int64),
        "feh": np.asarray(feh, dtype=np.float64),
        "feh_error": np.asarray(feh_error, dtype=np.float64),
        "feh_std": np.asarray(feh_std, dtype=np.float64),
        "n_epochs": np.asarray(n_epochs, dtype=np.int64),
        "status": np.where(reason == "", "ok", "rejected").astype(object),
        "reason": reason,
        "out_of_range": np.asarray(oor_reason, dtype=object) != "",
        "out_of_range_reason": np.asarray(oor_reason, dtype=object),
    })


def model_input_from_tables(vari: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """Request rows for the stars of `vari`, in its order, from Gaia-layout tables (conformed).

    The light curves are those `rrlfeh predict` sends (serving.star_rows.clean_curves); the period
    is pf for RRab and p1_o for RRc. A star without such epochs gets empty arrays (the model
    answers it with reason invalid_input, never drops it).
    """
    vari = schema.conform(vari, "vari_rrlyrae")
    sid = vari["source_id"].to_numpy(np.int64)
    found = clean_curves(schema.conform(epochs, "epoch_photometry"), np.unique(sid))
    at = np.searchsorted(found.source_id, sid)
    has = isin_sorted(sid, found.source_id)
    times, mags, errors = found.times(), found.mags(), found.errors()
    return pd.DataFrame({
        "source_id": sid,
        "type": vari["best_classification"].fillna("").astype(str).to_numpy(object),
        "period": schema.period_of(vari).to_numpy(np.float64),
        "epoch_g": vari["epoch_g"].to_numpy(np.float64),
        "time": [times[j] if ok else np.empty(0) for j, ok in zip(at, has)],
        "mag": [mags[j] if ok else np.empty(0) for j, ok in zip(at, has)],
        "mag_error": [errors[j] if ok else np.empty(0) for j, ok in zip(at, has)],
    })


def signature():
    """MLflow signature of the contract (core.curve): list-valued columns are Array(double)
    (float64, so JSON numbers pass); mag_error is optional."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    def spec(name: str, kind: str):
        return ColSpec(Array(kind[6:-1]) if kind.startswith("array<") else kind, name,
                       required=name not in curve.OPTIONAL_INPUT)

    return ModelSignature(inputs=Schema([spec(c, k) for c, k in curve.INPUT.items()]),
                          outputs=Schema([spec(c, k) for c, k in curve.OUTPUT.items()]))
