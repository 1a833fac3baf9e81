"""model.arch: every family builds from the same hparams, ends in the same head, saves and loads,
and serves as a stacked fold ensemble; the convolutions wrap around the phase circle."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rrlfeh.config import ConfigError, from_dict  # noqa: E402
from rrlfeh.config.model import ARCHS, ModelConfig  # noqa: E402
from rrlfeh.model.conv import circular_pad  # noqa: E402
from rrlfeh.model.fused import stack  # noqa: E402
from rrlfeh.model.networks import build_model, full_hparams  # noqa: E402

X = np.random.default_rng(0).normal(size=(6, 16, 2)).astype("float32")


@pytest.mark.parametrize("arch", ARCHS)
def test_each_family_builds_saves_and_loads(arch, tmp_path):
    model = build_model(16, {"arch": arch, "units": 8, "dropout": 0.1}, seed=1, target=(-1.5, 0.4))
    assert model.name == f"{arch}_feh"
    assert [la.name for la in model.layers[-2:]] == ["feh_std", "feh_dex"]  # one head for all
    before = model.predict_on_batch(X)
    assert before.shape == (6, 1) and np.isfinite(before).all()
    model.save(tmp_path / "m.keras")
    after = keras.saving.load_model(tmp_path / "m.keras", compile=False).predict_on_batch(X)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    # the same seed gives the same network; another seed another one
    again = build_model(16, {"arch": arch, "units": 8, "dropout": 0.1}, seed=1, target=(-1.5, 0.4))
    np.testing.assert_allclose(again.predict_on_batch(X), before, rtol=1e-5, atol=1e-6)
    other = build_model(16, {"arch": arch, "units": 8, "dropout": 0.1}, seed=2, target=(-1.5, 0.4))
    assert not np.allclose(other.predict_on_batch(X), before)


@pytest.mark.parametrize("arch", ["fcn", "transformer"])
def test_a_stack_of_folds_gives_each_folds_answer(arch):
    folds = [build_model(16, {"arch": arch, "units": 8}, seed=s, target=(-1.5, 0.4)) for s in range(3)]
    together = np.asarray(stack(folds).predict_on_batch(X))
    apart = np.column_stack([f.predict_on_batch(X)[:, 0] for f in folds])
    np.testing.assert_allclose(together, apart, rtol=1e-5, atol=1e-6)


def test_the_regularizer_reaches_every_family():
    for arch in ARCHS:
        plain = build_model(16, {"arch": arch, "units": 8}, seed=1)
        reg = build_model(16, {"arch": arch, "units": 8, "reg_type": "l2", "reg_strength": 1e-3}, seed=1)
        assert not plain.losses and reg.losses, arch


def test_circular_padding_continues_the_phases():
    x = np.arange(2 * 8 * 1, dtype="float32").reshape(2, 8, 1)
    for width in (3, 5, 8):
        inp = keras.Input(shape=(8, 1))
        out = keras.Model(inp, circular_pad(inp, width, f"w{width}")).predict_on_batch(x)
        left, right = (width - 1) // 2, width // 2
        want = np.concatenate([x[:, 8 - left:], x, x[:, :right]], axis=1)
        np.testing.assert_array_equal(out, want)


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="arch"):
        full_hparams({"arch": "lstm"})
    with pytest.raises(ConfigError, match="model.arch"):
        from_dict(ModelConfig, {"arch": "lstm"}, where="model")
    assert full_hparams({})["arch"] == "gru"  # hparams from before model.arch: a GRU


def test_the_spectral_layer_reads_the_period_and_the_fourier_coefficients():
    from rrlfeh.model.spectral import spectral_matrix

    n, period = 64, 0.57
    grid = np.arange(n) / n
    mag = 0.3 * np.cos(2 * np.pi * grid + 0.4) + 0.1 * np.cos(2 * np.pi * 3 * grid - 1.1)
    x = np.column_stack([grid * period, mag]).ravel()  # the flattened (N, 2) input
    out = x @ spectral_matrix(n)
    assert out[0] == pytest.approx(period)
    a, b = out[1::2], out[2::2]
    assert np.hypot(a[0], b[0]) == pytest.approx(0.3) and np.hypot(a[2], b[2]) == pytest.approx(0.1)
    assert np.arctan2(-b[2], a[2]) == pytest.approx(-1.1)  # A cos(x + phi) = a cos x + b sin x, b = -A sin phi
    assert np.abs(out[[3, 4] + list(range(7, 17))]).max() < 1e-12  # no other harmonic
    # the layer is fixed: training does not move it
    model = build_model(n, {"arch": "spectral", "units": 8}, seed=1)
    assert not model.get_layer("fourier").trainable
