"""The attention body: a transformer encoder over the resampled phases.

A circular Conv1D stem (kernel 5) embeds each phase with its neighbours in hp `units` channels;
the time channel (days since maximum, growing along the sequence) gives the attention the order
of the points and the period. Then BLOCKS pre-norm encoder blocks (multi-head self-attention over
all N phases, a 2x-wide feed-forward, residual connections), a final LayerNorm, global average
pooling and dropout.
"""

from __future__ import annotations

from typing import Any

from rrlfeh.model.conv import circular_pad

BLOCKS = 2
HEADS = 4
STEM_KERNEL = 5


def transformer_body(inputs, hp: dict[str, Any], seed: int, reg):
    """(batch, N, 2) -> (batch, units)."""
    import keras

    units, rate = int(hp["units"]), float(hp["dropout"])
    x = circular_pad(inputs, STEM_KERNEL, "stem")
    x = keras.layers.Conv1D(units, STEM_KERNEL, padding="valid", kernel_regularizer=reg, name="stem")(x)
    for i in range(1, BLOCKS + 1):
        h = keras.layers.LayerNormalization(name=f"block_{i}_norm_1")(x)
        h = keras.layers.MultiHeadAttention(HEADS, max(1, units // HEADS), dropout=rate, seed=seed + i,
                                            kernel_regularizer=reg, name=f"block_{i}_attention")(h, h)
        x = keras.layers.Add(name=f"block_{i}_add_1")([x, h])
        h = keras.layers.LayerNormalization(name=f"block_{i}_norm_2")(x)
        h = keras.layers.Dense(2 * units, activation="gelu", kernel_regularizer=reg, name=f"block_{i}_ff_1")(h)
        h = keras.layers.Dense(units, kernel_regularizer=reg, name=f"block_{i}_ff_2")(h)
        x = keras.layers.Add(name=f"block_{i}_add_2")([x, h])
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.layers.Dropout(rate, seed=seed, name="dropout")(x)
