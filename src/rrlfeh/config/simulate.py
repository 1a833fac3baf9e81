"""Config of the simulator (docs/SIMULATOR.md): every coefficient of the spec is a param here.

Laws are written as in the spec, e.g.
P = period_0 + period_feh ([Fe/H] - feh_pivot) + N(0, period_sd), so params.yaml reads like
SIMULATOR.md. `SimulateConfig` itself lives in rrlfeh.config.data.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class Sizes:
    """Stars simulated per type (before any cut)."""

    n_rrab: int
    n_rrc: int
    n_rrd: int


@dataclass(frozen=True)
class FehPrior:
    """[Fe/H] ~ N(mean, sd) clipped to [min, max]."""

    mean: float = -1.55
    sd: float = 0.45
    min: float = -2.8
    max: float = 0.2

    def check(self) -> None:
        _require(self.sd >= 0 and self.min < self.max, "feh prior needs sd >= 0 and min < max")


@dataclass(frozen=True)
class FehError:
    """Catalogue uncertainty reported beside a label: N(mean, sd) clipped to [min, max]."""

    mean: float = 0.35
    sd: float = 0.03
    min: float = 0.28
    max: float = 0.45

    def check(self) -> None:
        _require(self.sd >= 0 and 0 < self.min <= self.max,
                 "feh_error needs sd >= 0 and 0 < min <= max")


@dataclass(frozen=True)
class Relation:
    """Photometric relation [Fe/H] = intercept + period_slope (P - period_pivot)
    + shape_slope (S - shape_pivot); S is phi31 for RRab, R21 for RRc."""

    intercept: float
    period_slope: float
    period_pivot: float
    shape_slope: float
    shape_pivot: float

    def check(self) -> None:
        _require(self.shape_slope != 0, "relation.shape_slope must be non-zero")


@dataclass(frozen=True)
class RRabPhysics:
    """RRab laws of SIMULATOR.md (pivots: P 0.6 d, [Fe/H] -1.5, A1 0.26 mag)."""

    # fitted to the real DR3 RRab of the calibration half (docs/SIMULATOR.md)
    # copula (the default since issue 21): P and the shape are drawn jointly
    # from real DR3 RRab (sim/rrab_shapes.json) and [Fe/H] follows from the relation (the laws below
    # then set only the period range, a1_min, r_min, feh_error and the relation); laws: the laws below
    # draw [Fe/H] and then the shape (docs/SIMULATOR.md)
    shapes: str = "copula"
    feh: FehPrior = field(default_factory=lambda: FehPrior(mean=-1.52, sd=0.41))
    feh_error: FehError = field(default_factory=FehError)
    feh_pivot: float = -1.5
    period_pivot: float = 0.6
    period_0: float = 0.580
    period_feh: float = -0.119
    period_sd: float = 0.075
    period_min: float = 0.40
    period_max: float = 0.95
    a1_0: float = 0.262
    a1_period: float = -0.858
    a1_feh: float = -0.116
    a1_sd: float = 0.05
    a1_min: float = 0.03  # keeps the Bailey-diagram tail physical (positive amplitudes)
    a1_pivot: float = 0.26
    r21_0: float = 0.454
    r21_a1: float = 0.448
    r21_sd: float = 0.04
    r31_0: float = 0.284
    r31_a1: float = 0.627
    r31_sd: float = 0.04
    r_min: float = 0.01  # lower clip of R21 and R31
    # R41, R51, R61 as fractions of R31
    higher_over_r31: list[float] = field(default_factory=lambda: [0.60, 0.36, 0.21])
    # star-to-star diversity of the higher harmonics (k = 4, 5, 6; 0 = none): N(0, sd) added to the
    # fractions above, and offset + N(0, sd) rad added to phi_k1 beyond its progression from
    # phi21 and phi31 (the labels' phi31 is untouched); bench/sim_real_gap.py, docs/SIMULATOR.md
    higher_ratio_sd: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    higher_phase_offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    higher_phase_sd: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    phi31_0: float = 2.343
    phi31_period: float = 6.25
    phi31_feh: float = 1.174
    phi31_scatter_photometric: float = 0.0  # shape noise (rad) per label mode
    phi31_scatter_spectroscopic: float = 0.3
    phi21_0: float = 3.120
    phi21_phi31: float = 0.448
    phi21_sd: float = 0.1
    relation: Relation = field(
        default_factory=lambda: Relation(-1.537, -5.329, 0.6, 0.852, 2.3)
    )

    def check(self) -> None:
        _require(self.shapes in ("laws", "copula"), f"rrab.shapes must be 'laws' or 'copula', got {self.shapes!r}")
        _require(self.period_min < self.period_max, "rrab.period_min must be < period_max")
        _require(0 < self.a1_min, "rrab.a1_min must be > 0")
        _require(len(self.higher_over_r31) == 3, "rrab.higher_over_r31 needs R41, R51, R61 / R31")
        for name in ("higher_ratio_sd", "higher_phase_offset", "higher_phase_sd"):
            _require(len(getattr(self, name)) == 3, f"rrab.{name} needs three values (k = 4, 5, 6)")
        _require(min(self.higher_ratio_sd) >= 0 and min(self.higher_phase_sd) >= 0,
                 "rrab.higher_ratio_sd and higher_phase_sd must be >= 0")


@dataclass(frozen=True)
class RRcPhysics:
    """RRc laws of SIMULATOR.md; R21 comes from the P-R21 relation, inverted."""

    feh: FehPrior = field(default_factory=FehPrior)
    feh_error: FehError = field(default_factory=lambda: FehError(0.33, 0.015, 0.30, 0.36))
    feh_pivot: float = -1.5
    period_0: float = 0.325
    period_feh: float = -0.05
    period_sd: float = 0.03
    period_min: float = 0.2
    period_max: float = 0.45
    a1_mean: float = 0.19
    a1_sd: float = 0.035
    a1_min: float = 0.03
    # the inverted relation goes negative for metal-rich, short-period stars: clipped (~9%)
    r21_min: float = 0.01
    r21_max: float = 0.6
    r21_scatter_photometric: float = 0.0  # shape noise per label mode (0.05 in R21 ~ 0.25 dex)
    r21_scatter_spectroscopic: float = 0.05
    r31_mean: float = 0.08
    r31_sd: float = 0.035
    r31_min: float = 0.005
    higher_decay: float = 0.4  # R41 = decay R31, R51 = decay R41, ...
    phi21_mean: float = 4.7
    phi21_sd: float = 0.4
    phi31_0: float = 3.1
    phi31_feh: float = 0.4
    phi31_sd: float = 0.4
    relation: Relation = field(
        default_factory=lambda: Relation(-1.737, -9.968, 0.3, -5.041, 0.2)
    )

    def check(self) -> None:
        _require(self.period_min < self.period_max, "rrc.period_min must be < period_max")
        _require(0 < self.r21_min < self.r21_max, "rrc needs 0 < r21_min < r21_max")


@dataclass(frozen=True)
class RRdPhysics:
    """Double-mode stars, only so the clean stage has a type to drop: RRc-like first overtone
    plus a sinusoidal fundamental at P1/P0 = period_ratio."""

    p1_mean: float = 0.36
    p1_sd: float = 0.02
    period_ratio: float = 0.745
    a1_overtone: float = 0.15
    a1_fundamental: float = 0.10
    amplitude_sd: float = 0.02


@dataclass(frozen=True)
class Sampling:
    """Gaia DR3-like G epochs: lognormal counts, visits of 1-4 spins of 1-2 FoV transits."""

    time_start: float = 1666.4  # BJD(TCB) - 2455197.5
    time_end: float = 2704.4
    epochs_median: float = 45.0
    epochs_sigma_ln: float = 0.35
    epochs_min: int = 12
    epochs_max: int = 260
    max_spins_per_visit: int = 4
    spin_interval: float = 0.25  # d, Gaia's 6 h spin
    fov_interval: float = 0.0740  # d, 106.5 min between the two fields of view
    second_fov_probability: float = 0.5
    rejected_fraction: float = 0.02  # transits flagged rejected_by_variability
    outlier_sd: float = 0.2  # mag; flagged transits are outliers, which is why they are flagged
    g0_mean: float = 17.0
    g0_sd: float = 1.2
    g0_min: float = 13.0
    g0_max: float = 20.0
    # Real curves scatter around their smooth fit far beyond their reported errors, most on the
    # rising branch (docs/SIMULATOR.md, "Calibration on real DR3 curves"): each transit's phase is
    # shifted by N(0, phase_jitter k) cycles and its amplitude scaled by 1 + N(0, amplitude_jitter k),
    # k ~ lognormal(0, jitter_sigma_ln) per star (cycle-to-cycle and Blazhko-like modulation).
    phase_jitter: float = 0.010  # cycles; 0 = the curve repeats exactly
    amplitude_jitter: float = 0.025  # fraction of the pulsation amplitude
    jitter_sigma_ln: float = 0.7
    clean_outlier_fraction: float = 0.0  # unflagged transits that are outliers (N(0, outlier_sd))

    def check(self) -> None:
        _require(self.time_start < self.time_end, "sampling.time_start must be < time_end")
        _require(min(self.phase_jitter, self.amplitude_jitter, self.jitter_sigma_ln) >= 0,
                 "sampling.phase_jitter, amplitude_jitter and jitter_sigma_ln must be >= 0")
        _require(0 <= self.clean_outlier_fraction < 1,
                 "sampling.clean_outlier_fraction must be in [0, 1)")
        _require(1 <= self.epochs_min <= self.epochs_max,
                 "sampling needs 1 <= epochs_min <= epochs_max")
        _require(0 <= self.rejected_fraction < 1, "sampling.rejected_fraction must be in [0, 1)")


@dataclass(frozen=True)
class Noise:
    """Per-transit G error: sigma = scale sqrt(c2 z^2 + c1 z + c0) * factor (+) floor in quadrature,
    z = 10^(0.4 (max(G, g_bright) - g_pivot)); flux from mag with the G zero point."""

    scale: float = 1.2e-3
    c2: float = 0.04895
    c1: float = 1.8633
    c0: float = 0.0001985
    g_bright: float = 12.0
    g_pivot: float = 15.0
    factor: float = 1.5
    floor: float = 0.003
    zero_point_g: float = 25.6874


@dataclass(frozen=True)
class Photometry:
    """BP and RP rows: the G curve shifted and scaled, noisier by error_scale."""

    write_bp_rp: bool = True
    bp_offset: float = 0.25
    bp_amplitude_ratio: float = 1.25
    rp_offset: float = -0.45
    rp_amplitude_ratio: float = 0.80
    bp_rp_error_scale: float = 3.0
    zero_point_bp: float = 25.3385
    zero_point_rp: float = 24.7479
    solution_id: int = 375316653866487564


@dataclass(frozen=True)
class Sky:
    """Positions: an isotropic halo plus a disk share with a Laplace latitude profile."""

    disk_fraction: float = 0.2
    disk_scale_height_deg: float = 6.0

    def check(self) -> None:
        _require(0 <= self.disk_fraction <= 1, "sky.disk_fraction must be in [0, 1]")


@dataclass(frozen=True)
class Fitting:
    """Fourier fits of the noisy clean epochs: the SOS-like catalogue columns and the oracle.
    Fewer harmonics when epochs are few: K <= (n_epochs / epochs_per_parameter - 1) / 2."""

    catalogue_harmonics: int = 6
    oracle_harmonics_rrab: int = 6  # the simulated curves have 6: fewer bias phi31
    oracle_harmonics_rrc: int = 4
    epochs_per_parameter: float = 3.0
    grid_points: int = 512  # phase grid for maximum light, peak-to-peak and intensity mean
    chunk_stars: int = 4000  # stars per batched least-squares solve (bounds memory)

    def check(self) -> None:
        _require(self.catalogue_harmonics >= 3, "fitting.catalogue_harmonics must be >= 3 (phi31)")
        _require(self.epochs_per_parameter > 0, "fitting.epochs_per_parameter must be > 0")
