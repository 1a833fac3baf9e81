"""Batched Fourier-series light-curve fits in the Gaia cosine convention.

m(t) = A0 + sum_k A_k cos(2 pi k (t - t_ref) / P + phi_k); phi_k1 = phi_k - k phi_1 (mod 2 pi) and
R_k1 = A_k / A_1 do not depend on t_ref. Fitting is weighted linear least squares on
a_k cos + b_k sin terms (A_k cos(x + phi_k) = a_k cos x + b_k sin x with a_k = A_k cos phi_k,
b_k = -A_k sin phi_k), solved for thousands of stars at once as stacked normal equations; stars
with fewer harmonics get their unused columns pinned to zero, so one solve serves all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrlfeh.core.ragged import LightCurves, gather_rows, star_index, starts_of

TWO_PI = 2.0 * np.pi


def cosine_series(cycles: np.ndarray, amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """sum_k amp[..., k] cos(2 pi (k+1) cycles + phase[..., k]); amp/phase broadcast against cycles
    with one extra trailing harmonic axis. Loops over harmonics (few) to keep memory flat."""
    out = np.zeros(np.broadcast_shapes(cycles.shape, amp.shape[:-1]))
    for k in range(amp.shape[-1]):
        out += amp[..., k] * np.cos(TWO_PI * (k + 1) * cycles + phase[..., k])
    return out


def harmonics_for(n_epochs, max_harmonics: int, epochs_per_parameter: float) -> np.ndarray:
    """Harmonics a star's epochs support: K <= (n / epochs_per_parameter - 1) / 2, in [0, max]."""
    k = np.floor((np.asarray(n_epochs, dtype=float) / epochs_per_parameter - 1.0) / 2.0)
    return np.clip(k, 0, max_harmonics).astype(np.int64)


@dataclass(frozen=True)
class FourierFit:
    """Per-star fit results; arrays have one row per star, K = the largest harmonic count fitted."""

    mean: np.ndarray  # (n,) A0, mag
    coef: np.ndarray  # (n, 2K+1) a0, a1, b1, ..., aK, bK
    cov: np.ndarray  # (n, 2K+1, 2K+1) covariance of coef, scaled by the reduced chi-square
    n_harmonics: np.ndarray  # (n,) harmonics fitted per star
    period: np.ndarray  # (n,) d
    t_ref: np.ndarray  # (n,) phases refer to this time (the star's mean epoch)
    chi2_red: np.ndarray  # (n,)

    @property
    def amp(self) -> np.ndarray:
        """(n, K) A_k, zero beyond a star's harmonics."""
        return np.hypot(self.coef[:, 1::2], self.coef[:, 2::2])

    @property
    def phase(self) -> np.ndarray:
        """(n, K) phi_k in [0, 2 pi)."""
        return np.mod(np.arctan2(-self.coef[:, 2::2], self.coef[:, 1::2]), TWO_PI)

    def _has(self, k: int) -> np.ndarray:
        return self.n_harmonics >= k

    def r_k1(self, k: int) -> np.ndarray:
        """A_k / A_1; NaN where the star was fitted with fewer than k harmonics."""
        if k > self.coef.shape[1] // 2:
            return np.full(len(self.mean), np.nan)
        amp = self.amp
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._has(k), amp[:, k - 1] / amp[:, 0], np.nan)

    def phi_k1(self, k: int) -> np.ndarray:
        """phi_k - k phi_1 in [0, 2 pi); NaN where fewer than k harmonics."""
        if k > self.coef.shape[1] // 2:
            return np.full(len(self.mean), np.nan)
        ph = self.phase
        return np.where(self._has(k), np.mod(ph[:, k - 1] - k * ph[:, 0], TWO_PI), np.nan)

    def phi_k1_error(self, k: int) -> np.ndarray:
        """1-sigma error of phi_k1, propagated linearly from the coefficient covariance."""
        if k > self.coef.shape[1] // 2:
            return np.full(len(self.mean), np.nan)
        n = len(self.mean)
        a1, b1 = self.coef[:, 1], self.coef[:, 2]
        ak, bk = self.coef[:, 2 * k - 1], self.coef[:, 2 * k]
        with np.errstate(divide="ignore", invalid="ignore"):
            # d phi/d a = b / A^2, d phi/d b = -a / A^2 for phi = atan2(-b, a)
            g = np.stack([-k * b1 / (a1**2 + b1**2), k * a1 / (a1**2 + b1**2),
                          bk / (ak**2 + bk**2), -ak / (ak**2 + bk**2)], axis=1)
        idx = np.array([1, 2, 2 * k - 1, 2 * k])
        sub = self.cov[:, idx[:, None], idx[None, :]]
        var = np.einsum("ni,nij,nj->n", g, sub, g)
        return np.where(self._has(k) & (var >= 0), np.sqrt(np.abs(var)), np.nan).reshape(n)

    def evaluate(self, cycles: np.ndarray) -> np.ndarray:
        """The fitted magnitude at phase `cycles` (cycles since t_ref), shape (n, m)."""
        shape = cosine_series(cycles, self.amp[:, None, :], self.phase[:, None, :])
        return self.mean[:, None] + shape


def series_at_epochs(curves: LightCurves, fit: FourierFit, shift: float = 0.0) -> np.ndarray:
    """The fitted curve less its mean at each epoch of `curves` (flat; the curves the fit was made
    on, one fit row per star), `shift` cycles later."""
    star = curves.star
    cycles = (curves.time - fit.t_ref[star]) / curves.period[star] + shift
    return cosine_series(cycles, fit.amp[star], fit.phase[star])


def pad(counts: np.ndarray, *flat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Flat per-epoch arrays (grouped by star, `counts` each) -> (n, max count) arrays, plus the
    mask of real entries."""
    counts = np.asarray(counts, dtype=np.int64)
    n, width = len(counts), int(counts.max()) if len(counts) else 0
    row = star_index(counts)
    col = np.arange(counts.sum()) - np.repeat(starts_of(counts), counts)
    mask = np.zeros((n, width), dtype=bool)
    mask[row, col] = True
    out = []
    for values in flat:
        block = np.zeros((n, width), dtype=np.float64)
        block[row, col] = values
        out.append(block)
    return (*out, mask)


def _design(cycles: np.ndarray, n_harm: np.ndarray, k_max: int) -> np.ndarray:
    """(n, m, 2K+1) columns 1, cos, sin per harmonic; columns above a star's K are zero."""
    cols = [np.ones_like(cycles)]
    for k in range(1, k_max + 1):
        use = (n_harm >= k)[:, None]
        angle = TWO_PI * k * cycles
        cols += [np.where(use, np.cos(angle), 0.0), np.where(use, np.sin(angle), 0.0)]
    return np.stack(cols, axis=-1)


def _fit_block(time, mag, weight, mask, period, n_harm, k_max):
    """Weighted least squares on padded (n, m) blocks: coefficients, covariance, t_ref, chi2_red."""
    w = np.where(mask, weight, 0.0)
    t_ref = np.sum(np.where(mask, time, 0.0), axis=1) / np.maximum(mask.sum(axis=1), 1)
    cycles = np.mod((time - t_ref[:, None]) / period[:, None], 1.0)
    x = _design(cycles, n_harm, k_max)
    xw = x * w[..., None]
    normal = np.matmul(xw.transpose(0, 2, 1), x)
    rhs = np.einsum("nmp,nm->np", xw, np.where(mask, mag, 0.0))
    p = 2 * k_max + 1
    # Unused columns are all-zero: a unit diagonal there pins their coefficient to 0. The tiny
    # ridge keeps a degenerate phase coverage finite instead of failing the whole batch.
    unused = np.arange(p)[None, :] > 2 * n_harm[:, None]
    diag = np.einsum("npp->np", normal)
    ridge = 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
    normal[:, np.arange(p), np.arange(p)] += np.where(unused, 1.0, ridge)
    inv = np.linalg.inv(normal)
    coef = np.einsum("npq,nq->np", inv, rhs)
    resid = np.where(mask, mag - np.einsum("nmp,np->nm", x, coef), 0.0)
    dof = np.maximum(mask.sum(axis=1) - (2 * n_harm + 1), 1)
    chi2_red = np.sum(w * resid**2, axis=1) / dof
    cov = inv * chi2_red[:, None, None]
    return coef, cov, t_ref, chi2_red


def fit_fourier(curves: LightCurves, n_harmonics: np.ndarray, chunk_stars: int = 4000) -> FourierFit:
    """Weighted (1/error^2) Fourier fits at the curves' known periods.

    n_harmonics[i] harmonics are fitted to star i (0 = mean only); the curves must carry errors.
    """
    if curves.error is None:
        raise ValueError("fit_fourier needs magnitude errors (LightCurves.error)")
    counts, period = curves.counts, curves.period
    time, mag, sigma = curves.time, curves.mag, curves.error
    n_harmonics = np.asarray(n_harmonics, dtype=np.int64)
    n, k_max = len(counts), int(n_harmonics.max()) if len(n_harmonics) else 0
    p = 2 * k_max + 1
    coef, cov = np.zeros((n, p)), np.zeros((n, p, p))
    t_ref, chi2 = np.zeros(n), np.zeros(n)
    starts = curves.starts
    # Chunks of stars with similar epoch counts keep the padded blocks nearly full.
    order = np.argsort(counts, kind="stable")
    for lo in range(0, n, chunk_stars):
        stars = order[lo:lo + chunk_stars]
        c = counts[stars]
        rows = gather_rows(starts[stars], c)
        t, m, s, mask = pad(c, time[rows], mag[rows], sigma[rows])
        weight = 1.0 / np.where(mask, s, 1.0) ** 2
        coef[stars], cov[stars], t_ref[stars], chi2[stars] = _fit_block(
            t, m, weight, mask, period[stars], n_harmonics[stars], k_max)
    return FourierFit(coef[:, 0], coef, cov, n_harmonics, period, t_ref, chi2)


@dataclass(frozen=True)
class CurveSummary:
    time_max_light: np.ndarray  # (n,) time of minimum magnitude nearest t_ref
    peak_to_peak: np.ndarray  # (n,) mag
    intensity_mean: np.ndarray  # (n,) -2.5 log10 <10^(-0.4 m)> over phase, mag


def summarize(fit: FourierFit, grid_points: int = 512, chunk_stars: int = 4000) -> CurveSummary:
    """Maximum light, peak-to-peak and intensity-averaged magnitude of the fitted curves."""
    grid = np.arange(grid_points) / grid_points
    t_max, ptp, imean = [], [], []
    for lo in range(0, len(fit.mean), chunk_stars):
        sl = slice(lo, lo + chunk_stars)
        part = FourierFit(fit.mean[sl], fit.coef[sl], fit.cov[sl], fit.n_harmonics[sl],
                          fit.period[sl], fit.t_ref[sl], fit.chi2_red[sl])
        m = part.evaluate(grid[None, :])
        j = np.argmin(m, axis=1)
        rows = np.arange(len(j))
        # Parabola through the grid minimum and its (periodic) neighbours refines the phase.
        left, mid, right = m[rows, j - 1], m[rows, j], m[rows, (j + 1) % grid_points]
        denom = left - 2 * mid + right
        shift = np.where(denom > 0, 0.5 * (left - right) / np.where(denom > 0, denom, 1.0), 0.0)
        cyc = (j + shift) / grid_points
        t_max.append(part.t_ref + part.period * (cyc - np.round(cyc)))
        ptp.append(m.max(axis=1) - m.min(axis=1))
        imean.append(-2.5 * np.log10(np.mean(10.0 ** (-0.4 * m), axis=1)))
    cat = (np.concatenate(x) if x else np.zeros(0) for x in (t_max, ptp, imean))
    return CurveSummary(*cat)
