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
