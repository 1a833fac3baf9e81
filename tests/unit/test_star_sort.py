"""The external sort behind the clean epoch table: parts in any star order, one sorted table out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from rrlfeh.quality.star_sort import write_by_star


@pytest.mark.parametrize("stars_per_bucket", [1, 2, 3, 100])
def test_rows_come_out_sorted_by_star_and_time_whatever_the_parts(tmp_path, stars_per_bucket):
    rng = np.random.default_rng(0)
    stars = np.array([90, 7, 55, 31, 12, 68, 3])
    ids = np.repeat(stars, 6)
    rows = schema.conform(pd.DataFrame({
        "source_id": ids, "transit_id": np.arange(len(ids)), "band": "G",
        "time": rng.choice([1700.0, 1800.0, 1900.0], len(ids)),  # ties: input order must hold
        "mag": rng.uniform(15, 17, len(ids)),
    }), "epoch_photometry")
    shuffled = rows.sample(frac=1, random_state=1)
    parts = [shuffled.iloc[i:i + 5] for i in range(0, len(shuffled), 5)]  # stars split across parts
    path = tmp_path / "clean" / "epoch_photometry.parquet"
    n = write_by_star(parts, stars, stars_per_bucket, path, "epoch_photometry", by=["source_id", "time"])
    want = shuffled.sort_values(["source_id", "time"], kind="stable").reset_index(drop=True)
    assert n == len(rows)
    pd.testing.assert_frame_equal(schema.read_table(path, "epoch_photometry"), want)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the spill files are gone
