"""Folding and phase coverage of ragged light curves (the layout of rrlfeh.core.ragged)."""

from __future__ import annotations

import numpy as np

from rrlfeh.core.ragged import segment_reduce, starts_of


def fold(time: np.ndarray, epoch: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Phase ((t - epoch) / P) mod 1 in [0, 1); epoch is the time of maximum light -> phase 0."""
    phase = np.mod((time - epoch) / period, 1.0)
    # mod can round up to exactly 1.0 for tiny negative arguments
    phase[phase >= 1.0] = 0.0
    return phase


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
    starts = starts_of(counts)
    ends = starts + counts - 1
    has = counts > 0
    # the first gap of each star wraps around phase 1 -> 0
    gaps[starts[has]] = ph[starts[has]] + 1.0 - ph[ends[has]]
    largest = segment_reduce(np.maximum, gaps, counts, empty=1.0)
    largest[counts < 2] = 1.0
    return largest
