"""Config of the preprocessing (folding, smoothing spline, resampling, weights)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PreprocessConfig:
    n_points_rrab: int = 264
    n_points_rrc: int = 265
    smoothing: float = 1e-4  # fixed smoothing strength of the spline (no per-curve GCV search)
    kde_alpha: float = 1.0  # weight exponent: w ~ density(feh) ** -alpha
    chunk_stars: int = 5000  # stars per chunk when streaming the epoch table
    n_jobs: int = 0  # worker processes; 0 = all cores

    def n_points(self, star_type: str) -> int:
        return {"rrab": self.n_points_rrab, "rrc": self.n_points_rrc}[star_type.lower()]
