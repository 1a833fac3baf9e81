"""Account for every star between the catalogue and its epoch photometry (the extract report).

Pure: id arrays in, a JSON-ready dict out. Ids are written as strings (keys of a mapping to the
reason) so that `dvc metrics show` does not mistake 19-digit ids for metrics.
"""

from __future__ import annotations

import numpy as np


def reconcile_ids(
    requested, received, written, reasons: dict[int, str], default_reason: str
) -> dict:
    """Counts of ids asked for, received and written, and each missing id with its reason.

    requested: the catalogue's stars; received: ids the source answered for (a file or rows);
    written: ids with at least one epoch row in the output; reasons: known causes per id;
    default_reason: the cause of a missing id with none known.
    """
    req = np.unique(np.asarray(requested, dtype="int64"))
    rec = np.unique(np.asarray(received, dtype="int64"))
    wrt = np.unique(np.asarray(written, dtype="int64"))
    missing = np.setdiff1d(req, wrt)
    unrequested = np.setdiff1d(np.union1d(rec, wrt), req)
    return {
        "ids_requested": int(len(req)),
        "ids_received": int(len(np.intersect1d(rec, req))),
        "ids_written": int(len(np.intersect1d(wrt, req))),
        "n_ids_missing": int(len(missing)),
        "n_ids_unrequested": int(len(unrequested)),  # answered but not asked for: dropped
        "ids_missing": {str(i): reasons.get(int(i), default_reason) for i in missing.tolist()},
    }
