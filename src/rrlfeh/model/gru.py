"""The GRU body of Monti et al. (2025): 3 x (GRU -> Dropout), the last GRU returning its final state.

The GRU layers keep the settings cuDNN needs (tanh/sigmoid, no recurrent dropout, reset_after, not
unrolled, no mask), so a GPU runs the fused kernel; on CPU the same graph runs unchanged;
model.fused relies on this exact layout.
"""

from __future__ import annotations

from typing import Any

N_BLOCKS = 3


def gru_body(inputs, hp: dict[str, Any], seed: int, reg):
    """(batch, N, 2) -> (batch, units): hp `units` per layer, hp `dropout` after each."""
    import keras

    units, rate = int(hp["units"]), float(hp["dropout"])
    x = inputs
    for i in range(N_BLOCKS):
        x = keras.layers.GRU(
            units,
            activation="tanh",
            recurrent_activation="sigmoid",
            recurrent_dropout=0.0,
            reset_after=True,
            unroll=False,
            use_bias=True,
            return_sequences=i < N_BLOCKS - 1,
            kernel_regularizer=reg,
            name=f"gru_{i + 1}",
        )(x)
        x = keras.layers.Dropout(rate, seed=seed + i, name=f"dropout_{i + 1}")(x)
    return x
