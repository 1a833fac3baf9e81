"""The whole of params.yaml as one typed object; each stage gets only its own sections."""

from __future__ import annotations

from dataclasses import dataclass, field

from rrlfeh.config.data import CleanConfig, ExtractConfig, ValidateConfig
from rrlfeh.config.model import FinetuneConfig, FitConfig, ModelConfig, SplitConfig, TrainConfig, TuneConfig
from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.config.serving import PredictConfig, RegisterConfig


@dataclass(frozen=True)
class Params:
    seed: int
    extract: ExtractConfig
    validate: ValidateConfig
    clean: CleanConfig
    preprocess: PreprocessConfig
    split: SplitConfig
    model: ModelConfig
    tune: TuneConfig
    fit: FitConfig
    train: TrainConfig
    register: RegisterConfig
    predict: PredictConfig
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)  # off unless from_model is set
