"""Epoch-photometry rows -> chunks of whole stars as core.ragged.LightCurves (streamed by
core.epoch_stream).

Only the G band is used; transits flagged `rejected_by_variability` are dropped here and counted
(NaN magnitudes, e.g. `rejected_by_photometry` transits, are dropped and counted downstream).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rrlfeh.core import curve
from rrlfeh.core.ragged import LightCurves
from rrlfeh.errors import DataError


@dataclass(frozen=True)
class StarChunk:
    """Whole stars' light curves; `rows` are their positions in the caller's star table."""

    rows: np.ndarray  # (k,) int64
    curves: LightCurves  # k stars

    def __len__(self) -> int:
        return len(self.rows)


class StarLookup:
    """source_id -> row of the star table (source_ids must be unique)."""

    def __init__(self, source_id: np.ndarray):
        source_id = np.asarray(source_id, dtype=np.int64)
        self.order = np.argsort(source_id, kind="stable")
        self.sorted = source_id[self.order]
        dup = self.sorted[1:][self.sorted[1:] == self.sorted[:-1]]
        if len(dup):
            raise DataError(f"duplicated source_id in the star table, e.g. {dup[:5].tolist()}")

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id, -1 where the id is not in the table."""
        if not len(self.sorted):
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted, ids), len(self.sorted) - 1)
        return np.where(self.sorted[pos] == ids, self.order[pos], -1)


def _column(df: pd.DataFrame, name: str, dtype, default) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default, dtype=dtype)
    col = df[name]
    if dtype is bool:
        return col.fillna(default).to_numpy(dtype=bool)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=dtype, na_value=np.nan)


def chunk_from_rows(
    df: pd.DataFrame, lookup: StarLookup, periods: np.ndarray, epochs: np.ndarray
) -> tuple[StarChunk, dict[str, int]]:
    """Group one batch of epoch rows (whole stars) by star; counts of the rows left out."""
    ids = df["source_id"].to_numpy(dtype=np.int64)
    if "band" in df.columns:
        is_g = curve.in_band(df["band"])
    else:  # a G-only table
        is_g = np.ones(len(df), dtype=bool)
    flagged = _column(df, curve.FLAG, bool, False) & is_g
    rows = lookup.rows(ids)
    known = rows >= 0
    use = is_g & ~flagged & known
    counts = {
        "rows_other_band": int((~is_g).sum()),
        "transits_flagged": int((flagged & known).sum()),
        "rows_unknown_star": int((is_g & ~known).sum()),
    }
    r = rows[use]
    order = np.argsort(r, kind="stable")
    r = r[order]
    uniq, n_per = np.unique(r, return_counts=True)
    time = _column(df, "time", np.float64, np.nan)[use][order]
    mag = _column(df, "mag", np.float64, np.nan)[use][order]
    error = curve.epoch_errors(df)[use][order]
    curves = LightCurves.from_counts(n_per, time, mag, periods[uniq], epochs[uniq], error)
    chunk = StarChunk(uniq.astype(np.int64), curves)
    return chunk, counts
