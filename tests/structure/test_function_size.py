"""No function in src/ takes more than 8 parameters or runs past 60 lines.

Parameters: positional-only, positional and keyword-only ones (not *args/**kwargs), less a leading
self/cls. Lines: from `def` (decorators not counted) to the function's last line, docstring and
comments included. A longer list of arguments wants a small parameter object (a frozen dataclass);
a longer body wants its steps as functions of their own.

One exemption, by rule: typer commands in cli.py (functions decorated with `@app.command()`) may
take more parameters, since each parameter is a command-line option typer builds from the
signature; they are held to the line limit like every other function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.import_graph import SRC

MAX_PARAMS = 8
MAX_LINES = 60

def _is_typer_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with `<typer app>.command(...)` (or without the call)."""
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "command":
            return True
    return False


def n_params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names)


def violations(path: Path, rel: str, source: str | None = None) -> list[str]:
    """'file:function (line): what' for each function of one file that breaks a limit."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        lines = node.end_lineno - node.lineno + 1
        params = n_params(node)
        typer_command = rel == "cli.py" and _is_typer_command(node)
        why = []
        if params > MAX_PARAMS and not typer_command:
            why.append(f"{params} parameters (at most {MAX_PARAMS})")
        if lines > MAX_LINES:
            why.append(f"{lines} lines (at most {MAX_LINES})")
        if why:
            out.append(f"{rel}:{node.name} (line {node.lineno}): {', '.join(why)}")
    return out


def all_violations() -> list[str]:
    package = SRC / "rrlfeh"
    out = []
    for path in sorted(package.rglob("*.py")):
        out += violations(path, path.relative_to(package).as_posix())
    return out


def test_no_function_is_too_long_or_takes_too_many_parameters():
    found = all_violations()
    assert not found, (
        "functions over the limits (group arguments in a small dataclass, split long bodies):\n"
        + "\n".join(f"  src/rrlfeh/{v}" for v in found))


@pytest.mark.parametrize("source, expected", [
    ("def f(a, b, c, d, e, f, g, h, i):\n    pass\n", ["x.py:f (line 1): 9 parameters (at most 8)"]),
    ("class A:\n    def m(self, a, b, c, d, e, f, g, h):\n        pass\n", []),
    ("def f(a, *, b, c, d, e, f, g, h, i):\n    pass\n", ["x.py:f (line 1): 9 parameters (at most 8)"]),
    ("def f(*args, **kwargs):\n    pass\n", []),
    ("def f():\n" + "    x = 1\n" * 59 + "    return x\n", ["x.py:f (line 1): 61 lines (at most 60)"]),
    ("def f():\n" + "    x = 1\n" * 58 + "    return x\n", []),
])
def test_the_rule_counts_what_it_says(source, expected, tmp_path):
    assert violations(tmp_path / "x.py", "x.py", source) == expected


def test_only_typer_commands_in_cli_may_take_more_parameters(tmp_path):
    source = ("@app.command()\ndef predict(a, b, c, d, e, f, g, h, i):\n    pass\n"
              "def helper(a, b, c, d, e, f, g, h, i):\n    pass\n")
    assert violations(tmp_path / "cli.py", "cli.py", source) == [
        "cli.py:helper (line 4): 9 parameters (at most 8)"]
    assert len(violations(tmp_path / "x.py", "x.py", source)) == 2  # elsewhere the rule holds


if __name__ == "__main__":
    print("\n".join(all_violations()) or "no function over the limits")
