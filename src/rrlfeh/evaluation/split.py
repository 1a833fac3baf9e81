"""One fixed split of a labelled real-star set into a calibration half and a scoring half.

Everything tuned on real stars (simulator params, out-of-range thresholds, the uncertainty scale,
fine-tuning) uses the calibration half only; bars are measured on the scoring half. The split is a
hash of the source_id, so it needs no state and holds for any catalogue: parity of the id itself is
useless for archive files written through float64, whose ids all end in zero bits.
"""

from __future__ import annotations

import hashlib

import numpy as np

HALVES = ("calibration", "scoring")


def is_calibration(source_id) -> np.ndarray:
    """True for the calibration half: the first byte of md5(decimal id) is even (about half)."""
    ids = np.asarray(source_id, dtype=np.int64).ravel()
    return np.array([hashlib.md5(str(int(s)).encode()).digest()[0] % 2 == 0 for s in ids], dtype=bool)


def half_of(source_id) -> np.ndarray:
    """'calibration' or 'scoring' per star."""
    return np.where(is_calibration(source_id), HALVES[0], HALVES[1])
