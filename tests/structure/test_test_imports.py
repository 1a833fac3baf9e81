"""Tests and benchmarks import their shared helpers as a package, never each other.

What two test files (or a test and a bench script) need lives in `tests.support`; a test file, a
conftest or a bench script is never imported by its file name through an edited `sys.path` (which
made one test module's fixtures run twice and hid which file a helper came from). Read with `ast`:
  - an import of `tests.*` names `tests.support` or a module in it;
  - no import names a module by the bare file name of a file in tests/ or bench/ (`conftest`,
    `test_predict`, `model_fixture`, `preprocess`: only reachable through sys.path edits);
  - no code in tests/ or bench/ edits `sys.path`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.import_graph import ROOT

FOLDERS = ("tests", "bench")


def python_files(root: Path) -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (root / folder).rglob("*.py"))


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every absolute import; a relative one as '.' + its module."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, "." * node.level + (node.module or "")))
    return out


def _edits_sys_path(node: ast.AST) -> bool:
    """`sys.path.<insert|append|extend|...>(...)` or an assignment to `sys.path`."""
    def is_sys_path(n):
        return (isinstance(n, ast.Attribute) and n.attr == "path"
                and isinstance(n.value, ast.Name) and n.value.id == "sys")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return is_sys_path(node.func.value)
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(is_sys_path(t) for t in targets)
    return False


def violations(root: Path) -> list[str]:
    files = python_files(root)
    local_names = {p.stem for p in files} - {"__init__"}
    out = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(), filename=rel)
        in_support = rel.startswith("tests/support/")
        for line, module in _imported(tree):
            top = module.split(".")[0]
            if module.startswith(".") and not in_support:
                out.append(f"{rel}:{line}: relative import {module}")
            elif top == "tests" and module != "tests.support" and not module.startswith("tests.support."):
                out.append(f"{rel}:{line}: imports {module}; shared helpers belong in tests.support")
            elif top in local_names:
                out.append(f"{rel}:{line}: imports {module} by its file name (a test file, conftest or "
                           f"bench script on an edited sys.path); import it from tests.support or bench")
        out += [f"{rel}:{n.lineno}: edits sys.path" for n in ast.walk(tree) if _edits_sys_path(n)]
    return out


def test_no_test_file_imports_another():
    found = violations(ROOT)
    assert not found, "tests/ and bench/ import each other outside tests.support:\n" + "\n".join(found)


def test_the_check_sees_each_kind_of_violation(tmp_path):
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "bench").mkdir()
    (tmp_path / "tests" / "unit" / "test_a.py").write_text(
        "import sys\nsys.path.insert(0, 'x')\nfrom test_b import helper\nfrom tests.unit.test_b import h\n"
        "from tests.support.model_fixture import simulate\nfrom conftest import one_line\n")
    (tmp_path / "tests" / "unit" / "test_b.py").write_text("import numpy\n")
    (tmp_path / "tests" / "unit" / "conftest.py").write_text("")
    (tmp_path / "bench" / "run.py").write_text("from . import other\nimport tests.support.hostile\n")
    found = violations(tmp_path)
    assert sorted(f.split(": ", 1)[0] for f in found) == [
        "bench/run.py:1", "tests/unit/test_a.py:2", "tests/unit/test_a.py:3", "tests/unit/test_a.py:4",
        "tests/unit/test_a.py:6"], found
