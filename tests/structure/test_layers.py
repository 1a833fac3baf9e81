"""The layer contract of src/rrlfeh: imports between its top-level parts point one way, down.

    cli > summary > evaluation > serving > model > features > sources, quality > sim > tracking > lineage > config > core > runtime, errors, redact

A module may import its own part and any part below it, never one above (function-local imports
count). import-linter would state this as a `layers` contract; it is not in the project's lock
(nor on the offline index this was written against), so the contract is this test over the same
ast import graph the dvc.yaml deps test uses.
"""

from __future__ import annotations

import sys

from tests.support.import_graph import imports_of, modules, package_of

# bottom first; parts on one line are independent of each other
LAYERS = [
    {"", "errors", "runtime", "redact"},  # "" is rrlfeh/__init__.py
    {"core"},  # schema, the curve contract, table formats and streaming, Fourier fits
    {"config"},
    {"lineage"},  # DVC's hashes of stage inputs, as MLflow datasets
    {"tracking"},
    {"sim"},  # the embedded simulator
    {"sources", "quality"},  # extract (simulator, archive, files); validate and clean
    {"features"},
    {"model"},
    {"serving"},
    {"evaluation"},  # real-star measurements: reads archive files as `rrlfeh predict` does
    {"summary"},
    {"cli"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _edges() -> list[tuple[str, str]]:
    return [(m, i) for m in modules() for i in sorted(imports_of(m))
            if package_of(m) != package_of(i) and i != "rrlfeh"]


def test_every_part_has_a_layer():
    parts = {package_of(m) for m in modules()}
    assert parts <= set(RANK), f"add {sorted(parts - set(RANK))} to LAYERS"


def test_imports_point_down():
    upward = [f"{m} imports {i}" for m, i in _edges()
              if RANK[package_of(i)] >= RANK[package_of(m)]]
    assert not upward, "imports against the layers (" + " > ".join(
        "/".join(sorted(x or "rrlfeh" for x in layer)) for layer in reversed(LAYERS)) + "):\n" + "\n".join(upward)


def test_no_cycle_between_parts():
    """Implied by the layers; stated on its own so a change to LAYERS cannot hide a cycle."""
    graph: dict[str, set[str]] = {}
    for m, i in _edges():
        graph.setdefault(package_of(m), set()).add(package_of(i))

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(p for p in graph if p in reach(p))
    assert not cycles, f"import cycles through {cycles}"


def test_the_contract_catches_a_function_local_upward_import(monkeypatch):
    from tests.support import import_graph

    real = import_graph.imports_of

    def with_upward(module):
        extra = {"rrlfeh.features.weights"} if module == "rrlfeh.quality.cuts" else set()
        return real(module) | extra

    monkeypatch.setattr(sys.modules[__name__], "imports_of", with_upward)
    try:
        test_imports_point_down()
    except AssertionError as exc:
        assert "rrlfeh.quality.cuts imports rrlfeh.features.weights" in str(exc)
    else:
        raise AssertionError("an upward import went unnoticed")
