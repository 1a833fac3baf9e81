"""Batched periodic smoothing spline: a penalized cubic B-spline on the phase circle.

The paper fits a scipy smoothing spline to each folded curve, i.e. the f minimizing
    sum_i (m_i - f(phi_i))**2 + lam * integral_0^1 f''(phi)**2 dphi.
Letting scipy pick lam per curve (GCV) costs 0.1-0.5 s a curve. We minimize the same objective
with a FIXED lam over periodic cubic splines with `n_knots` uniform knots on [0, 1):
f = sum_j c_j B_j, so (B'B + lam * Omega) c = B'm with Omega the exact integral of f''**2 (not the
usual difference approximation), one small K x K system per star, all stars solved at once.
Differences from scipy's `make_smoothing_spline(phase, mag, lam=lam)`: the curve is periodic
(continuous with continuous first and second derivatives through phase 0 = 1, which a light
curve is), and the knots are uniform instead of at every data point; at the default 32 knots and
lam the two fits agree to ~1 mmag (tests/unit/test_features_spline.py). The default lam was
chosen on simulated and real DR3 curves (bench/preprocess_smoothing.py, docs/BENCHMARKS.md).
With per-epoch weights w_i the objective is sum_i w_i (m_i - f(phi_i))**2 + lam * ...: the
weights are relative (mean 1 within a star), so lam keeps its meaning.
"""

from __future__ import annotations

import numpy as np

# Stars per linear solve: bounds the (stars, K, K) work arrays to a few tens of MB.
_BLOCK_STARS = 1024


def periodic_basis(phase: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """The 4 non-zero uniform periodic cubic B-splines at each phase in [0, 1).

    Returns (index (m, 4) int64, value (m, 4) float64); values at a phase sum to 1.
    """
    x = np.asarray(phase, dtype=np.float64) * n_knots
    cell = np.floor(x)
    u = x - cell
    cell = cell.astype(np.int64) % n_knots
    u2, u3 = u * u, u * u * u
    value = np.stack(
        [
            (1.0 - u) ** 3,
            3.0 * u3 - 6.0 * u2 + 4.0,
            -3.0 * u3 + 3.0 * u2 + 3.0 * u + 1.0,
            u3,
        ],
        axis=-1,
    ) / 6.0
    index = (cell[:, None] + np.arange(-3, 1)) % n_knots
    return index, value


def basis_matrix(phase: np.ndarray, n_knots: int) -> np.ndarray:
    """Dense (m, K) periodic B-spline design matrix (for the fixed resampling grid)."""
    index, value = periodic_basis(phase, n_knots)
    out = np.zeros((len(index), n_knots))
    np.add.at(out, (np.arange(len(index))[:, None], index), value)
    return out


def penalty_matrix(n_knots: int) -> np.ndarray:
    """Omega with c' Omega c = integral_0^1 f''(phi)**2 dphi for f = sum_j c_j B_j (exact).

    f'' = K**2 * sum_m d_m N_m with d = periodic second differences of c and N_m the linear
    B-splines, whose Gram matrix is (1/K) * circulant(2/3, 1/6, ..., 1/6).
    """
    k = n_knots
    eye = np.eye(k)
    second_diff = eye - 2.0 * np.roll(eye, -1, axis=1) + np.roll(eye, -2, axis=1)
    gram = (4.0 * eye + np.roll(eye, 1, axis=1) + np.roll(eye, -1, axis=1)) / 6.0
    return float(k) ** 3 * second_diff.T @ gram @ second_diff


def fit_periodic(
    phase: np.ndarray, mag: np.ndarray, star: np.ndarray, n_stars: int, n_knots: int, lam: float,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Spline coefficients (n_stars, K) of every star's periodic smoothing spline.

    phase, mag, star: one entry per epoch (star = row index in 0..n_stars-1, sorted ascending);
    weight: one positive weight per epoch, or None for equal weights.
    Each star needs at least one point (the penalty's null space is the constants, so the
    system is then positive definite).
    """
    star = np.asarray(star, dtype=np.int64)
    coef = np.empty((n_stars, n_knots))
    omega = lam * penalty_matrix(n_knots)
    bounds = np.searchsorted(star, np.arange(0, n_stars + _BLOCK_STARS, _BLOCK_STARS))
    for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        s0 = b * _BLOCK_STARS
        n_block = min(_BLOCK_STARS, n_stars - s0)
        if n_block <= 0:
            break
        coef[s0 : s0 + n_block] = _solve_block(
            phase[lo:hi], mag[lo:hi], star[lo:hi] - s0, n_block, n_knots, omega,
            None if weight is None else weight[lo:hi],
        )
    return coef


def _solve_block(phase, mag, star, n_stars, n_knots, omega, weight=None) -> np.ndarray:
    k = n_knots
    index, value = periodic_basis(phase, k)
    # B'WB and B'Wm accumulated with one bincount each: 16 products / 4 products per epoch.
    flat = (star[:, None, None] * (k * k) + index[:, :, None] * k + index[:, None, :]).ravel()
    prods = value[:, :, None] * value[:, None, :]
    weighted = value if weight is None else value * weight[:, None]
    if weight is not None:
        prods = prods * weight[:, None, None]
    gram = np.bincount(flat, weights=prods.ravel(), minlength=n_stars * k * k).reshape(n_stars, k, k)
    rhs = np.bincount(
        (star[:, None] * k + index).ravel(), weights=(weighted * mag[:, None]).ravel(),
        minlength=n_stars * k,
    ).reshape(n_stars, k, 1)
    gram += omega
    try:
        return np.linalg.solve(gram, rhs)[..., 0]
    except np.linalg.LinAlgError:
        return _solve_each(gram, rhs)


def _solve_each(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Fallback when one system of the block is singular: NaN for that star only."""
    out = np.full(rhs.shape[:2], np.nan)
    for i in range(len(gram)):
        try:
            out[i] = np.linalg.solve(gram[i], rhs[i])[:, 0]
        except np.linalg.LinAlgError:
            pass
    return out
