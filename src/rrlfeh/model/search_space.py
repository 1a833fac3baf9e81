"""The Hyperband search space (from params `tune.*`) as a keras-tuner HyperModel."""

from __future__ import annotations

import keras_tuner as kt

from rrlfeh.config.model import FitConfig, TuneConfig
from rrlfeh.model.networks import build_model, make_optimizer, steps_per_epoch_of

# the keys a trial's hyperparameters share with build_model's `hp`
HP_KEYS = ("units", "dropout", "learning_rate", "reg_type", "reg_strength", "batch_size")


class RegressorHyperModel(kt.HyperModel):
    """Builds the `arch` network (params model.arch) for one trial's hyperparameters; batch size is
    tuned in `fit`. The family is fixed per search, not searched: each is tuned on its own.

    Every trial's learning-rate schedule spans the search horizon (`tune.max_epochs`), the fit
    recipe of the CV folds compressed to it: a trial Hyperband stops at round r has followed the
    first part of that schedule, and the next round continues it where it stopped.
    """

    def __init__(self, n_points: int, space: TuneConfig, seed: int, target: tuple[float, float] = (0.0, 1.0),
                 fit: FitConfig | None = None, n_train: int = 1, arch: str = "gru"):
        super().__init__(name=f"{arch}_feh", tunable=True)
        self.arch = arch
        self.n_points = int(n_points)
        self.space = space
        self.seed = int(seed)
        self.target = target  # (mean, std) of the training labels
        self.fit_config = fit
        self.n_train = int(n_train)

    def declare(self, hp: kt.HyperParameters) -> dict:
        s = self.space
        regularized = [t for t in s.reg_type if t != "none"]
        values = {
            "units": hp.Choice("units", list(s.units)),
            "dropout": hp.Choice("dropout", list(s.dropout)),
            "learning_rate": hp.Choice("learning_rate", list(s.learning_rate)),
            "reg_type": hp.Choice("reg_type", list(s.reg_type)),
            "batch_size": hp.Choice("batch_size", list(s.batch_size)),
        }
        # the strength only matters (and is only searched) when a regularizer is on
        values["reg_strength"] = (
            hp.Choice("reg_strength", list(s.reg_strength), parent_name="reg_type", parent_values=regularized)
            if regularized else None
        )
        return values

    def build(self, hp: kt.HyperParameters):
        values = {**self.declare(hp), "arch": self.arch}
        optimizer = make_optimizer(values, self.fit_config, self.n_train, self.space.max_epochs)
        return build_model(self.n_points, values, seed=self.seed, target=self.target, optimizer=optimizer)

    def fit(self, hp: kt.HyperParameters, model, *args, **kwargs):
        # a continued Hyperband round starts a new optimizer: put its schedule where the last stopped
        start = int(kwargs.get("initial_epoch", 0) or 0)
        if start:
            model.optimizer.iterations.assign(start * steps_per_epoch_of(self.n_train, {"batch_size": hp.get("batch_size")}))
        return model.fit(*args, batch_size=int(hp.get("batch_size")), **kwargs)


def trial_hparams(values: dict, arch: str) -> dict:
    """build_model's hp from a trial's values and the search's arch (drops `tuner/*`, fills
    inactive reg_strength)."""
    out = {"arch": arch, **{k: values[k] for k in HP_KEYS if values.get(k) is not None}}
    if out.get("reg_type", "none") == "none":
        out["reg_strength"] = 0.0
    return out
