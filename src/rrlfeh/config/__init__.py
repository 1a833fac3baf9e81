"""Typed, validated configuration: `params.yaml` is read here and nowhere else.

Each section of params.yaml maps to a frozen dataclass (defined in this package, one module per
area); stages receive only the section they declare in dvc.yaml.
"""

from rrlfeh.config.loader import ConfigError, from_dict, load_params
from rrlfeh.config.params import Params

__all__ = ["ConfigError", "Params", "from_dict", "load_params"]
