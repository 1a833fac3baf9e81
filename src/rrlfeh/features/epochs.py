"""Epoch-photometry rows -> chunks of whole stars in the flat layout, streamed from Parquet.

Only the G band is used; transits flagged `rejected_by_variability` are dropped here and counted
(NaN magnitudes, e.g. `rejected_by_photometry` transits, are dropped and counted downstream).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rrlfeh.data.epoch_stream import whole_star_batches
from rrlfeh.errors import DataError

COLUMNS = ["source_id", "band", "time", "mag", "rejected_by_variability"]
_READ_ROWS = 262_144  # Parquet rows read at a time when streaming


@dataclass
class StarChunk:
    """Whole stars in the flat layout; `rows` are their positions in the caller's star table."""

    rows: np.ndarray  # (k,) int64
    offsets: np.ndarray  # (k+1,) int64
    time: np.ndarray  # (m,) float64
    mag: np.ndarray  # (m,) float64
    periods: np.ndarray  # (k,) float64
    epochs: np.ndarray  # (k,) float64

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
        is_g = df["band"].astype("string").eq("G").fillna(False).to_numpy(dtype=bool)
    else:  # a G-only table
        is_g = np.ones(len(df), dtype=bool)
    flagged = _column(df, "rejected_by_variability", bool, False) & is_g
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
    offsets = np.zeros(len(uniq) + 1, dtype=np.int64)
    np.cumsum(n_per, out=offsets[1:])
    time = _column(df, "time", np.float64, np.nan)[use][order]
    mag = _column(df, "mag", np.float64, np.nan)[use][order]
    chunk = StarChunk(uniq.astype(np.int64), offsets, time, mag, periods[uniq], epochs[uniq])
    return chunk, counts


def iter_parquet_stars(
    path: str | Path, stars_per_batch: int, source_ids: np.ndarray | None = None,
    columns: Sequence[str] = COLUMNS,
) -> Iterator[pd.DataFrame]:
    """Batches of whole stars from an epoch_photometry Parquet file, read a slice at a time.

    Reads those of `columns` the file has. With `source_ids`, rows of other stars (e.g. the other
    RR Lyrae type) are skipped on read.
    Streams when each star's rows are contiguous (how the archive, the simulator and the clean
    stage write them); otherwise reads the needed columns once and sorts them by source_id.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"epoch_photometry: file {path} does not exist")
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering holds read row groups: memory grows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"epoch_photometry: {path} is not a readable Parquet file ({exc})") from exc
    names = set(pf.schema_arrow.names)
    if not {"source_id", "time", "mag"} <= names:
        raise DataError(f"{path}: needs columns source_id, time, mag; found {sorted(names)}")
    columns = [c for c in columns if c in names]
    if _is_grouped(pf):
        tables = (pa.Table.from_batches([b]) for b in pf.iter_batches(_READ_ROWS, columns=columns))
    else:
        tables = iter([pf.read(columns=columns).sort_by("source_id")])
    if source_ids is not None:
        wanted = pa.array(np.asarray(source_ids, dtype=np.int64))
        tables = (t.filter(pc.is_in(t["source_id"], value_set=wanted)) for t in tables)
    yield from whole_star_batches(map(_to_frame, tables), stars_per_batch)


def _is_grouped(pf: pq.ParquetFile) -> bool:
    """True when no source_id's rows are split into two runs (one pass over that column)."""
    run_ids, last = [], None
    for batch in pf.iter_batches(_READ_ROWS, columns=["source_id"]):
        ids = batch.column(0).to_numpy(zero_copy_only=False)
        if not len(ids):
            continue
        new_run = np.concatenate([[last is None or ids[0] != last], ids[1:] != ids[:-1]])
        run_ids.append(ids[new_run])
        last = ids[-1]
    if not run_ids:
        return True
    starts = np.concatenate(run_ids)
    return len(np.unique(starts)) == len(starts)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    if "band" in table.column_names:
        band = pc.utf8_trim_whitespace(table["band"].cast(pa.string()))
        table = table.set_column(table.column_names.index("band"), "band", band)
    return table.to_pandas()
