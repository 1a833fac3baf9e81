"""Write a table sorted by star from parts that come in any star order, in bounded memory.

An external bucket sort: rows are spilled to one temporary Parquet file per range of source_ids
(`stars_per_bucket` of the stars each), then each range is read back, sorted and appended to the
output. Sorts are stable, so rows that tie on the sort key keep their input order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import schema


def write_by_star(parts: Iterable[pd.DataFrame], stars: np.ndarray, stars_per_bucket: int,
                  path: Path, table: str, by: list[str]) -> int:
    """Write `parts` (rows of `stars` only) to `path` as `table`, sorted by `by` (source_id
    first); returns the rows written. Memory holds one part, then one bucket."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # each bucket's first star
    lower = np.sort(np.asarray(stars, dtype=np.int64))[::stars_per_bucket]
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}-") as tmp:
        spills: dict[int, schema.TableWriter] = {}
        with ExitStack() as stack:
            for part in parts:
                bucket = np.searchsorted(lower, part["source_id"].to_numpy(), side="right") - 1
                for b in np.unique(bucket).tolist():
                    if b not in spills:
                        spills[b] = stack.enter_context(
                            schema.TableWriter(Path(tmp) / f"{b:06d}.parquet", table))
                    spills[b].write(part[bucket == b])
        with schema.TableWriter(path, table) as out:
            for b in sorted(spills):
                out.write(pd.read_parquet(spills[b].path).sort_values(by, kind="stable"))
    return out.rows
