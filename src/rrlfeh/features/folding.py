"""Ragged light curves (all stars' epochs in flat arrays plus offsets), folding and phase coverage.

A chunk of stars is held as flat `values` and `offsets` (star i owns
values[offsets[i]:offsets[i+1]]), so every step is one vectorized numpy call over the whole
chunk, never a loop over stars.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_ragged(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-star 1-D arrays -> (flat float64 values, offsets (n+1,) int64)."""
    lengths = np.fromiter((np.size(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if len(arrays) == 0 or offsets[-1] == 0:
        return np.zeros(0), offsets
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    return values, offsets


def star_index(offsets: np.ndarray) -> np.ndarray:
    """Row index of the star owning each flat value."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def fold(time: np.ndarray, epoch: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Phase ((t - epoch) / P) mod 1 in [0, 1); epoch is the time of maximum light -> phase 0."""
    phase = np.mod((time - epoch) / period, 1.0)
    # mod can round up to exactly 1.0 for tiny negative arguments
    phase[phase >= 1.0] = 0.0
    return phase


def segment_reduce(ufunc: np.ufunc, values: np.ndarray, counts: np.ndarray, empty: float):
    """ufunc.reduceat over consecutive per-star segments; `empty` where a star has no values."""
    out = np.full(len(counts), empty, dtype=np.float64)
    nonempty = counts > 0
    if nonempty.any():
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        out[nonempty] = ufunc.reduceat(values, starts)
    return out


def largest_phase_gap(phase: np.ndarray, star: np.ndarray, n_stars: int) -> np.ndarray:
    """Largest gap between consecutive phases of each star, around the circle (1.0 if < 2 points).

    `star` must be sorted ascending (ragged layout). A curve whose largest gap is wide has a
    whole branch (e.g. the steep rise of an RRab) unconstrained, so the spline would invent it.
    """
    counts = np.bincount(star, minlength=n_stars)
    order = np.argsort(star + phase, kind="stable")  # star-major, phase-minor (phase < 1)
    ph = phase[order]
    gaps = np.empty_like(ph)
    gaps[1:] = np.diff(ph)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ends = starts + counts - 1
    has = counts > 0
    # the first gap of each star wraps around phase 1 -> 0
    gaps[starts[has]] = ph[starts[has]] + 1.0 - ph[ends[has]]
    largest = segment_reduce(np.maximum, gaps, counts, empty=1.0)
    largest[counts < 2] = 1.0
    return largest


def segment_median(values: np.ndarray, star: np.ndarray, n_stars: int) -> np.ndarray:
    """Median of each star's values (`star` sorted ascending); NaN for a star without values."""
    counts = np.bincount(star, minlength=n_stars)
    order = np.lexsort((values, star))
    v = values[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_stars, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out
