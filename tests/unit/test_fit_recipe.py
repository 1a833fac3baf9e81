"""The fit recipe (params `fit`): learning-rate schedule, clipping, AdamW, EMA; and the fused ensemble."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rrlfeh.config.model import FitConfig  # noqa: E402
from rrlfeh.model.fused import fuse, stack  # noqa: E402
from rrlfeh.model.networks import build_model, make_optimizer  # noqa: E402


def _lr_at(optimizer, step: int) -> float:
    """The rate at `step`, set the way a continued Hyperband round sets it (search_space.fit)."""
    optimizer.iterations.assign(step)
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def test_no_recipe_is_the_papers_constant_adam():
    opt = make_optimizer({"learning_rate": 0.01})
    assert type(opt) is keras.optimizers.Adam
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.01)
    assert opt.global_clipnorm is None and not opt.use_ema


def test_cosine_schedule_warms_up_peaks_and_decays_to_the_final_fraction():
    fit = FitConfig(schedule="cosine", lr_warmup_epochs=2, final_lr_fraction=0.05, clipnorm=1.0)
    opt = make_optimizer({"learning_rate": 0.004, "batch_size": 8}, fit, n_train=75, epochs=20)  # 10 steps/epoch
    assert _lr_at(opt, 0) == pytest.approx(0.004 * 0.05, rel=1e-4)
    assert _lr_at(opt, 20) == pytest.approx(0.004, rel=1e-4)  # end of warm-up: the peak
    assert _lr_at(opt, 110) < _lr_at(opt, 60) < _lr_at(opt, 20)  # decaying
    assert _lr_at(opt, 200) == pytest.approx(0.004 * 0.05, rel=1e-3)  # end of the fit
    assert opt.global_clipnorm == pytest.approx(1.0)


def test_weight_decay_means_adamw_and_ema_is_on_when_asked():
    opt = make_optimizer({"learning_rate": 0.001}, FitConfig(weight_decay=1e-4, ema_momentum=0.99), 50, 3)
    assert isinstance(opt, keras.optimizers.AdamW) and opt.weight_decay == pytest.approx(1e-4)
    assert opt.use_ema and opt.ema_momentum == pytest.approx(0.99)


@pytest.mark.parametrize("bad", [{"schedule": "step"}, {"final_lr_fraction": 0.0}, {"clipnorm": -1.0},
                                 {"ema_momentum": 1.0}, {"lr_warmup_epochs": -1}])
def test_bad_recipe_is_refused(bad):
    with pytest.raises(ValueError):
        FitConfig(**bad).check()


def test_fused_ensemble_gives_the_fold_models_answers():
    rng = np.random.default_rng(0)
    models = [build_model(12, {"units": 4}, seed=k, target=(-1.5 + 0.1 * k, 0.4 + 0.02 * k)) for k in range(3)]
    for m in models:  # non-zero biases everywhere, so a misplaced block would show
        m.set_weights([w + rng.normal(0, 0.2, w.shape).astype("float32") for w in m.get_weights()])
    X = rng.normal(size=(7, 12, 2)).astype("float32")
    separate = np.stack([m.predict(X, verbose=0).ravel() for m in models], axis=1)
    for ensemble in (fuse(models), stack(models)):
        out = np.asarray(ensemble.predict(X, verbose=0))
        assert out.shape == (7, 3)
        np.testing.assert_allclose(out, separate, atol=1e-5)


def test_fusing_models_of_different_shapes_is_refused():
    with pytest.raises(ValueError, match="differ"):
        fuse([build_model(12, {"units": 4}, seed=0), build_model(12, {"units": 6}, seed=0)])


@pytest.mark.parametrize("n", [1, 3, 64, 65, 200])
def test_served_ensemble_is_one_call_per_batch_and_gives_the_fold_models_answers(n):
    """The pyfunc's TypeModel: fused network for small batches, stacked for large, padded batches."""
    from rrlfeh.serving.pyfunc import SMALL_BATCH, TypeModel

    rng = np.random.default_rng(1)
    models = [build_model(12, {"units": 4}, seed=k, target=(-1.5, 0.4)) for k in range(3)]
    tm = TypeModel(key="rrab", manifest={"n_points": 12}, models=models)
    X = rng.normal(size=(n, 12, 2)).astype("float32")
    separate = np.stack([m.predict(X, verbose=0).ravel() for m in models], axis=1)
    np.testing.assert_allclose(tm.predict(X, batch_size=128), separate, atol=1e-5)
    assert SMALL_BATCH < 65


def test_fuse_refuses_a_model_it_would_change_and_serving_falls_back_to_the_stack():
    """A fold model with an extra layer (here a shift of its output) cannot be block-fused."""
    from rrlfeh.serving.pyfunc import TypeModel

    models = [build_model(12, {"units": 4}, seed=k, target=(-1.5, 0.4)) for k in range(2)]
    shifted = [keras.Model(m.inputs, keras.layers.Rescaling(1.0, offset=0.5)(m.outputs[0])) for m in models]
    with pytest.raises(ValueError, match="not a GRU regressor"):
        fuse(shifted)
    X = np.random.default_rng(2).normal(size=(3, 12, 2)).astype("float32")
    tm = TypeModel(key="rrab", manifest={"n_points": 12}, models=shifted)
    expected = np.stack([m.predict(X, verbose=0).ravel() for m in shifted], axis=1)
    np.testing.assert_allclose(tm.predict(X, batch_size=128), expected, atol=1e-5)
