"""The fully convolutional body (FCN, Wang et al. 2017), one of the families Monti et al. compared.

Three Conv1D -> BatchNorm -> ReLU blocks (kernels 8, 5, 3; filters 4, 8 and 4 times hp `units`, the
FCN's 128-256-128 at 32), global average pooling, dropout. The phases wrap (phase 1 is phase 0):
each block pads the sequence circularly before a `valid` convolution, so the first and last
resampled points are neighbours, as on the star.
"""

from __future__ import annotations

from typing import Any

KERNELS = (8, 5, 3)
WIDTHS = (4, 8, 4)  # filters per block, in units of hp `units`


def circular_pad(x, width: int, name: str):
    """(batch, N, C) -> (batch, N + width - 1, C): the sequence continued periodically, so a
    `valid` convolution of kernel `width` returns N points."""
    import keras

    left, right = (width - 1) // 2, width // 2
    parts = ([keras.layers.Cropping1D((x.shape[1] - left, 0), name=f"{name}_wrap_left")(x)] if left else [])
    parts += [x]
    parts += ([keras.layers.Cropping1D((0, x.shape[1] - right), name=f"{name}_wrap_right")(x)] if right else [])
    return keras.layers.Concatenate(axis=1, name=f"{name}_wrap")(parts) if len(parts) > 1 else x


def fcn_body(inputs, hp: dict[str, Any], seed: int, reg):
    """(batch, N, 2) -> (batch, 4 units)."""
    import keras

    units, rate = int(hp["units"]), float(hp["dropout"])
    x = inputs
    for i, (kernel, width) in enumerate(zip(KERNELS, WIDTHS), start=1):
        x = circular_pad(x, kernel, f"conv_{i}")
        x = keras.layers.Conv1D(width * units, kernel, padding="valid", kernel_regularizer=reg,
                                name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"conv_{i}_norm")(x)
        x = keras.layers.Activation("relu", name=f"conv_{i}_relu")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.layers.Dropout(rate, seed=seed, name="dropout")(x)
