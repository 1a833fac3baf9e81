"""Config of the held-out split, the Hyperband search and the cross-validated training."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SplitConfig:
    test_fraction: float = 0.1
    n_bins: int = 10  # [Fe/H] quantile bins used as strata


@dataclass(frozen=True)
class TuneConfig:
    max_epochs: int = 6
    factor: int = 3
    hyperband_iterations: int = 1
    validation_fraction: float = 0.2
    dropout: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.4, 0.6])
    learning_rate: list[float] = field(default_factory=lambda: [0.001, 0.01, 0.1])
    batch_size: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])
    units: list[int] = field(default_factory=lambda: [16, 32])


@dataclass(frozen=True)
class TrainConfig:
    k_folds: int = 5
    repeats: int = 1
    epochs: int = 30
    patience: int = 5
