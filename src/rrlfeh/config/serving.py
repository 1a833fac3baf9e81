"""Config of registration (promotion gate) and inference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterConfig:
    model_name: str = "rrl-feh"
    tolerance: float = 0.0  # challenger wRMSE may exceed champion's by this much and still win


@dataclass(frozen=True)
class PredictConfig:
    min_epochs: int = 20  # inference threshold, below the training cut
    ensemble_size: int = 0  # fold models used per type; 0 = all
    batch_size: int = 4096
