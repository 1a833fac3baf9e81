"""Config of the preprocessing (folding, smoothing spline, resampling, weights)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreprocessConfig:
    # resampled points the GRU sees; the spline has 32 knots, so 64 keep the fitted curve and cost a
    # quarter of the paper's 264 / 265 (docs/BENCHMARKS.md); the paper's values stay params
    n_points_rrab: int = 64
    n_points_rrc: int = 64
    # lam of the periodic smoothing spline: sum (m - f)^2 + lam * int_0^1 f''(phase)^2, magnitudes
    # in mag (the `lam` of scipy's make_smoothing_spline; fixed, no per-curve GCV search)
    smoothing: float = 5e-6
    n_knots: int = 32  # uniform knots of the periodic cubic spline (24-64 fit real DR3 equally)
    min_epochs: int = 12  # floor for a meaningful fit (training and inference cuts are stricter)
    max_phase_gap: float = 0.25  # reject curves with a wider phase gap (unconstrained branch)
    # "errors": each epoch weighs 1 / mag_error^2 (from the archive's flux_over_error) in the curve
    # fit, relative to its star's median; "none": all alike (docs/REAL_STARS.md)
    epoch_weights: str = "errors"
    # "fourier": a Fourier series of at most
    # fourier_harmonics harmonics, fewer where the epochs give fewer than
    # fourier_epochs_per_parameter per parameter (the order of the simulator's oracle and of the
    # real labels' phi31; features/fourier_curve.py, docs/REAL_STARS.md); "spline": the smoothing
    # spline above (what models before issue 21 read)
    curve_model: str = "fourier"
    fourier_harmonics: int = 6
    fourier_epochs_per_parameter: float = 3.0
    kde_alpha: float = 1.0  # weight exponent: w ~ density(feh) ** -alpha
    # no star weighs more than this many times the mean (features.weights.cap_weights)
    kde_max_weight: float = 5.0
    chunk_stars: int = 5000  # stars per chunk when streaming the epoch table
    n_jobs: int = 0  # worker processes; 0 = all cores

    def check(self) -> None:
        if min(self.n_points_rrab, self.n_points_rrc) < 8:
            raise ValueError("n_points_rrab and n_points_rrc must be at least 8")
        if not self.smoothing > 0:
            raise ValueError(f"smoothing must be > 0, got {self.smoothing}")
        if self.n_knots < 8:
            raise ValueError(f"n_knots must be at least 8, got {self.n_knots}")
        if self.min_epochs < 3:
            raise ValueError(f"min_epochs must be at least 3, got {self.min_epochs}")
        if not 0 < self.max_phase_gap <= 1:
            raise ValueError(f"max_phase_gap must be in (0, 1], got {self.max_phase_gap}")
        if not self.kde_max_weight >= 1:
            raise ValueError(f"kde_max_weight must be >= 1 (the mean weight), got {self.kde_max_weight}")
        if self.epoch_weights not in ("errors", "none"):
            raise ValueError(f"epoch_weights must be 'errors' or 'none', got {self.epoch_weights!r}")
        if self.curve_model not in ("spline", "fourier"):
            raise ValueError(f"curve_model must be 'spline' or 'fourier', got {self.curve_model!r}")
        if self.fourier_harmonics < 1 or not self.fourier_epochs_per_parameter > 0:
            raise ValueError("fourier_harmonics must be >= 1 and fourier_epochs_per_parameter > 0, got "
                             f"{self.fourier_harmonics}, {self.fourier_epochs_per_parameter}")
        if self.kde_alpha < 0:
            raise ValueError(f"kde_alpha must be >= 0, got {self.kde_alpha}")
        if self.chunk_stars < 1 or self.n_jobs < 0:
            raise ValueError("chunk_stars must be >= 1 and n_jobs >= 0")

    def n_points(self, star_type: str) -> int:
        t = star_type.lower()
        if t not in ("rrab", "rrc"):
            raise KeyError(star_type)
        return getattr(self, f"n_points_{t}")  # reads only this type's key

    def curve_options(self, star_type: str) -> dict:
        """Keyword arguments of rrlfeh.features.tensors.preprocess_arrays for this type."""
        return {
            "n_points": self.n_points(star_type),
            "smoothing": self.smoothing,
            "min_epochs": self.min_epochs,
            "n_knots": self.n_knots,
            "max_phase_gap": self.max_phase_gap,
            "epoch_weights": self.epoch_weights,
            "curve_model": self.curve_model,
            "fourier_harmonics": self.fourier_harmonics,
            "fourier_epochs_per_parameter": self.fourier_epochs_per_parameter,
        }
