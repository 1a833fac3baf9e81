"""What an impossible star is: one definition for `rrlfeh predict` and the served model.

A star is impossible, and gets a reason instead of an estimate, when
  bad_source_id         its source_id is not in 1 .. 2**63-1 (Gaia ids are positive int64)
  time_outside_window   an epoch time is infinite or outside `time_window` (BJD(TCB) - 2455197.5 d:
                        JD or MJD times, or times in seconds, land there, far from any Gaia span)
  mag_outside_range     a G magnitude is infinite or outside `mag_range`
  conflicting_epochs    two epochs at the same time with different magnitudes
  period_outside_range  a finite, positive period outside `period_range` (days; missing or <= 0 is
                        the model's own bad_period)
(the codes: rrlfeh.core.reasons, with every other reject reason)
NaN is a missing value (the epoch is dropped, as training did); an epoch repeated exactly (same
time, same magnitude: a row concatenated twice) is dropped and counted, so it is never counted
twice. `clean` treats exactly repeated rows the same way (quality/cuts.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrlfeh.config.serving import PredictConfig
from rrlfeh.core import reasons as R
from rrlfeh.core.ragged import LightCurves

SOURCE_ID_MAX = 2**63 - 1
REASONS = R.codes(R.BAD_SOURCE_ID, R.TIME_OUTSIDE_WINDOW, R.MAG_OUTSIDE_RANGE, R.CONFLICTING_EPOCHS,
                  R.PERIOD_OUTSIDE_RANGE)


_DEFAULTS = PredictConfig()  # the one home of the ranges' defaults (and of why they are what they are)


@dataclass(frozen=True)
class Bounds:
    """The accepted ranges (params.yaml `predict`; the served model's model_config)."""

    time_window: tuple[float, float] = tuple(_DEFAULTS.time_window)
    period_range: tuple[float, float] = tuple(_DEFAULTS.period_range)
    mag_range: tuple[float, float] = tuple(_DEFAULTS.mag_range)

    @classmethod
    def of(cls, cfg) -> Bounds:
        """From a mapping or an object with the three fields (missing ones take the defaults)."""
        get = cfg.get if isinstance(cfg, dict) else (lambda k, d: getattr(cfg, k, d))
        d = cls()
        return cls(*(tuple(float(v) for v in get(k, getattr(d, k))) for k in
                     ("time_window", "period_range", "mag_range")))


@dataclass(frozen=True)
class Screened:
    """The stars after screening: curves without missing or exactly repeated epochs, and per star
    the reason ('' when the star is possible) and the number of repeated epochs dropped."""

    curves: LightCurves
    reason: np.ndarray  # object
    n_duplicates: np.ndarray  # int64


def screen(source_id, curves: LightCurves, bounds: Bounds = Bounds()) -> Screened:
    """Judge every star (vectorized over the batch's epochs: ~1 us per epoch)."""
    n, star, t, m = len(curves), curves.star, curves.time, curves.mag
    with np.errstate(invalid="ignore"):
        lo, hi = bounds.time_window
        bad_t = np.isinf(t) | (t < lo) | (t > hi)
        lo, hi = bounds.mag_range
        bad_m = np.isinf(m) | (m < lo) | (m > hi)
    keep = ~(np.isnan(t) | np.isnan(m))
    # exact repeats and conflicts: neighbours in (star, time, mag) order
    order = np.lexsort((m, t, star))
    s_o, t_o, m_o = star[order], t[order], m[order]
    same_t = (s_o[1:] == s_o[:-1]) & (t_o[1:] == t_o[:-1]) & keep[order][1:] & keep[order][:-1]
    repeat = same_t & (m_o[1:] == m_o[:-1])
    conflict = same_t & ~repeat
    drop = np.zeros(len(t), dtype=bool)
    drop[order[1:][repeat]] = True
    keep &= ~drop

    reason = np.full(n, "", dtype=object)
    sid = np.asarray(source_id)
    with np.errstate(invalid="ignore"):
        p = curves.period
        lo, hi = bounds.period_range
        checks = [
            (R.BAD_SOURCE_ID.code, ~((sid > 0) & (sid <= SOURCE_ID_MAX))),
            (R.TIME_OUTSIDE_WINDOW.code, curves.per_star(bad_t) > 0),
            (R.MAG_OUTSIDE_RANGE.code, curves.per_star(bad_m) > 0),
            (R.CONFLICTING_EPOCHS.code, np.bincount(s_o[1:][conflict], minlength=n) > 0),
            # NaN and <= 0 are the preprocessing's own bad_period; beyond the physical range too
            (R.PERIOD_OUTSIDE_RANGE.code, np.isfinite(p) & (p > 0) & ((p < lo) | (p > hi))),
        ]
    for code, failed in checks:
        reason[(reason == "") & np.asarray(failed, dtype=bool)] = code
    n_dup = curves.per_star(drop)
    return Screened(curves.select(keep), reason, n_dup.astype(np.int64))
