"""Pulsation parameters of simulated RR Lyrae populations (docs/SIMULATOR.md).

[Fe/H] is encoded in the light-curve shape the way real stars encode it: through the period, phi31
(RRab) and the amplitude ratio R21 (RRc). Each draw is pure: a Generator and a config in, arrays
out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rrlfeh.config.simulate import FehError, FehPrior, Relation, RRabPhysics, RRcPhysics, RRdPhysics

N_HARMONICS = 6
TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Population:
    """One type's stars. amp/phase are the cosine-series A_k, phi_k (k = 1..6) of the G curve."""

    kind: str  # RRab | RRc | RRd
    feh_true: np.ndarray
    feh_relation: np.ndarray  # the photometric relation at the noise-free parameters (NaN for RRd)
    label: np.ndarray  # the catalogue [Fe/H] in the chosen label mode (NaN: no label)
    feh_error: np.ndarray
    period: np.ndarray  # the period of the curve: pf for RRab, p1_o for RRc and RRd
    amp: np.ndarray  # (n, 6)
    phase: np.ndarray  # (n, 6), phi_k = phi_k1 + k phi_1
    pf: np.ndarray  # catalogue columns
    p1_o: np.ndarray
    second_period: np.ndarray  # RRd fundamental mode (NaN otherwise)
    second_amp: np.ndarray
    second_phase: np.ndarray

    def __len__(self) -> int:
        return len(self.feh_true)


def relation_feh(rel: Relation, period: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """[Fe/H] from the photometric relation (shape = phi31 for RRab, R21 for RRc)."""
    return (rel.intercept + rel.period_slope * (period - rel.period_pivot)
            + rel.shape_slope * (shape - rel.shape_pivot))


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _single_mode(n: int) -> dict[str, np.ndarray]:
    return {"second_period": _nan(n), "second_amp": _nan(n), "second_phase": _nan(n)}


def _normal(rng, mean, sd, n, lo=-np.inf, hi=np.inf) -> np.ndarray:
    return np.clip(mean + sd * rng.standard_normal(n), lo, hi)


def _feh(rng, prior: FehPrior, n: int) -> np.ndarray:
    return _normal(rng, prior.mean, prior.sd, n, prior.min, prior.max)


def _feh_error(rng, cfg: FehError, n: int) -> np.ndarray:
    return _normal(rng, cfg.mean, cfg.sd, n, cfg.min, cfg.max)


def _phases(rng, phi21: np.ndarray, phi31: np.ndarray) -> np.ndarray:
    """_at_random_phi1 of phi_k1 = phi21 + (k-2) D for k >= 3, D = phi31 + 2 pi - phi21 (so phi_31
    comes out as given)."""
    n = len(phi21)
    d = phi31 + TWO_PI - phi21
    return _at_random_phi1(rng, np.stack([np.zeros(n), phi21] + [phi21 + (k - 2) * d for k in range(3, 7)], axis=1))


def _at_random_phi1(rng, phi_k1: np.ndarray) -> np.ndarray:
    """The phases phi_k = phi_k1 + k phi_1 (mod 2 pi) of (n, 6) phi_k1 (phi_11 = 0), phi_1 ~ U(0, 2 pi)."""
    phi1 = TWO_PI * rng.random(len(phi_k1))
    return np.mod(phi_k1 + np.arange(1, N_HARMONICS + 1)[None, :] * phi1[:, None], TWO_PI)


def _phi31_scatter(cfg: RRabPhysics, label_mode: str) -> float:
    """The intrinsic phi31 scatter (rad) about the relation in this label mode."""
    return cfg.phi31_scatter_spectroscopic if label_mode == "spectroscopic" else cfg.phi31_scatter_photometric


def draw_rrab(rng: np.random.Generator, n: int, cfg: RRabPhysics, label_mode: str) -> Population:
    """RRab: [Fe/H] -> P -> A1 (Bailey diagram) -> R_k1; phi31 from P and [Fe/H] (+ shape noise in
    spectroscopic mode), phi21 from phi31. The label is the P-phi31 relation (photometric mode).
    With `shapes: copula` the shapes come from the real stars' joint distribution instead
    (draw_rrab_copula)."""
    if cfg.shapes == "copula":
        return draw_rrab_copula(rng, n, cfg, label_mode)
    feh = _feh(rng, cfg.feh, n)
    x = feh - cfg.feh_pivot
    period = _normal(rng, cfg.period_0 + cfg.period_feh * x, cfg.period_sd, n,
                     cfg.period_min, cfg.period_max)
    dp = period - cfg.period_pivot
    a1 = _normal(rng, cfg.a1_0 + cfg.a1_period * dp + cfg.a1_feh * x, cfg.a1_sd, n, cfg.a1_min)
    r21 = _normal(rng, cfg.r21_0 + cfg.r21_a1 * (a1 - cfg.a1_pivot), cfg.r21_sd, n, cfg.r_min)
    r31 = _normal(rng, cfg.r31_0 + cfg.r31_a1 * (a1 - cfg.a1_pivot), cfg.r31_sd, n, cfg.r_min)
    ratios = np.column_stack([np.ones(n), r21, r31] + [f * r31 for f in cfg.higher_over_r31])
    phi31 = _normal(rng, cfg.phi31_0 + cfg.phi31_period * dp + cfg.phi31_feh * x, _phi31_scatter(cfg, label_mode), n)
    phi21 = _normal(rng, cfg.phi21_0 + cfg.phi21_phi31 * phi31, cfg.phi21_sd, n)
    phase = _phases(rng, phi21, phi31)
    feh_rel = relation_feh(cfg.relation, period, phi31)
    feh_error = _feh_error(rng, cfg.feh_error, n)
    ratios, phase = _higher_harmonics(rng, cfg, ratios, phase)
    return Population(
        kind="RRab", feh_true=feh, feh_relation=feh_rel,
        label=feh if label_mode == "spectroscopic" else feh_rel,
        feh_error=feh_error, period=period,
        amp=a1[:, None] * ratios, phase=phase, pf=period, p1_o=_nan(n), **_single_mode(n),
    )


def draw_rrab_copula(rng: np.random.Generator, n: int, cfg: RRabPhysics, label_mode: str) -> Population:
    """RRab whose period and 6-harmonic shape (A1, R21..R61, phi21..phi61) are drawn jointly from
    the Gaussian copula of real DR3 RRab (sim/rrab_shapes.json, bench/fit_shape_copula.py), the
    period kept within [period_min, period_max]. [Fe/H] follows from the shape: the label is the
    P-phi31 relation at the drawn phi31 (photometric mode); the true [Fe/H] is that plus the
    relation's intrinsic scatter (phi31_scatter_* rad through its slope), the spectroscopic label."""
    from rrlfeh.sim.shape_copula import draw

    v = draw(rng, n)
    period = np.clip(v["period"], cfg.period_min, cfg.period_max)
    ratios = np.column_stack([np.ones(n)] + [np.maximum(v[f"R{k}1"], cfg.r_min if k < 4 else 0.0)
                                             for k in range(2, N_HARMONICS + 1)])
    phase = _at_random_phi1(rng, np.column_stack([np.zeros(n)] + [v[f"phi{k}1"] for k in range(2, N_HARMONICS + 1)]))
    feh_rel = relation_feh(cfg.relation, period, v["phi31"])
    feh = feh_rel + cfg.relation.shape_slope * _phi31_scatter(cfg, label_mode) * rng.standard_normal(n)
    return Population(
        kind="RRab", feh_true=feh, feh_relation=feh_rel,
        label=feh if label_mode == "spectroscopic" else feh_rel,
        feh_error=_feh_error(rng, cfg.feh_error, n), period=period,
        amp=np.maximum(v["A1"], cfg.a1_min)[:, None] * ratios, phase=phase, pf=period, p1_o=_nan(n),
        **_single_mode(n),
    )


def _higher_harmonics(rng, cfg: RRabPhysics, ratios: np.ndarray, phase: np.ndarray):
    """R41..R61 and phi41..phi61 varied star to star (drawn last, and only when on: every other
    parameter keeps its value, and with the diversity off the stream is unchanged)."""
    if not (any(cfg.higher_ratio_sd) or any(cfg.higher_phase_offset) or any(cfg.higher_phase_sd)):
        return ratios, phase
    n = len(ratios)
    frac = np.asarray(cfg.higher_over_r31) + np.asarray(cfg.higher_ratio_sd) * rng.standard_normal((n, 3))
    ratios = ratios.copy()
    ratios[:, 3:] = np.maximum(frac, 0.0) * ratios[:, 2:3]
    shift = np.asarray(cfg.higher_phase_offset) + np.asarray(cfg.higher_phase_sd) * rng.standard_normal((n, 3))
    phase = phase.copy()
    phase[:, 3:] = np.mod(phase[:, 3:] + shift, TWO_PI)  # phi_k = phi_k1 + k phi_1: the shift is phi_k1's
    return ratios, phase


def draw_rrc(rng: np.random.Generator, n: int, cfg: RRcPhysics, label_mode: str) -> Population:
    """RRc: [Fe/H] -> P; R21 from the P-R21 relation (+ shape noise in spectroscopic mode); the
    other shape parameters loosely tied to [Fe/H]. The label is the P-R21 relation (photometric)."""
    feh = _feh(rng, cfg.feh, n)
    x = feh - cfg.feh_pivot
    period = _normal(rng, cfg.period_0 + cfg.period_feh * x, cfg.period_sd, n,
                     cfg.period_min, cfg.period_max)
    a1 = _normal(rng, cfg.a1_mean, cfg.a1_sd, n, cfg.a1_min)
    rel = cfg.relation
    scatter = (cfg.r21_scatter_spectroscopic if label_mode == "spectroscopic"
               else cfg.r21_scatter_photometric)
    # R21 from the P-R21 relation solved for R21, plus shape noise, clipped to physical values.
    at_pivot = feh - rel.intercept - rel.period_slope * (period - rel.period_pivot)
    r21_rel = rel.shape_pivot + at_pivot / rel.shape_slope
    r21 = _normal(rng, r21_rel, scatter, n, cfg.r21_min, cfg.r21_max)
    r31 = _normal(rng, cfg.r31_mean, cfg.r31_sd, n, cfg.r31_min)
    higher = [r31 * cfg.higher_decay**j for j in (1, 2, 3)]
    ratios = np.column_stack([np.ones(n), r21, r31, *higher])
    phi21 = _normal(rng, cfg.phi21_mean, cfg.phi21_sd, n)
    phi31 = _normal(rng, cfg.phi31_0 + cfg.phi31_feh * x, cfg.phi31_sd, n)
    phase = _phases(rng, phi21, phi31)
    feh_rel = relation_feh(rel, period, r21)
    return Population(
        kind="RRc", feh_true=feh, feh_relation=feh_rel,
        label=feh if label_mode == "spectroscopic" else feh_rel,
        feh_error=_feh_error(rng, cfg.feh_error, n), period=period,
        amp=a1[:, None] * ratios, phase=phase, pf=_nan(n), p1_o=period, **_single_mode(n),
    )


def draw_rrd(rng: np.random.Generator, n: int, cfg: RRdPhysics, feh_prior: FehPrior) -> Population:
    """Double-mode stars: a nearly sinusoidal first overtone plus a sinusoidal fundamental."""
    feh = _feh(rng, feh_prior, n)
    p1 = _normal(rng, cfg.p1_mean, cfg.p1_sd, n, 0.2, 0.5)
    a_o = _normal(rng, cfg.a1_overtone, cfg.amplitude_sd, n, 0.02)
    a_f = _normal(rng, cfg.a1_fundamental, cfg.amplitude_sd, n, 0.02)
    amp = np.zeros((n, N_HARMONICS))
    amp[:, 0], amp[:, 1] = a_o, 0.1 * a_o
    phase = TWO_PI * rng.random((n, N_HARMONICS))
    p0 = p1 / cfg.period_ratio
    # No photometric relation holds for RRd, so no relation value and no label.
    return Population(
        kind="RRd", feh_true=feh, feh_relation=_nan(n), label=_nan(n), feh_error=_nan(n),
        period=p1, amp=amp, phase=phase, pf=p0, p1_o=p1,
        second_period=p0, second_amp=a_f, second_phase=TWO_PI * rng.random(n),
    )
