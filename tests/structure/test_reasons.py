"""Reject reasons have one home, rrlfeh.core.reasons: each code is defined there once, every stage
emits codes through its constants (never a string literal), each stage's ordered tuple of tests
is exactly the registry's codes for that stage, and the README's table is the registry's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.import_graph import ROOT, SRC

from rrlfeh.core import reasons as R  # noqa: E402

REGISTRY_FILE = SRC / "rrlfeh" / "core" / "reasons.py"
# codes that are also column names (facts["feh_error"], ...): only their use as a reason is checked
COLUMN_NAMES = {"feh_error", "peak_to_peak_g", "phi31_g_error"}
EMITTING_CALLS = {"reject", "_rejects"}  # (mask or ids, code, ...) helpers of the stages


def _sources() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for p in sorted((SRC / "rrlfeh").rglob("*.py"))
            if p != REGISTRY_FILE}


def _reason_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == "Reason"]


def duplicate_codes(tree: ast.Module) -> list[str]:
    """Codes given to more than one Reason(...), and names bound to a Reason more than once."""
    codes = [c.args[0].value for c in _reason_calls(tree)
             if c.args and isinstance(c.args[0], ast.Constant)]
    names = [t.id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
             and n.value in _reason_calls(n) for t in n.targets if isinstance(t, ast.Name)]
    return sorted({c for c in codes if codes.count(c) > 1} | {n for n in names if names.count(n) > 1})


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value else None


def literal_reasons(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of string literals used as a reason: a registered code written out, or any
    literal stored into a `reason...` array or passed to a stage's reject helper."""
    out = []
    for node in ast.walk(tree):
        text = _literal(node)
        if text in R.REASONS and text not in COLUMN_NAMES:
            out.append((node.lineno, text))
        elif isinstance(node, ast.Assign) and _literal(node.value):
            for t in node.targets:
                base = t.value if isinstance(t, ast.Subscript) else None
                if isinstance(base, ast.Name) and "reason" in base.id:
                    out.append((node.lineno, _literal(node.value)))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in EMITTING_CALLS:
            out += [(node.lineno, _literal(a)) for a in node.args[1:2] if _literal(a)]
    return sorted(set(out))


def test_every_code_is_defined_once():
    assert duplicate_codes(ast.parse(REGISTRY_FILE.read_text())) == []
    assert len(R.ALL) == len(R.REASONS)
    elsewhere = [str(p.relative_to(ROOT)) for p, tree in _sources().items() if _reason_calls(tree)]
    assert elsewhere == [], f"Reason(...) outside core/reasons.py: {elsewhere}"
    with pytest.raises(ValueError, match="defined twice"):
        R.registry((R.BAD_PERIOD, R.BAD_PERIOD))


def test_the_scan_catches_a_second_definition_and_a_literal():
    twice = ast.parse('A = Reason("x", ("clean",), "", "", "")\nB = Reason("x", ("clean",), "", "", "")')
    assert duplicate_codes(twice) == ["x"]
    emits = ast.parse('reason[m] = "made_up"\n_rejects(ids, "also_made_up", d)\nc = "bad_period"')
    assert [t for _, t in literal_reasons(emits)] == ["made_up", "also_made_up", "bad_period"]


def test_no_stage_writes_a_reason_as_a_string_literal():
    found = {str(p.relative_to(ROOT)): hits for p, tree in _sources().items()
             if (hits := literal_reasons(tree))}
    assert found == {}, f"use the constants of rrlfeh.core.reasons: {found}"


def test_each_stage_tests_exactly_its_registered_codes():
    from rrlfeh.features.tensors import REASONS as CURVE
    from rrlfeh.quality.cuts import CUTS, LABEL_CUTS
    from rrlfeh.serving.sanity import REASONS as SCREEN

    assert set(CUTS) == set(R.of_stage("clean")) and set(LABEL_CUTS) <= set(CUTS)
    assert set(CURVE) == set(R.of_stage("preprocess"))
    serve = set(SCREEN) | set(CURVE) | set(R.codes(R.INVALID_INPUT, R.UNKNOWN_TYPE))
    assert serve == set(R.of_stage("serve"))
    batch_only = R.codes(R.NOT_IN_VARI_RRLYRAE, R.NO_EPOCHS, R.NO_CLEAN_G_EPOCHS, R.UNREADABLE_EPOCH_FILE)
    assert serve | set(batch_only) == set(R.of_stage("predict"))
    assert set(R.of_stage("extract")) == set(R.codes(R.NO_EPOCHS, R.UNREADABLE_EPOCH_FILE))


def test_the_readme_table_is_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert R.markdown_table() in readme, (
        "README.md's reasons table differs from rrlfeh.core.reasons.markdown_table(): paste its output")
