"""params files a user can get wrong: one line naming the file or key, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rrlfeh.config import load_params
from rrlfeh.config.loader import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _params_with(path: Path, section: str, key: str, value) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data[section][key] = value
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("text", ["- extract\n- clean\n", "just a string\n", "42\n"])
def test_a_params_file_that_is_not_a_mapping_is_one_line(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(path)


def test_a_params_folder_or_binary_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_params(tmp_path)
    (tmp_path / "p.yaml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError):
        load_params(tmp_path / "p.yaml")


@pytest.mark.parametrize("tolerance", [float("inf"), float("nan"), -0.1])
def test_register_tolerance_must_be_finite(tmp_path, tolerance):
    path = _params_with(tmp_path / "params.yaml", "register", "tolerance", tolerance)
    assert ".inf" in path.read_text() or ".nan" in path.read_text() or "-0.1" in path.read_text()
    with pytest.raises(ConfigError, match="tolerance must be a finite number"):
        load_params(path)


@pytest.mark.parametrize("key,value", [("time_window", [4000.0, 1500.0]), ("mag_range", [1.0]),
                                       ("period_range", [0.1, float("inf")])])
def test_sanity_ranges_are_checked(tmp_path, key, value):
    path = _params_with(tmp_path / "params.yaml", "predict", key, value)
    with pytest.raises(ConfigError, match=key):
        load_params(path)


@pytest.mark.parametrize("key,value", [("error_scale", 0.0), ("error_scale", float("nan")),
                                       ("error_scale", -1.0), ("extra_error", -0.1),
                                       ("extra_error_out_of_range", float("inf"))])
def test_real_star_error_terms_are_checked(tmp_path, key, value):
    path = _params_with(tmp_path / "params.yaml", "predict", key, value)
    with pytest.raises(ConfigError, match=key):
        load_params(path)
