"""The import graph of src/rrlfeh, read from the source with `ast` (no import is executed).

Every import counts, function-local ones included: a module imported inside a function runs when
that function does, so it is as much a dependency as one at the top of the file. Importing
`rrlfeh.a.b` also runs `rrlfeh/__init__.py` and `rrlfeh/a/__init__.py`, so those count too. A
module that names a sibling source file (`Path(__file__).with_name("model_code.py")`, how the
served model's code file is found) depends on that file.

Shared by the structure tests: the dvc.yaml deps test (`stage_closure`) and the layer contract.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "rrlfeh"
CLI = f"{PACKAGE}.cli"
_SIBLING_FILE = re.compile(r"^\w+\.py$")


@cache
def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (packages by their __init__.py)."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_pkg = modules()[module].name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(module: str, nodes) -> set[str]:
    """Package modules imported by the given AST nodes (and everything nested in them)."""
    known = modules()
    out: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] != PACKAGE:
                    continue
                if name in known:
                    out.add(name)
                    out.update(_parents(name))
                elif name.rsplit(".", 1)[0] in known:  # `from pkg.mod import function`
                    continue
                else:
                    raise AssertionError(f"{module} imports {name}, which is not in src/{PACKAGE}")
    return out


@cache
def tree(module: str) -> ast.Module:
    return ast.parse(modules()[module].read_text(), filename=str(modules()[module]))


@cache
def imports_of(module: str) -> frozenset[str]:
    """What importing and running anything in `module` may import (including its parents)."""
    out = imports_in(module, [tree(module)]) | set(_parents(module))
    text = modules()[module].read_text()
    if "__file__" in text:
        folder = modules()[module].parent
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SIBLING_FILE.match(node.value):
                sibling = folder / node.value
                if sibling.exists():
                    out.add(".".join(module.split(".")[:-1] + [sibling.stem]))
    out.discard(module)
    return frozenset(out)


def closure(roots) -> set[str]:
    """The modules reachable from `roots` (roots included)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(imports_of(m))
    return seen


def _cli_functions() -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree(CLI).body if isinstance(n, ast.FunctionDef)}


def cli_commands() -> dict[str, str]:
    """`rrlfeh <name>` -> the function in cli.py that typer runs for it."""
    out = {}
    for name, fn in _cli_functions().items():
        for dec in fn.decorator_list:
            if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "command":
                explicit = [k.value.value for k in dec.keywords if k.arg == "name"]
                out[explicit[0] if explicit else name.replace("_", "-")] = name
    return out


def command_roots(command: str) -> set[str]:
    """The modules `rrlfeh <command>` runs: cli.py's own top-level imports, the entry point
    (`main`), the app's callbacks (global options) and the command's function with the cli.py
    helpers they call."""
    functions = _cli_functions()
    commands = cli_commands()
    if command not in commands:
        raise AssertionError(f"rrlfeh has no command {command!r}; commands: {sorted(commands)}")
    top_level = [n for n in tree(CLI).body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    callbacks = [name for name, fn in functions.items() for dec in fn.decorator_list
                 if isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "callback"]
    used, todo = set(), ["main", *callbacks, commands[command]]
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Name) and node.id in functions and node.id not in commands.values():
                todo.append(node.id)
    nodes = top_level + [functions[n] for n in used]
    return {CLI, *_parents(CLI), *imports_in(CLI, nodes)}


def command_closure(command: str) -> dict[str, Path]:
    """Module -> file, for everything `rrlfeh <command>` may import."""
    roots = command_roots(command)
    mods = set(roots)
    for m in roots - {CLI}:
        mods |= closure([m])
    return {m: modules()[m] for m in sorted(mods)}


def package_of(module: str) -> str:
    """Top-level part of the package a module belongs to: rrlfeh.quality.cuts -> data, rrlfeh.cli -> cli."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""
