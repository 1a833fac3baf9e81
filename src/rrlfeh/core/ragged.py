"""The one ragged light-curve batch: many stars' epochs in flat arrays plus offsets.

Star i owns the epochs offsets[i]:offsets[i+1] of the flat per-epoch arrays (time, mag and,
where there are some, errors); period and epoch are per star. Every segment operation of the
package (star of each epoch, starts, counts, per-star take/select, segment reductions) lives
here, so features, the simulator, the evaluation and serving share one layout and one
implementation, each step one vectorized numpy call over the whole batch, never a loop over stars.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def offsets_of(counts) -> np.ndarray:
    """Per-star counts -> offsets (n+1,) int64: 0, then the running total."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def starts_of(counts) -> np.ndarray:
    """Per-star counts -> the flat index where each star's segment begins (n,) int64."""
    return offsets_of(counts)[:-1]


def star_index(counts) -> np.ndarray:
    """Per-star counts -> the star (0..n-1) owning each flat value, ascending."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.repeat(np.arange(len(counts)), counts)


def gather_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Flat indices of the segments beginning at `starts` with `counts` values, one after another."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - starts_of(counts), counts) + np.arange(
        counts.sum())


def segment_reduce(ufunc: np.ufunc, values: np.ndarray, counts: np.ndarray, empty: float):
    """ufunc.reduceat over consecutive per-star segments; `empty` where a star has no values."""
    out = np.full(len(counts), empty, dtype=np.float64)
    nonempty = counts > 0
    if nonempty.any():
        out[nonempty] = ufunc.reduceat(values, starts_of(counts)[nonempty])
    return out


def segment_median(values: np.ndarray, star: np.ndarray, n_stars: int) -> np.ndarray:
    """Median of each star's values (`star` sorted ascending); NaN for a star without values."""
    counts = np.bincount(star, minlength=n_stars)
    order = np.lexsort((values, star))
    v = values[order]
    starts = starts_of(counts)
    out = np.full(n_stars, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out


def concat(arrays: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Per-star 1-D arrays -> (flat float64 values, offsets (n+1,) int64)."""
    lengths = np.fromiter((np.size(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = offsets_of(lengths)
    if len(arrays) == 0 or offsets[-1] == 0:
        return np.zeros(0), offsets
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]), offsets


def split(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """Flat values -> one array (a view) per star."""
    return [values[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _per_star(values, n: int) -> np.ndarray:
    """float64 per-star values, NaN (unknown) when None; the batch checks the length."""
    if values is None:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=np.float64).reshape(-1)


@dataclass(frozen=True, eq=False)  # arrays: identity, not an ambiguous elementwise ==
class LightCurves:
    """Light curves of n stars: flat per-epoch arrays grouped by star, and per-star values.

    `error` is None where the batch carries no magnitude errors, `source_id` None where the stars
    are not named; period and epoch (time of maximum light) are NaN where unknown.
    """

    offsets: np.ndarray  # (n+1,) int64, 0 first, non-decreasing
    time: np.ndarray  # (m,) float64
    mag: np.ndarray  # (m,) float64
    period: np.ndarray  # (n,) float64
    epoch: np.ndarray  # (n,) float64
    error: np.ndarray | None = None  # (m,) float64
    source_id: np.ndarray | None = None  # (n,) int64

    def __post_init__(self) -> None:
        off = self.offsets
        if off.ndim != 1 or len(off) == 0 or off[0] != 0 or (np.diff(off) < 0).any():
            raise ValueError("offsets must start at 0 and never decrease")
        m = int(off[-1])
        for name in ("time", "mag") + ("error",) * (self.error is not None):
            if len(getattr(self, name)) != m:
                raise ValueError(f"{name} has {len(getattr(self, name))} epochs, offsets {m}")
        n = len(off) - 1
        if len(self.period) != n or len(self.epoch) != n:
            raise ValueError(f"{n} light curves but {len(self.period)} periods and "
                             f"{len(self.epoch)} epochs")
        if self.source_id is not None and len(self.source_id) != n:
            raise ValueError(f"{n} light curves but {len(self.source_id)} source_ids")

    @classmethod
    def from_counts(cls, counts, time, mag, period=None, epoch=None, error=None) -> LightCurves:
        """From flat arrays grouped by star (counts[i] epochs of star i)."""
        counts = np.asarray(counts, dtype=np.int64)
        n = len(counts)
        return cls(offsets_of(counts), np.asarray(time, dtype=np.float64),
                   np.asarray(mag, dtype=np.float64), _per_star(period, n),
                   _per_star(epoch, n),
                   None if error is None else np.asarray(error, dtype=np.float64))

    @classmethod
    def from_lists(cls, times: Sequence, mags: Sequence, period=None, epoch=None,
                   errors: Sequence | None = None) -> LightCurves:
        """From one time and one mag array per star, and optionally one mag error array (a clear
        error where they do not pair up)."""
        if len(times) != len(mags) or (errors is not None and len(errors) != len(times)):
            raise ValueError(f"times, mags and errors differ in length: {len(times)}, {len(mags)}"
                             + (f", {len(errors)}" if errors is not None else ""))
        time, offsets = concat(times)
        flat = {}
        for name, parts in (("mags", mags), ("errors", errors)):
            if parts is None:
                continue
            flat[name], other = concat(parts)
            if not np.array_equal(offsets, other):
                bad = int(np.flatnonzero(np.diff(offsets) != np.diff(other))[0])
                raise ValueError(f"star {bad}: times and {name} have different lengths")
        n = len(times)
        return cls(offsets, time, flat["mags"], _per_star(period, n), _per_star(epoch, n),
                   flat.get("errors"))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Epochs per star (n,) int64."""
        return np.diff(self.offsets)

    @property
    def starts(self) -> np.ndarray:
        """Flat index of each star's first epoch (n,) int64."""
        return self.offsets[:-1]

    @property
    def star(self) -> np.ndarray:
        """The star owning each epoch (m,), ascending."""
        return star_index(self.counts)

    def times(self) -> list[np.ndarray]:
        return split(self.time, self.offsets)

    def mags(self) -> list[np.ndarray]:
        return split(self.mag, self.offsets)

    def errors(self) -> list[np.ndarray]:
        """One mag error array per star (NaN where the curves carry none)."""
        return split(np.full(len(self.time), np.nan) if self.error is None else self.error, self.offsets)

    def take(self, stars) -> LightCurves:
        """The stars `stars` (indices, in that order; repeats allowed), with all their epochs."""
        stars = np.asarray(stars, dtype=np.int64).reshape(-1)
        counts = self.counts[stars]
        rows = gather_rows(self.starts[stars], counts)
        return LightCurves(offsets_of(counts), self.time[rows], self.mag[rows], self.period[stars],
                           self.epoch[stars], None if self.error is None else self.error[rows],
                           None if self.source_id is None else self.source_id[stars])

    def select(self, keep: np.ndarray) -> LightCurves:
        """Every star, with only the epochs where the per-epoch mask `keep` is true."""
        keep = np.asarray(keep, dtype=bool)
        if len(keep) != len(self.time):
            raise ValueError(f"mask of {len(keep)} for {len(self.time)} epochs")
        counts = np.bincount(self.star[keep], minlength=len(self))
        return dataclasses.replace(
            self, offsets=offsets_of(counts), time=self.time[keep], mag=self.mag[keep],
            error=None if self.error is None else self.error[keep])

    def per_star(self, mask: np.ndarray) -> np.ndarray:
        """How many epochs of each star the per-epoch mask `mask` holds (n,) int64."""
        return np.bincount(self.star[mask], minlength=len(self))
