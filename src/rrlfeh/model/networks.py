"""The regressors (params `model.arch`): a body per family, one head, one optimizer recipe.

- `gru`: the GRU of Monti et al. (2025), 3 x (GRU -> Dropout) (model/gru.py);
- `fcn`: the fully convolutional network the authors compared (model/conv.py);
- `transformer`: self-attention encoder blocks over the resampled phases (model/attention.py);
- `spectral` (the default): the curve's Fourier coefficients (a fixed linear layer), then an MLP
  (model/spectral.py).
Every body reads the same (N, 2) input (days since maximum, standardized magnitude) and ends in
the same head, Dense(1) -> the label Rescaling, so training, the fold ensembles and serving treat
them alike. Backend-neutral Keras 3.
"""

from __future__ import annotations

from typing import Any

from rrlfeh.config.model import ARCHS, HPARAM_DEFAULTS, REG_TYPES


def full_hparams(hp: dict[str, Any]) -> dict[str, Any]:
    """`hp` completed with the defaults, checked; keras-tuner's own `tuner/*` keys are dropped."""
    out = {**HPARAM_DEFAULTS, **{k: v for k, v in hp.items() if k in HPARAM_DEFAULTS and v is not None}}
    if out["arch"] not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {out['arch']!r}")
    if out["reg_type"] not in REG_TYPES:
        raise ValueError(f"reg_type must be one of {REG_TYPES}, got {out['reg_type']!r}")
    if not 0.0 <= float(out["dropout"]) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {out['dropout']}")
    if int(out["units"]) < 1 or int(out["batch_size"]) < 1 or float(out["learning_rate"]) <= 0:
        raise ValueError(f"units, batch_size and learning_rate must be positive, got {out}")
    return out


def label_scale(y) -> tuple[float, float]:
    """(mean, std) of training labels for build_model's `target` (std 1 for a constant target)."""
    import numpy as np

    y = np.asarray(y, dtype="float64")
    std = float(y.std())
    return float(y.mean()), (std if std > 0 else 1.0)


def regularizer(reg_type: str, strength: float):
    import keras

    if reg_type == "none" or strength <= 0:
        return None
    return {
        "l1": lambda: keras.regularizers.L1(strength),
        "l2": lambda: keras.regularizers.L2(strength),
        "l1_l2": lambda: keras.regularizers.L1L2(l1=strength, l2=strength),
    }[reg_type]()


def make_optimizer(hp: dict[str, Any], fit=None, n_train: int = 1, epochs: int = 1):
    """Adam at hp's learning rate, shaped by the fit recipe (params `fit`, config.model.FitConfig).

    Without a recipe: the paper's constant-rate Adam. With one: a linear warm-up to the learning rate
    over `fit.lr_warmup_epochs`, then a cosine decay to `fit.final_lr_fraction` of it at the end of
    the `epochs`-long fit over `n_train` stars at hp's batch size (the rate a noisy validation curve needs to settle, instead of early
    stopping on its noise); gradients clipped to `fit.clipnorm`; AdamW when `fit.weight_decay` > 0;
    an exponential moving average of the weights when `fit.ema_momentum` > 0.
    """
    import keras

    hp = full_hparams(hp)
    lr = float(hp["learning_rate"])
    if fit is None:
        return keras.optimizers.Adam(learning_rate=lr)
    steps_per_epoch = steps_per_epoch_of(n_train, hp)
    total = max(1, steps_per_epoch * int(epochs))
    schedule: Any = lr
    if fit.schedule == "cosine":
        warmup = min(steps_per_epoch * int(fit.lr_warmup_epochs), total - 1)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr * fit.final_lr_fraction if warmup else lr,
            decay_steps=total - warmup, alpha=fit.final_lr_fraction,
            warmup_target=lr if warmup else None, warmup_steps=warmup)
    extra: dict[str, Any] = {}
    if fit.clipnorm > 0:
        extra["global_clipnorm"] = float(fit.clipnorm)
    if fit.ema_momentum > 0:
        extra.update(use_ema=True, ema_momentum=float(fit.ema_momentum))
    if fit.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=float(fit.weight_decay), **extra)
    return keras.optimizers.Adam(learning_rate=schedule, **extra)


def steps_per_epoch_of(n_train: int, hp: dict[str, Any]) -> int:
    """Optimizer steps in one epoch over n_train stars at hp's batch size (the last batch partial)."""
    return max(1, -(-int(n_train) // int(full_hparams(hp)["batch_size"])))


def build_model(n_points: int, hp: dict[str, Any], seed: int, target: tuple[float, float] = (0.0, 1.0),
                optimizer=None):
    """A compiled regressor of hp's `arch` for inputs of shape (n_points, 2) (no mask).

    Kernel regularization (hp reg_type/reg_strength) applies to the body's weight layers and the
    Dense head. `target` = (mean, std) of the training labels: the last layer maps the network's
    standardized output to dex, so training starts at the mean [Fe/H] instead of spending its first
    epochs moving the bias 1.5 dex; the saved model predicts [Fe/H] directly.

    `optimizer`: from make_optimizer (default: constant-rate Adam at hp's learning rate).
    Loss: MSE, weighted by the sample weights given to fit/evaluate. `wmse` is the weighted MSE
    without the regularization penalty, so trials with different regularization compare fairly.
    """
    import keras

    from rrlfeh.model.attention import transformer_body
    from rrlfeh.model.conv import fcn_body
    from rrlfeh.model.gru import gru_body
    from rrlfeh.model.spectral import spectral_body

    hp = full_hparams(hp)
    keras.utils.set_random_seed(int(seed))  # weight initialization and dropout masks
    body = {"gru": gru_body, "fcn": fcn_body, "transformer": transformer_body,
            "spectral": spectral_body}[hp["arch"]]
    reg = regularizer(hp["reg_type"], float(hp["reg_strength"]))
    inputs = keras.Input(shape=(int(n_points), 2), name="curve")
    x = body(inputs, hp, int(seed), reg)
    outputs = keras.layers.Dense(1, activation="linear", name="feh_std", kernel_regularizer=reg)(x)
    mean, std = float(target[0]), float(target[1])
    if not std > 0:
        raise ValueError(f"target std must be positive, got {std}")
    outputs = keras.layers.Rescaling(scale=std, offset=mean, name="feh_dex")(outputs)
    model = keras.Model(inputs, outputs, name=f"{hp['arch']}_feh")
    model.compile(
        optimizer=optimizer if optimizer is not None else make_optimizer(hp),
        loss="mse",
        weighted_metrics=[keras.metrics.MeanSquaredError(name="wmse")],
    )
    return model
