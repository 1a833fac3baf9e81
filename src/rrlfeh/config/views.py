"""A stage's view of params: the declared keys read through, any other raises ConfigError naming it.

`ConfigView` wraps one frozen config dataclass (Params or a section of it) and checks each field
read against the keys the stage declares (rrlfeh.config.stages builds it for a stage). Reading a
section (`view.preprocess`) gives a view of that section; the config class's own methods and
properties run on the view, so their reads are checked too. Nothing is patched: the config
classes and any Params not wrapped read freely.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from dataclasses import dataclass
from typing import Any

from rrlfeh.config.loader import ConfigError


def _covered(key: str, allowed: frozenset[str]) -> bool:
    parts = key.split(".")
    return any(".".join(parts[:i]) in allowed for i in range(1, len(parts) + 1))


def _leads_to(key: str, allowed: frozenset[str]) -> bool:
    return any(a.startswith(key + ".") for a in allowed)


@dataclass
class Guard:
    """The keys a stage may read (`allowed`, with everything under them) and those it has read."""

    stage: str
    allowed: frozenset[str]
    reads: set[str]

    def check(self, key: str, section: bool) -> None:
        """Record a read of `key`; ConfigError unless declared (a section on the way to a
        declared key may be passed through without being a read)."""
        if _covered(key, self.allowed):
            self.reads.add(key)
        elif not (section and _leads_to(key, self.allowed)):
            raise ConfigError(
                f"stage {self.stage} reads params key {key!r}, which it does not declare; add it to "
                f"rrlfeh.config.stages.STAGES[{self.stage!r}] (and, if it changes results, to the "
                "stage's params in dvc.yaml)"
            )


class ConfigView:
    """`obj` (a config dataclass instance at dotted `path`, '' for Params) as `guard` lets it be read."""

    __slots__ = ("_obj", "_guard", "_path")

    def __init__(self, obj: Any, guard: Guard, path: str = "") -> None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            raise TypeError(f"a ConfigView wraps a config dataclass instance, got {type(obj).__name__}")
        for name, value in (("_obj", obj), ("_guard", guard), ("_path", path)):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        obj = self._obj
        if name in obj.__dataclass_fields__:
            value = getattr(obj, name)
            key = f"{self._path}.{name}" if self._path else name
            section = dataclasses.is_dataclass(value)
            self._guard.check(key, section)
            return ConfigView(value, self._guard, key) if section else value
        attr = inspect.getattr_static(type(obj), name)  # AttributeError for an unknown name
        if isinstance(attr, property):
            return attr.fget(self)
        if isinstance(attr, types.FunctionType):  # a method: its reads go through the view
            return types.MethodType(attr, self)
        return getattr(obj, name)  # static and class methods, class constants

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r} of params")

    def __reduce__(self):  # train's fold workers receive their params pickled
        return ConfigView, (self._obj, self._guard, self._path)

    def __repr__(self) -> str:
        return f"ConfigView(stage={self._guard.stage!r}, path={self._path!r})"

    def view_fields(self) -> tuple[str, ...]:
        """The field names of the wrapped config class (what to_dict walks)."""
        return tuple(f.name for f in dataclasses.fields(self._obj))

    def view_reads(self) -> set[str]:
        """The keys read so far through this view or any view made from it."""
        return set(self._guard.reads)
