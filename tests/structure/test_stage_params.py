"""Params per key that cannot drift: dvc.yaml declares, for each stage, exactly the results keys
rrlfeh.config.stages gives it (the same mapping the CLI uses to restrict what the stage may read
and the stages log to MLflow), and every key of params.yaml belongs to some command."""

from __future__ import annotations

import pytest

from rrlfeh.config import ConfigError, load_params
from rrlfeh.config.loader import flatten, to_dict
from rrlfeh.config.stages import STAGES, declared, reads_of, restrict, value_at
from tests.support.dvc_deps import STAGES as DVC_STAGES, command_of
from tests.support.import_graph import ROOT

# read by `rrlfeh predict` (batch inference), which is no DVC stage
BATCH_ONLY = {"predict.chunk_stars", "predict.n_jobs", "predict.spark_master"}


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml")


def _item(name: str) -> str | None:
    return name.split("@", 1)[1] if "@" in name else None


@pytest.mark.parametrize("name", sorted(DVC_STAGES))
def test_dvc_yaml_declares_the_stage_results_keys(name):
    stage = DVC_STAGES[name]
    listed = [p if isinstance(p, str) else next(iter(p)) for p in stage.get("params", [])]
    assert len(listed) == len(set(listed)), f"{name}: a params key is listed twice"
    results, operational = STAGES[command_of(stage)].keys(_item(name))
    assert set(listed) == set(results), (
        f"dvc.yaml stage {name}: params {sorted(listed)} differ from rrlfeh.config.stages "
        f"({sorted(results)}): missing {sorted(set(results) - set(listed))}, "
        f"extra {sorted(set(listed) - set(results))}")
    assert not set(listed) & set(operational)


def test_every_declared_key_exists(params):
    for stage, spec in STAGES.items():
        for item in ("rrab", "rrc"):
            results, operational = spec.keys(item)
            assert not set(results) & set(operational), stage
            for key in results + operational:
                value_at(params, key)  # AttributeError names a key params.yaml does not have


def test_every_params_yaml_key_belongs_to_a_command(params):
    claimed = [k for spec in STAGES.values() for item in ("rrab", "rrc")
               for k in sum(spec.keys(item), ())] + sorted(BATCH_ONLY)
    leaves = flatten(to_dict(params))
    orphans = [k for k in leaves if not any(k == c or k.startswith(c + ".") for c in claimed)]
    assert not orphans, f"params no command reads (add them to rrlfeh.config.stages): {orphans}"


def test_a_stage_cannot_read_an_undeclared_key(params):
    p = restrict(params, "preprocess", "rrab")
    assert p.preprocess.n_points_rrab == params.preprocess.n_points_rrab
    assert p.preprocess.n_jobs == params.preprocess.n_jobs  # operational: readable, not declared
    with pytest.raises(ConfigError, match="preprocess.n_points_rrc"):
        p.preprocess.n_points_rrc
    with pytest.raises(ConfigError, match="'seed'"):
        p.seed
    with pytest.raises(ConfigError, match="'train'"):
        restrict(params, "tune").train
    with pytest.raises(ConfigError, match="preprocess.smoothing"):
        restrict(params, "tune").preprocess.smoothing
    assert reads_of(p) == {"preprocess.n_points_rrab", "preprocess.n_jobs"}
    # the typed config's own helpers read through the guard too
    assert p.preprocess.curve_options("rrab")["n_points"] == params.preprocess.n_points_rrab
    with pytest.raises(ConfigError):
        p.preprocess.curve_options("rrc")
    assert params.preprocess.n_points_rrc  # the unrestricted object is untouched


def test_restricted_params_survive_pickling(params):
    """train's fold workers receive their params pickled."""
    import pickle

    p = pickle.loads(pickle.dumps(restrict(params, "train", "rrc")))
    assert p.train.n_jobs == params.train.n_jobs
    with pytest.raises(ConfigError):
        p.predict.min_epochs


def test_what_the_stages_log_is_what_dvc_declares(params):
    logged = flatten(declared(params, "train", "rrab"))
    assert "train.n_jobs" not in logged and "preprocess.n_points_rrc" not in logged
    assert logged["preprocess.n_points_rrab"] == params.preprocess.n_points_rrab
    assert set(flatten(declared(params, "tune"))) >= {"seed", "tune.max_epochs", "preprocess.kde_alpha"}


def _config_objects(obj) -> list:
    import dataclasses

    if not dataclasses.is_dataclass(obj):
        return []
    return [obj] + [o for f in dataclasses.fields(obj) for o in _config_objects(getattr(obj, f.name))]


def test_the_guard_is_a_view_not_a_patch_on_the_config_classes(params):
    """No config class has its attribute lookup replaced (at import or by restrict): only the view
    a stage is handed checks reads, and its sections are views too."""
    from rrlfeh.config.views import ConfigView

    restrict(params, "train", "rrab").fit.schedule
    patched = sorted({type(o).__name__ for o in _config_objects(params)
                      if type(o).__getattribute__ is not object.__getattribute__})
    assert patched == []
    assert isinstance(restrict(params, "tune").tune, ConfigView)
    with pytest.raises(AttributeError):
        restrict(params, "tune").tune.no_such_key
