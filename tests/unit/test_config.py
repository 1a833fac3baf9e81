"""params.yaml -> typed config: defaults load, unknown keys and wrong types fail with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rrlfeh.config import ConfigError, Params, load_params
from rrlfeh.config.loader import flatten, to_dict

ROOT = Path(__file__).resolve().parents[2]


def test_project_params_load():
    p = load_params(ROOT / "params.yaml")
    assert isinstance(p, Params)
    assert p.extract.source == "simulate"
    assert p.preprocess.n_points("rrab") == p.preprocess.n_points_rrab


def _write(tmp_path, mutate):
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    mutate(data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["clean"].update(max_feh_eror=0.3))
    with pytest.raises(ConfigError, match=r"params\.clean.*max_feh_eror"):
        load_params(path)


def test_wrong_type_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["clean"].update(min_clean_epochs="fifty"))
    with pytest.raises(ConfigError, match=r"params\.clean\.min_clean_epochs"):
        load_params(path)


def test_bad_choice_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["extract"].update(source="ftp"))
    with pytest.raises(ConfigError, match=r"params\.extract\.source.*simulate"):
        load_params(path)


def test_missing_section_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d.pop("train"))
    with pytest.raises(ConfigError, match=r"params\.train: required"):
        load_params(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_flatten_roundtrip():
    p = load_params(ROOT / "params.yaml")
    flat = flatten(to_dict(p.train), "train")
    assert flat["train.k_folds"] == p.train.k_folds


def test_exponent_without_a_dot_is_a_number(tmp_path):
    """YAML 1.1 reads 1e-5 as a string (what `dvc exp run -S 'tune.reg_strength=[1e-5]'` writes)."""
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text().replace("reg_strength: [1.0e-5, 1.0e-4]",
                                                               "reg_strength: [1e-5, 1.0e-4]"))
    assert yaml.safe_load(path.read_text())["tune"]["reg_strength"][0] == "1e-5"
    assert load_params(path).tune.reg_strength == [1e-5, 1e-4]


# params.yaml values that deliberately differ from the config classes' defaults, and why. Every
# other default has one home, the config dataclass; params.yaml restates it for DVC to track.
DELIBERATE = {
    # calibrated on real stars (bench/real_stars.py); the neutral defaults (1.0, 0.0) are what a
    # model logged before these keys existed is served with, so its feh_error stays what it was
    "predict.error_scale": (8.59, 1.0),
    "predict.extra_error_out_of_range": (0.175, 0.0),
    # chosen on the real calibration half; "" (as trained) is what a model logged before the key
    # existed gets, so its answers stay what they were
    "predict.epoch_weights": ("errors", ""),
}


def _defaults(cls) -> dict:
    """The defaults of a config dataclass, nested; '<required>' where there is none."""
    import dataclasses
    import typing

    hints, out = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default_factory())
        else:
            out[f.name] = _defaults(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else "<required>"
    return out


def differences(yaml_values: dict) -> dict:
    defaults = flatten(_defaults(Params))
    return {k: (yaml_values.get(k, "<absent>"), defaults.get(k, "<absent>"))
            for k in sorted(set(defaults) | set(yaml_values))
            if yaml_values.get(k, "<absent>") != defaults.get(k, "<absent>")}


def test_params_yaml_restates_the_config_defaults_but_for_the_deliberate_ones():
    yaml_values = flatten(yaml.safe_load((ROOT / "params.yaml").read_text()))
    assert differences(yaml_values) == {"seed": (42, "<required>"), **DELIBERATE}
    assert differences({**yaml_values, "clean.min_clean_epochs": 40})["clean.min_clean_epochs"] == (40, 50)


def test_the_served_bounds_default_to_the_predict_config():
    from rrlfeh.config.serving import PredictConfig
    from rrlfeh.serving.sanity import Bounds

    assert Bounds() == Bounds.of(PredictConfig()) == Bounds.of({})
