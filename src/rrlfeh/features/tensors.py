"""Raw G light curves -> the GRU's input tensor; the one implementation for training and serving.

Per star: drop NaN epochs, fold on (period, epoch_g), fit the periodic smoothing spline with a
fixed strength, or a Fourier series at an order set by the epoch count (`curve_model`), each epoch
weighted by its inverse squared magnitude error when `epoch_weights` is "errors" and the curves
carry errors; resample at N phases j/N (j = 0..N-1, maximum light at j = 0), standardize.
X[..., 0] = phase * period (days since maximum: how the period reaches the network),
X[..., 1] = standardized magnitude. A star that cannot be processed keeps its row with zeros in X
and a reason, so callers can always line results up with their input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core import reasons as R
from rrlfeh.core.ragged import LightCurves, segment_median, segment_reduce
from rrlfeh.features.folding import fold, largest_phase_gap
from rrlfeh.features.fourier_curve import fourier_resampled
from rrlfeh.features.spline import basis_matrix, fit_periodic, periodic_basis

# Rejection reasons, in the order they are tested (a star gets the first that applies; what each
# tests: rrlfeh.core.reasons)
REASONS = R.codes(R.BAD_PERIOD, R.BAD_EPOCH, R.FEW_EPOCHS, R.CONSTANT_MAGNITUDES,
                  R.POOR_PHASE_COVERAGE, R.SPLINE_FAILED)
# Peak-to-peak below this (mag) counts as constant: far below any photometric error.
_CONSTANT_MAG = 1e-6
# CurveOptions' defaults are PreprocessConfig's (one source); callers pass cfg.curve_options(type).
_DEFAULTS = PreprocessConfig()
# Relative epoch weights are kept within this factor of the star's median weight: one epoch with
# an absurdly small reported error cannot pin the whole curve.
_LOG_WEIGHT_RANGE = float(np.log(10.0))


@dataclass
class PreprocessResult:
    """One row per input star. X is zero and reason non-empty where ok is False."""

    X: np.ndarray  # (n, N, 2) float32
    ok: np.ndarray  # (n,) bool
    reason: np.ndarray  # (n,) object, '' when ok
    n_epochs: np.ndarray  # (n,) int, finite epochs used
    amplitude: np.ndarray  # (n,) float, peak-to-peak of the smoothed curve (mag), NaN if rejected
    # robust scatter of the epochs around the smoothed curve / amplitude (NaN if rejected): how
    # well the curve folds; a wrong period or type folds into noise (docs/REAL_STARS.md)
    scatter: np.ndarray
    phase_gap: np.ndarray  # (n,) largest gap between folded phases (NaN if not reached)

    def __len__(self) -> int:
        return len(self.ok)

    def take(self, rows: np.ndarray) -> "PreprocessResult":
        return PreprocessResult(
            self.X[rows], self.ok[rows], self.reason[rows], self.n_epochs[rows],
            self.amplitude[rows], self.scatter[rows], self.phase_gap[rows],
        )


def phase_grid(n_points: int) -> np.ndarray:
    """The N resampling phases j/N, j = 0..N-1 (phase 0 = maximum light; 1 is 0 again)."""
    return np.arange(n_points, dtype=np.float64) / n_points


@dataclass(frozen=True)
class CurveOptions:
    """How light curves become tensors (PreprocessConfig.curve_options; the served model's manifest)."""

    n_points: int  # phases resampled (N)
    smoothing: float  # lam of the spline objective (spline.py)
    min_epochs: int = _DEFAULTS.min_epochs
    n_knots: int = _DEFAULTS.n_knots
    max_phase_gap: float = _DEFAULTS.max_phase_gap
    epoch_weights: str = _DEFAULTS.epoch_weights  # "errors" (1 / mag_error^2) | "none"
    curve_model: str = _DEFAULTS.curve_model  # "spline" | "fourier"
    fourier_harmonics: int = _DEFAULTS.fourier_harmonics  # curve_model fourier: most harmonics
    fourier_epochs_per_parameter: float = _DEFAULTS.fourier_epochs_per_parameter  # ... and fewer below this

    @classmethod
    def of(cls, options: CurveOptions | Mapping) -> CurveOptions:
        """From CurveOptions or a mapping of its fields (missing optional ones take the defaults)."""
        return options if isinstance(options, CurveOptions) else cls(**options)


def preprocess_arrays(times: Sequence[np.ndarray], mags: Sequence[np.ndarray], periods, epochs,
                      options: CurveOptions | Mapping,
                      errors: Sequence[np.ndarray] | None = None) -> PreprocessResult:
    """Tensors for a list of light curves (one 1-D time and mag array per star, and optionally one
    mag error array).

    times in days (BJD(TCB) - 2455197.5, the archive's units; epochs in the same units), mags and
    errors in mag; NaN epochs are dropped.
    """
    return preprocess_curves(LightCurves.from_lists(times, mags, periods, epochs, errors), options)


def relative_weights(error: np.ndarray, star: np.ndarray, n: int) -> np.ndarray:
    """Each epoch's 1 / error^2 relative to its star's median, (median error / error)^2, kept
    within [1/10, 10]; 1 for an epoch without a usable error (missing, zero, negative or
    infinite), so a star without errors is fitted unweighted."""
    error = np.asarray(error, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(error) & (error > 0)
    log_e = np.log(error[valid])  # in logs: a denormal error neither overflows nor divides by 0
    log_median = segment_median(log_e, star[valid], n)
    w = np.ones(len(error))
    w[valid] = np.exp(np.clip(2.0 * (log_median[star[valid]] - log_e), -_LOG_WEIGHT_RANGE, _LOG_WEIGHT_RANGE))
    return w


def preprocess_curves(curves: LightCurves, options: CurveOptions | Mapping) -> PreprocessResult:
    """`preprocess_arrays` on a ragged batch (what the batch workers call)."""
    opts = CurveOptions.of(options)
    n, periods, epochs = len(curves), curves.period, curves.epoch
    star, time, mag = curves.star, curves.time, curves.mag
    finite = np.isfinite(time) & np.isfinite(mag)
    n_epochs = np.bincount(star[finite], minlength=n)

    reason = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray, why: str) -> None:
        reason[mask & (reason == "")] = why

    reject(~(np.isfinite(periods) & (periods > 0)), R.BAD_PERIOD.code)
    reject(~np.isfinite(epochs), R.BAD_EPOCH.code)
    reject(n_epochs < max(opts.min_epochs, 1), R.FEW_EPOCHS.code)

    # Only epochs of stars still in play go further (indices stay sorted by star).
    keep = finite & (reason == "")[star]
    star_k, time_k, mag_k = star[keep], time[keep], mag[keep]
    weight_k = (relative_weights(curves.error[keep], star_k, n)
                if opts.epoch_weights == "errors" and curves.error is not None else None)
    counts = np.bincount(star_k, minlength=n)
    ptp = segment_reduce(np.maximum, mag_k, counts, -np.inf) - segment_reduce(
        np.minimum, mag_k, counts, np.inf
    )
    reject(~(ptp > _CONSTANT_MAG), R.CONSTANT_MAGNITUDES.code)

    phase_k = fold(time_k, epochs[star_k], periods[star_k])
    phase_gap = np.where(reason == "", largest_phase_gap(phase_k, star_k, n), np.nan)
    reject(phase_gap > opts.max_phase_gap, R.POOR_PHASE_COVERAGE.code)

    out = PreprocessResult(np.zeros((n, opts.n_points, 2), dtype=np.float32), reason == "", reason,
                           n_epochs.astype(np.int64), np.full(n, np.nan), np.full(n, np.nan),
                           phase_gap)
    fit_rows = np.flatnonzero(reason == "")
    if len(fit_rows):
        curves_k = _Folded(phase_k, mag_k, star_k, n, weight_k)
        reject(_fill_smoothed(out, curves_k, fit_rows, periods, opts), R.SPLINE_FAILED.code)
        out.ok = reason == ""
    return out


@dataclass(frozen=True)
class _Folded:
    """The folded epochs of the stars still in play (star sorted ascending) among n stars."""

    phase: np.ndarray
    mag: np.ndarray
    star: np.ndarray
    n: int
    weight: np.ndarray | None = None  # relative epoch weights; None: equal


def _fill_smoothed(out: PreprocessResult, folded: _Folded, fit_rows: np.ndarray,
                   periods: np.ndarray, opts: CurveOptions) -> np.ndarray:
    """Smooth, resample and standardize the stars `fit_rows` into `out`; the stars whose fit failed."""
    curves, mad = _smooth(folded, fit_rows, opts)
    mean = curves.mean(axis=1)
    std = curves.std(axis=1)
    good = np.isfinite(curves).all(axis=1) & (std > _CONSTANT_MAG * 1e-3)
    failed = np.zeros(folded.n, dtype=bool)
    failed[fit_rows[~good]] = True
    rows = fit_rows[good]
    curves, mean, std = curves[good], mean[good], std[good]
    out.amplitude[rows] = curves.max(axis=1) - curves.min(axis=1)
    out.scatter[rows] = mad[good] / out.amplitude[rows]
    grid = phase_grid(opts.n_points)
    out.X[rows, :, 0] = (grid[None, :] * periods[rows, None]).astype(np.float32)
    out.X[rows, :, 1] = ((curves - mean[:, None]) / std[:, None]).astype(np.float32)
    return failed


def _smooth(folded: _Folded, rows: np.ndarray, opts: CurveOptions) -> tuple[np.ndarray, np.ndarray]:
    """Resampled smoothed curves (len(rows), N) of the stars `rows` (the spline, or the Fourier
    series of curve_model fourier), and the robust scatter
    (1.4826 x median absolute residual, mag) of each star's epochs around its curve."""
    phase, mag, star, n = folded.phase, folded.mag, folded.star, folded.n
    n_points, smoothing, n_knots = opts.n_points, opts.smoothing, opts.n_knots
    # renumber the fitted stars 0..len(rows)-1 so the solve sizes to them only
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[rows] = np.arange(len(rows))
    sel = new_id[star] >= 0
    s = new_id[star[sel]]
    m = mag[sel]
    weight = None if folded.weight is None else folded.weight[sel]
    if opts.curve_model == "fourier":
        return fourier_resampled(phase[sel], m, s, len(rows), weight, phase_grid(n_points),
                                 opts.fourier_harmonics, opts.fourier_epochs_per_parameter)
    # centre each curve first: the penalty ignores constants, and it keeps B'm well scaled
    counts = np.bincount(s, minlength=len(rows))
    centre = np.bincount(s, weights=m, minlength=len(rows)) / counts
    coef = fit_periodic(phase[sel], m - centre[s], s, len(rows), n_knots, smoothing, weight)
    index, value = periodic_basis(phase[sel], n_knots)
    fitted = np.einsum("mj,mj->m", value, coef[s[:, None], index])
    mad = 1.4826 * segment_median(np.abs(m - centre[s] - fitted), s, len(rows))
    return coef @ basis_matrix(phase_grid(n_points), n_knots).T + centre[:, None], mad
