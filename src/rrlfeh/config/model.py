"""Config of the held-out split, the Hyperband search and the cross-validated training."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# The hyperparameters a model is built with where best_hparams.json (or a base model's manifest)
# lacks a key: the paper's (Adam lr 0.01, batch 256); model.networks.full_hparams completes with them.
HPARAM_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "arch": "gru",  # a model made before model.arch existed is a GRU
    "units": 32,
    "dropout": 0.2,
    "learning_rate": 0.01,
    "reg_type": "none",
    "reg_strength": 0.0,
    "batch_size": 256,
})
REG_TYPES = ("none", "l1", "l2", "l1_l2")  # kernel regularizations of the body's and the head's weights
ARCHS = ("gru", "fcn", "transformer", "spectral")  # model.arch: the network families (model/networks.py)


@dataclass(frozen=True)
class ModelConfig:
    """The network family every stage trains (tune searches its hyperparameters, train its folds)."""

    # spectral | gru (the paper's) | fcn | transformer (model/networks.py); docs/BENCHMARKS.md compares
    # them and says why spectral is the default
    arch: str = "spectral"

    def check(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")


@dataclass(frozen=True)
class SplitConfig:
    test_fraction: float = 0.1  # stars set aside before tuning and CV, scored once at the end
    n_bins: int = 10  # [Fe/H] quantile bins used as strata

    def check(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"split.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.n_bins < 1:
            raise ValueError(f"split.n_bins must be >= 1, got {self.n_bins}")


@dataclass(frozen=True)
class TuneConfig:
    """keras-tuner Hyperband: the budget (epochs per model, halving factor, sweeps) and the space."""

    max_epochs: int = 60
    factor: int = 3
    # the shortest Hyperband round (capped at max_epochs): brackets whose first round would train
    # fewer epochs are skipped (keras-tuner's oracle min_epochs), so no trial is ranked on the GRU's
    # early plateau
    min_epochs: int = 20
    hyperband_iterations: int = 1
    validation_fraction: float = 0.2  # stratified hold-out of the development set (the objective)
    dropout: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2])
    learning_rate: list[float] = field(default_factory=lambda: [0.001, 0.003, 0.01])
    batch_size: list[int] = field(default_factory=lambda: [32, 64, 128])
    units: list[int] = field(default_factory=lambda: [32])
    reg_type: list[str] = field(default_factory=lambda: ["none", "l2"])
    reg_strength: list[float] = field(default_factory=lambda: [1.0e-5, 1.0e-4])
    # trials at once, one keras-tuner worker process each under a chief (1: one process, no chief;
    # 0: one per core). Operational: the same trials, hyperparameters and scores (docs/BENCHMARKS.md);
    # on 2 cores two workers finish the default search 1.55x sooner than one process
    workers: int = 0

    def check(self) -> None:
        if self.workers < 0:
            raise ValueError(f"tune.workers must be >= 0 (0 = one per core), got {self.workers}")
        if self.max_epochs < 1 or self.factor < 2 or self.hyperband_iterations < 1:
            raise ValueError("tune: max_epochs >= 1, factor >= 2, hyperband_iterations >= 1 required")
        if self.min_epochs < 1:
            raise ValueError(f"tune.min_epochs must be >= 1, got {self.min_epochs}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"tune.validation_fraction must be in (0, 1), got {self.validation_fraction}")
        for name in ("dropout", "learning_rate", "batch_size", "units", "reg_type", "reg_strength"):
            if not getattr(self, name):
                raise ValueError(f"tune.{name}: the search space needs at least one value")
        if any(not 0.0 <= d < 1.0 for d in self.dropout):
            raise ValueError(f"tune.dropout values must be in [0, 1), got {self.dropout}")
        if any(v <= 0 for v in [*self.learning_rate, *self.batch_size, *self.units]):
            raise ValueError("tune.learning_rate, batch_size and units must be positive")
        bad = sorted(set(self.reg_type) - set(REG_TYPES))
        if bad:
            raise ValueError(f"tune.reg_type: unknown {bad}; allowed {', '.join(REG_TYPES)}")
        if any(s < 0 for s in self.reg_strength):
            raise ValueError(f"tune.reg_strength must be >= 0, got {self.reg_strength}")


@dataclass(frozen=True)
class FitConfig:
    """How every network is optimized, in Hyperband trials and CV folds alike (model.networks.make_optimizer).

    `schedule: constant` with clipnorm 0 is the paper's plain Adam; the default (warm-up + cosine
    decay, clipping at global norm 1) is what made the GRU converge (docs/BENCHMARKS.md).
    """

    schedule: str = "cosine"  # cosine (warm-up, then cosine decay over the fit) | constant (the paper's)
    lr_warmup_epochs: int = 5  # linear warm-up of the learning rate (cosine only)
    final_lr_fraction: float = 0.02  # the rate at the end of the fit, as a fraction of the peak
    clipnorm: float = 1.0  # clip gradients to this global norm; 0 = off
    weight_decay: float = 0.0  # > 0: AdamW with this decoupled weight decay; 0: Adam
    ema_momentum: float = 0.0  # > 0: the fit ends on an exponential moving average of the weights
    # Keras backend of the tune and train stages (KERAS_BACKEND in the environment wins); the saved
    # fold models load and predict the same under either, and serving runs them on TensorFlow
    backend: str = "jax"

    def check(self) -> None:
        if self.backend not in ("jax", "tensorflow"):
            raise ValueError(f"fit.backend must be jax or tensorflow, got {self.backend!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"fit.schedule must be cosine or constant, got {self.schedule!r}")
        if self.lr_warmup_epochs < 0 or not 0.0 < self.final_lr_fraction <= 1.0:
            raise ValueError("fit: lr_warmup_epochs >= 0 and final_lr_fraction in (0, 1] required")
        if self.clipnorm < 0 or self.weight_decay < 0 or not 0.0 <= self.ema_momentum < 1.0:
            raise ValueError("fit: clipnorm >= 0, weight_decay >= 0 and ema_momentum in [0, 1) required")


@dataclass(frozen=True)
class TrainConfig:
    """Repeated stratified K-fold CV; each fold trains every epoch of its cosine schedule (or, with
    patience > 0, until its validation loss stops improving)."""

    k_folds: int = 5
    repeats: int = 1
    epochs: int = 200  # per fold (at most, with early stopping)
    # early stopping on the validation fold's weighted MSE, best weights restored; 0 = none: every
    # fold trains all `epochs` and keeps its final weights (a cosine schedule converges by then, and
    # no fold's validation stars choose its weights, so out-of-fold scores stay honest)
    patience: int = 0
    # the GRU's validation loss sits on a plateau for its first ~10-20 epochs: early stopping (and the
    # choice of best weights) starts after this many
    warmup_epochs: int = 15
    # folds trained at once, each in its own process; 0 = one per core (at most one per fold)
    n_jobs: int = 0
    # serving flags a star out_of_range where its fold scatter or curve shape lies beyond this
    # quantile of the training stars' (or its period or amplitude outside their full span); the
    # phase gap's quantile is recorded in the manifest, not flagged (model/applicability.py,
    # docs/REAL_STARS.md: chosen on the calibration half)
    range_quantile: float = 0.99
    shape_components: int = 8  # principal components of the training curves for the shape distance

    def check(self) -> None:
        if not 0.5 < self.range_quantile <= 1:
            raise ValueError(f"train: range_quantile must be in (0.5, 1], got {self.range_quantile}")
        if self.shape_components < 1:
            raise ValueError(f"train: shape_components >= 1 required, got {self.shape_components}")
        if self.n_jobs < 0:
            raise ValueError(f"train: n_jobs >= 0 required (0 = one per core), got {self.n_jobs}")
        if self.k_folds < 2 or self.repeats < 1:
            raise ValueError(f"train: k_folds >= 2 and repeats >= 1 required, got {self.k_folds}, {self.repeats}")
        if self.epochs < 1 or self.patience < 0 or self.warmup_epochs < 0:
            raise ValueError("train: epochs >= 1, patience >= 0 and warmup_epochs >= 0 required, got "
                             f"{self.epochs}, {self.patience}, {self.warmup_epochs}")


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning on real labels: each fold starts from a trained model's fold (same index, cycled)
    instead of random weights, and trains `epochs` epochs at `learning_rate_scale` of the tuned
    rate (docs/REAL_STARS.md). The base model's hyperparameters replace the tuned ones (the weights
    must fit the network)."""

    from_model: str = ""  # models:/name@alias, models:/name/version or a models/ folder; "" = from scratch
    epochs: int = 60
    learning_rate_scale: float = 0.1

    def check(self) -> None:
        if self.epochs < 1 or not 0 < self.learning_rate_scale <= 1:
            raise ValueError("finetune: epochs >= 1 and 0 < learning_rate_scale <= 1 required, got "
                             f"{self.epochs}, {self.learning_rate_scale}")
