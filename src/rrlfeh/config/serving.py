"""Config of registration (promotion gate) and inference."""

from __future__ import annotations

import math

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegisterConfig:
    model_name: str = "rrl-feh"
    tolerance: float = 0.0  # challenger wRMSE may exceed champion's by this much and still win

    def check(self) -> None:
        if not self.model_name.strip():
            raise ValueError("model_name must not be empty")
        if not 0 <= self.tolerance < float("inf"):  # .inf would promote any challenger
            raise ValueError(f"tolerance must be a finite number >= 0, got {self.tolerance}")


@dataclass(frozen=True)
class PredictConfig:
    min_epochs: int = 20  # inference threshold, below the training cut
    ensemble_size: int = 0  # fold models used per type; 0 = all
    batch_size: int = 4096
    warmup: bool = True  # trace each fold network at model load, so the first request is fast
    # feh_error = hypot(error_scale x the models' own uncertainty, extra_error): the
    # simulation-to-real terms, set on the real calibration half (bench/real_stars.py). A scale keeps
    # the own term's per-star information (fold scatter, epochs), which predicts real residuals
    # (docs/REAL_STARS.md, "Uncertainty"); extra_error (dex) is a floor in quadrature
    # (params.yaml sets the calibrated error_scale and extra_error_out_of_range; these neutral
    # defaults are what a served model logged before those keys existed gets, so its feh_error
    # stays what it was: tests/unit/test_config.py holds params.yaml to the defaults but for them)
    error_scale: float = 1.0
    extra_error: float = 0.0
    # dex, in quadrature on top of extra_error for a star flagged out_of_range: flagged real stars
    # miss by 4-5x more than the rest (docs/REAL_STARS.md), and one term for all would inflate
    # the unflagged stars' intervals to cover the flagged ones
    extra_error_out_of_range: float = 0.0
    # how the served model weighs a star's epochs in its spline fit: "errors" (1 / mag_error^2, as
    # preprocess.epoch_weights describes), "none" (alike), or "" (as its training tensors were
    # fitted: preprocess.epoch_weights in its manifest). params.yaml sets "errors": real magnitude
    # errors flag bad transits, simulated ones do not (docs/REAL_STARS.md); "" is what a model
    # logged before this key existed gets, so its answers stay what they were
    epoch_weights: str = ""
    # what an impossible star is (serving/sanity.py, whose Bounds default to these), for the served
    # model and `rrlfeh predict`. Times in BJD(TCB) - 2455197.5 d: DR3 spans 1666-2704, DR4-like
    # spans reach 3672; periods in days (RR Lyrae pulsate in 0.2-1.2 d); G mags (validate.mag_max is
    # 25 too)
    time_window: list[float] = field(default_factory=lambda: [1500.0, 4000.0])
    period_range: list[float] = field(default_factory=lambda: [0.1, 1.5])
    mag_range: list[float] = field(default_factory=lambda: [1.0, 25.0])
    # `rrlfeh predict` (batch inference) only:
    chunk_stars: int = 5000  # stars per streamed chunk of epoch photometry (bounds memory)
    n_jobs: int = 0  # worker processes, each with its own copy of the model; 0 = all cores
    spark_master: str = "local[*]"  # Spark master for --engine spark

    def check(self) -> None:
        if self.min_epochs < 1 or self.ensemble_size < 0 or self.batch_size < 1:
            raise ValueError(
                "min_epochs and batch_size must be >= 1, ensemble_size >= 0 (0 = all), got "
                f"{self.min_epochs}, {self.batch_size}, {self.ensemble_size}"
            )
        if not 0 < self.error_scale < 100:
            raise ValueError(f"error_scale must be in (0, 100), got {self.error_scale}")
        if self.epoch_weights not in ("", "errors", "none"):
            raise ValueError(f"epoch_weights must be 'errors', 'none' or '' (as trained), got {self.epoch_weights!r}")
        for key in ("extra_error", "extra_error_out_of_range"):
            if not 0 <= getattr(self, key) < 10:
                raise ValueError(f"{key} must be in [0, 10) dex, got {getattr(self, key)}")
        for key in ("time_window", "period_range", "mag_range"):
            _check_range(key, getattr(self, key))
        if self.chunk_stars < 1 or self.n_jobs < 0:
            raise ValueError(f"chunk_stars must be >= 1 and n_jobs >= 0 (0 = all cores), "
                             f"got {self.chunk_stars}, {self.n_jobs}")


def _check_range(name: str, value) -> None:
    """Two finite numbers, low < high (ValueError naming the key)."""
    v = list(value)
    if len(v) != 2 or not all(math.isfinite(float(x)) for x in v) or not float(v[0]) < float(v[1]):
        raise ValueError(f"{name} must be two finite numbers [low, high] with low < high, got {value}")
