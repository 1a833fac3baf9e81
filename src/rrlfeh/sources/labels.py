"""Labels ([Fe/H] and its error per source_id) from any catalogue file, matched to the stars.

Labels are needed for training only. A catalogue may name its columns differently (a mapping
renames them), carry stars we do not have, miss some of ours, repeat ids or leave values empty:
each case is counted in the report; a star whose label rows disagree keeps no label (its reason
is listed) and flows on unlabelled rather than getting an arbitrary one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import schema
from rrlfeh.core.formats import read_table_file
from rrlfeh.errors import DataError

OUR_COLUMNS = ("source_id", "feh", "feh_error")


def read_labels_table(path: Path, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The catalogue's rows as source_id, feh, feh_error (conformed; duplicates still in)."""
    path = Path(path)
    raw = read_table_file(path)
    rename = {theirs.lower(): ours for ours, theirs in (columns or {}).items()}
    raw = raw.rename(columns={c: rename.get(str(c).lower(), str(c).lower()) for c in raw.columns})
    doubled = [c for c in OUR_COLUMNS if list(raw.columns).count(c) > 1]
    if doubled:
        raise DataError(
            f"{path}: more than one column would be called {doubled}; check labels_columns"
        )
    absent = [c for c in OUR_COLUMNS if c not in raw.columns]
    if absent:
        raise DataError(
            f"{path}: labels need columns {list(OUR_COLUMNS)}; missing {absent} among "
            f"{list(raw.columns)[:15]} (map them with labels_columns)"
        )
    try:
        return schema.conform(raw[list(OUR_COLUMNS)], "labels")
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc


def match_labels(labels: pd.DataFrame, star_ids, where: str) -> tuple[pd.DataFrame, dict]:
    """Keep one label per catalogued star; report what was dropped and why."""
    star_ids = np.unique(np.asarray(star_ids, dtype="int64"))
    has_value = labels["feh"].notna()
    known = labels["source_id"].isin(star_ids)
    usable = labels[has_value & known]
    exact = usable.drop_duplicates()
    counts = exact["source_id"].value_counts()
    conflicting = np.sort(counts.index[counts > 1].to_numpy(dtype="int64"))
    kept = exact[~exact["source_id"].isin(conflicting)].sort_values("source_id")
    report = {
        "file": where,
        "rows": int(len(labels)),
        "rows_without_feh": int((~has_value).sum()),
        "rows_not_in_catalogue": int((has_value & ~known).sum()),
        "rows_repeated": int(len(usable) - len(exact)),  # identical repeats, one kept
        "stars_labelled": int(len(kept)),
        "stars_unlabelled": int(len(star_ids) - len(kept)),
        "n_conflicting_labels": int(len(conflicting)),
        "conflicting_labels": {
            str(i): "label rows with different feh/feh_error; the star is kept unlabelled"
            for i in conflicting.tolist()
        },
    }
    return kept.reset_index(drop=True), report
