"""One home for ragged light curves: the segment idioms live in rrlfeh.core.ragged only.

Elsewhere in src/rrlfeh, `np.repeat(np.arange(...), counts)` (the star of each epoch) and any
`cumsum` (starts or offsets from per-star counts) mean a segment operation written again beside
the batch type's own; call rrlfeh.core.ragged instead (star_index, starts_of, offsets_of,
gather_rows, LightCurves). The check walks the ast, so comments and strings do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "rrlfeh"
HOME = SRC / "core" / "ragged.py"
# file (relative to src/rrlfeh) -> why its cumsum is not a ragged idiom
EXEMPT_CUMSUM = {
    "serving/front.py": "running JSON nesting depth and quote parity over a request's bytes",
}


def _name(node: ast.AST) -> str:
    """Dotted name of a Name/Attribute chain ('np.repeat'), '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def idioms(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, idiom) of every ragged idiom in a module's ast."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _name(node.func)
        if func.split(".")[-1] == "cumsum":
            found.append((node.lineno, "cumsum"))
        elif (func.split(".")[-1] == "repeat" and node.args and isinstance(node.args[0], ast.Call)
              and _name(node.args[0].func).split(".")[-1] == "arange"):
            found.append((node.lineno, "repeat(arange(...))"))
    return found


def violations(src: Path = SRC) -> list[str]:
    out = []
    for path in sorted(src.rglob("*.py")):
        if path == HOME:
            continue
        rel = path.relative_to(src).as_posix()
        for line, what in idioms(ast.parse(path.read_text(), str(path))):
            if what == "cumsum" and rel in EXEMPT_CUMSUM:
                continue
            out.append(f"src/rrlfeh/{rel}:{line}: {what}")
    return out


def test_ragged_idioms_live_in_core_ragged_only():
    bad = violations()
    assert not bad, ("ragged segment idioms outside rrlfeh/core/ragged.py (use its star_index, "
                     "starts_of, offsets_of, gather_rows or LightCurves):\n" + "\n".join(bad))


def test_the_check_sees_both_idioms():
    code = ("star = np.repeat(np.arange(len(c)), c)\n"
            "starts = np.concatenate([[0], np.cumsum(c)[:-1]])\n"
            "offsets = c.cumsum()\n"
            "# np.cumsum( in a comment is fine\n")
    assert [w for _, w in idioms(ast.parse(code))] == ["repeat(arange(...))", "cumsum", "cumsum"]


def test_exemptions_name_existing_files():
    assert all((SRC / rel).exists() for rel in EXEMPT_CUMSUM)
