"""The GRU: paper architecture, cuDNN-eligible layers, regularization, seeded initialization."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rrlfeh.model.networks import build_model, full_hparams  # noqa: E402


def _grus(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.GRU)]


def test_architecture_and_output_shape():
    model = build_model(16, {"units": 8, "dropout": 0.4}, seed=1)
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["GRU", "Dropout"] * 3 + ["Dense", "Rescaling"]
    assert [g.return_sequences for g in _grus(model)] == [True, True, False]
    assert all(layer.rate == 0.4 for layer in model.layers if isinstance(layer, keras.layers.Dropout))
    out = model.predict(np.zeros((5, 16, 2), "float32"), verbose=0)
    assert out.shape == (5, 1)
    assert model.get_layer("feh_std").get_config()["activation"] == "linear"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.01)


def test_gru_layers_are_cudnn_eligible():
    model = build_model(16, {"units": 8}, seed=1)
    for gru in _grus(model):
        cfg = gru.get_config()
        assert cfg["activation"] == "tanh" and cfg["recurrent_activation"] == "sigmoid"
        assert cfg["recurrent_dropout"] == 0 and cfg["reset_after"] and not cfg["unroll"]
        assert cfg["use_bias"] and gru.use_cudnn in ("auto", True)
    if keras.backend.backend() == "tensorflow":
        # the backend's own test, minus "is a GPU present"
        from keras.src.backend.tensorflow.rnn import _do_gru_arguments_support_cudnn

        for gru in _grus(model):
            assert _do_gru_arguments_support_cudnn(
                gru.cell.activation, gru.cell.recurrent_activation, gru.unroll, gru.cell.use_bias,
                gru.cell.reset_after)


@pytest.mark.parametrize("reg_type,expected", [("none", None), ("l1", "L1"), ("l2", "L2"), ("l1_l2", "L1L2")])
def test_kernel_regularization(reg_type, expected):
    model = build_model(8, {"units": 4, "reg_type": reg_type, "reg_strength": 1e-3}, seed=0)
    regs = [g.kernel_regularizer for g in _grus(model)] + [model.get_layer("feh_std").kernel_regularizer]
    if expected is None:
        assert all(r is None for r in regs)
    else:
        assert all(type(r).__name__ == expected for r in regs)


def test_same_seed_same_weights():
    a = build_model(8, {"units": 4}, seed=5).get_weights()
    b = build_model(8, {"units": 4}, seed=5).get_weights()
    c = build_model(8, {"units": 4}, seed=6).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_target_scale_maps_output_to_dex(tmp_path):
    x = np.random.default_rng(1).normal(size=(6, 8, 2)).astype("float32")
    base = build_model(8, {"units": 4}, seed=3).predict(x, verbose=0).ravel()
    model = build_model(8, {"units": 4}, seed=3, target=(-1.5, 0.45))
    scaled = model.predict(x, verbose=0).ravel()
    assert np.allclose(scaled, -1.5 + 0.45 * base, atol=1e-5)
    path = tmp_path / "m.keras"
    model.save(path)  # a standard layer: the saved model reloads and predicts dex without custom code
    assert np.allclose(keras.saving.load_model(path, compile=False).predict(x, verbose=0).ravel(), scaled, atol=1e-6)


def test_weighted_loss_uses_sample_weights():
    model = build_model(8, {"units": 4}, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 8, 2)).astype("float32")
    y = np.array([0.0, 0.0, 5.0, 5.0], "float32")
    pred = model.predict(x, verbose=0).ravel()
    w = np.array([1.0, 1.0, 0.0, 0.0], "float32")
    got = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)["wmse"]
    assert got == pytest.approx(np.average((pred - y) ** 2, weights=w), rel=1e-4)


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="reg_type"):
        full_hparams({"reg_type": "l3"})
    with pytest.raises(ValueError, match="dropout"):
        full_hparams({"dropout": 1.0})
    assert full_hparams({"units": 8, "tuner/epochs": 3})["units"] == 8
