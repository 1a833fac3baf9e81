"""The K fold models of one type as one network: one call per batch gives all K estimates.

Two ways for the GRU (model.arch gru), both inference only (dropout is off at inference anyway), built from stock Keras layers
(they run on any backend without custom code), both giving the fold models' answers:

- `fuse`: each GRU layer holds the K fold GRUs side by side, its kernels block diagonal (fold k's
  units only see fold k's units and, in the first layer, the shared input), so gate by gate it
  computes exactly what the K separate GRUs compute. The last Dense layer maps fold k's final state
  to column k, each fold's Rescaling (label mean and std) folded into its weights. 3 recurrent layers
  instead of 3K: the fewest sequential steps, so the lowest latency for a few stars; but its kernels
  are K times larger, mostly zeros, which costs at large batches.
- `stack`: the K fold networks as K parallel branches of one model, outputs concatenated: no zero
  blocks, so the highest throughput at large batches. The other families (spectral, fcn,
  transformer) are served by `stack` alone, each fold network a branch as it is.
"""

from __future__ import annotations

import numpy as np

GATES = 3  # z, r, h: the column blocks of a Keras GRU kernel (reset_after)


def _gru_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.GRU)]


def _check_gru_regressor(model) -> None:
    """ValueError unless `model` is exactly model.gru's architecture: (GRU, Dropout) blocks, the
    Dense head `feh_std`, optionally the label Rescaling `feh_dex`; anything else (an added layer,
    a changed activation) would be silently dropped by `fuse`."""
    import keras

    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    kinds = [type(la).__name__ for la in layers]
    n = kinds.count("GRU")
    scaled = kinds[-1:] == ["Rescaling"]
    expected = ["GRU", "Dropout"] * n + ["Dense"] + (["Rescaling"] if scaled else [])
    if (kinds != expected or layers[2 * n].name != "feh_std" or int(layers[2 * n].units) != 1
            or (scaled and layers[-1].name != "feh_dex")):
        raise ValueError(f"{model.name}: not a GRU regressor of model.gru (layers "
                         f"{[la.name for la in layers]})")
    for gru in layers[0:2 * n:2]:
        cfg = gru.get_config()
        if (cfg["activation"], cfg["recurrent_activation"]) != ("tanh", "sigmoid") or not cfg["use_bias"]:
            raise ValueError(f"{model.name}: GRU {gru.name} differs from model.gru's")


def _check_same_shape(models: list) -> tuple[int, int, int]:
    """(n_points, units, layers) shared by all fold models; ValueError where they differ."""
    if not models:
        raise ValueError("no fold models to fuse")
    shapes = set()
    for m in models:
        grus = _gru_layers(m)
        if not grus or any(not g.get_config()["reset_after"] for g in grus):
            raise ValueError(f"{m.name}: not a GRU regressor of model.gru (reset_after GRU layers)")
        shapes.add((int(m.input_shape[1]), int(grus[0].units), len(grus),
                    tuple(int(g.units) for g in grus)))
    if len(shapes) != 1:
        raise ValueError(f"fold models differ in shape (n_points, units, layers): {sorted(shapes)}")
    n_points, units, layers, per_layer = shapes.pop()
    if len(set(per_layer)) != 1:
        raise ValueError(f"fused GRUs need the same units in every layer, got {per_layer}")
    return n_points, units, layers


def _block_columns(parts: list[np.ndarray], units: int) -> np.ndarray:
    """Concatenate fold matrices (rows, 3u) gate by gate: result (rows, 3Ku), z|r|h blocks of K·u."""
    return np.concatenate([p[:, g * units:(g + 1) * units] for g in range(GATES) for p in parts], axis=1)


def _block_diagonal(parts: list[np.ndarray], units: int, rows: int) -> np.ndarray:
    """Fold matrices (rows, 3u) placed so fold k's rows feed only fold k's columns of each gate."""
    k_models = len(parts)
    out = np.zeros((rows * k_models, GATES * units * k_models), dtype=parts[0].dtype)
    for k, p in enumerate(parts):
        for g in range(GATES):
            col = g * units * k_models + k * units
            out[k * rows:(k + 1) * rows, col:col + units] = p[:, g * units:(g + 1) * units]
    return out


def fuse(models: list, name: str = "gru_feh_ensemble"):
    """One Keras model (n, N, 2) -> (n, K): column k is fold model k's [Fe/H] (dex)."""
    import keras

    for m in models:
        _check_gru_regressor(m)
    n_points, units, layers = _check_same_shape(models)
    k_models = len(models)
    grus = [_gru_layers(m) for m in models]
    inputs = keras.Input(shape=(n_points, 2), name="curve")
    x = inputs
    fused_layers = []
    for i in range(layers):
        layer = keras.layers.GRU(units * k_models, return_sequences=i < layers - 1, reset_after=True,
                                 name=f"gru_{i + 1}")
        x = layer(x)
        fused_layers.append(layer)
    dense = keras.layers.Dense(k_models, name="feh_dex")
    outputs = dense(x)
    fused = keras.Model(inputs, outputs, name=name)

    for i, layer in enumerate(fused_layers):
        kernels, recurrents, biases = zip(*(g[i].get_weights() for g in grus))
        kernel = (_block_columns(list(kernels), units) if i == 0
                  else _block_diagonal(list(kernels), units, units))
        recurrent = _block_diagonal(list(recurrents), units, units)
        bias = _block_columns(list(biases), units)
        layer.set_weights([kernel, recurrent, bias])

    w = np.zeros((units * k_models, k_models), dtype="float32")
    b = np.zeros(k_models, dtype="float32")
    for k, m in enumerate(models):
        head_w, head_b = m.get_layer("feh_std").get_weights()
        scale, offset = _rescaling(m)
        w[k * units:(k + 1) * units, k] = head_w[:, 0] * scale
        b[k] = head_b[0] * scale + offset
    dense.set_weights([w, b])
    return fused


def _rescaling(model) -> tuple[float, float]:
    """(scale, offset) of the model's label Rescaling layer; (1, 0) for a model without one."""
    try:
        layer = model.get_layer("feh_dex")
    except ValueError:
        return 1.0, 0.0
    cfg = layer.get_config()
    return float(cfg["scale"]), float(cfg["offset"])


def stack(models: list, name: str = "gru_feh_stack"):
    """One Keras model (n, N, 2) -> (n, K): the K fold networks as parallel branches."""
    import keras

    if not all(_gru_layers(m) for m in models):
        return _stack_any(models, name)
    n_points, _, _ = _check_same_shape(models)
    inputs = keras.Input(shape=(n_points, 2), name="curve")
    outputs = []
    for k, model in enumerate(models):
        x = inputs
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            config = layer.get_config() | {"name": f"fold{k}_{layer.name}"}  # names must be unique
            copy = layer.__class__.from_config(config)
            x = copy(x)
            copy.set_weights(layer.get_weights())
        outputs.append(x)
    merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="feh_dex")(outputs)
    return keras.Model(inputs, merged, name=name)


def _stack_any(models: list, name: str):
    """`stack` for the other families (model.arch spectral, fcn, transformer): each fold
    network, cloned under its own name, called on the shared input."""
    import keras

    if not models:
        raise ValueError("no fold models to stack")
    n_points = {int(m.input_shape[1]) for m in models}
    if len(n_points) != 1:
        raise ValueError(f"fold models differ in input length: {sorted(n_points)}")
    inputs = keras.Input(shape=(n_points.pop(), 2), name="curve")
    outputs = []
    for k, model in enumerate(models):
        copy = model.__class__.from_config({**model.get_config(), "name": f"fold{k}_{model.name}"})
        copy.set_weights(model.get_weights())
        outputs.append(copy(inputs))
    merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="feh_dex")(outputs)
    return keras.Model(inputs, merged, name=name)
