"""The spectral body: the resampled curve's Fourier coefficients, then a multilayer perceptron.

A fixed (untrained) linear layer takes the discrete Fourier transform of the magnitude channel at
harmonics 1..HARMONICS (the a_k cos + b_k sin coefficients of the standardized curve) and the
period (the time channel is the phase grid times the period, so a linear map reads it). The
phases and amplitude ratios that carry [Fe/H] (phi31, R21) are functions of those coefficients; the
MLP (3 x Dense(4 units, gelu) -> Dropout) learns the relation from them. Nothing here is specific
to a star's sampling: the curve already is the fit of its epochs (preprocess.curve_model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

HARMONICS = 8
LAYERS = 3


def spectral_matrix(n_points: int, harmonics: int = HARMONICS) -> np.ndarray:
    """(2 N, 2 K + 1): the flattened (N, 2) input -> [period, a_1, b_1, ..., a_K, b_K].

    Row 2j is point j's time (phase j/N times the period), row 2j + 1 its magnitude. The period is
    the time channel's sum over sum(j/N); a_k, b_k = (2/N) sum_j m_j cos, sin(2 pi k j / N).
    """
    n = int(n_points)
    k = min(int(harmonics), (n - 1) // 2)
    grid = np.arange(n) / n
    out = np.zeros((2 * n, 2 * k + 1))
    out[0::2, 0] = 1.0 / grid.sum()
    for h in range(1, k + 1):
        out[1::2, 2 * h - 1] = 2.0 / n * np.cos(2 * np.pi * h * grid)
        out[1::2, 2 * h] = 2.0 / n * np.sin(2 * np.pi * h * grid)
    return out


def spectral_body(inputs, hp: dict[str, Any], seed: int, reg):
    """(batch, N, 2) -> (batch, 4 units)."""
    import keras

    units, rate = int(hp["units"]), float(hp["dropout"])
    matrix = spectral_matrix(int(inputs.shape[1]))
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(matrix.shape[1], use_bias=False, trainable=False, name="fourier",
                           kernel_initializer=keras.initializers.Constant(matrix.tolist()))(x)
    for i in range(1, LAYERS + 1):
        x = keras.layers.Dense(4 * units, activation="gelu", kernel_regularizer=reg, name=f"dense_{i}")(x)
        x = keras.layers.Dropout(rate, seed=seed + i, name=f"dropout_{i}")(x)
    return x
