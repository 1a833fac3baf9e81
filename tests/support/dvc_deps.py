"""dvc.yaml's code deps from the import graph: what each stage's command may import, and the
deps that cover it (a folder where the command imports all of it).

    python -m tests.support.dvc_deps            print, per stage, the deps its imports make
    python -m tests.support.dvc_deps --write    put them into dvc.yaml

tests/structure/test_dvc_deps.py fails when dvc.yaml's deps and the imports disagree.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import yaml

from tests.support.import_graph import PACKAGE, ROOT, SRC, command_closure

SRC_PREFIX = f"{SRC.relative_to(ROOT).as_posix()}/{PACKAGE}"


def stages() -> dict[str, dict]:
    """Stage name -> its definition, `foreach` stages expanded (their deps do not vary by item)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, stage in spec.items():
        if "foreach" in stage:
            for item in stage["foreach"]:
                text = yaml.safe_dump(stage["do"]).replace("${item}", str(item))
                out[f"{name}@{item}"] = yaml.safe_load(text)
        else:
            out[name] = stage
    return out


def command_of(stage: dict) -> str:
    argv = shlex.split(stage["cmd"])
    assert argv[0] == PACKAGE, f"stage command must be `{PACKAGE} <command> ...`, got {stage['cmd']!r}"
    return argv[1]


def code_deps(stage: dict) -> list[str]:
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    return [d.rstrip("/") for d in deps if d == SRC_PREFIX or d.startswith(SRC_PREFIX + "/")]


def covers(dep: str, file: str) -> bool:
    return file == dep or file.startswith(dep + "/")


def imported_files(stage: dict) -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in command_closure(command_of(stage)).values()]


STAGES = stages()


def generated_deps(stage: dict) -> list[str]:
    """The stage's code deps from its import closure: a folder where the command imports every
    file of it, else the files."""
    files = set(imported_files(stage))
    deps: list[str] = []
    for f in sorted(files):
        folder = f.rsplit("/", 1)[0]
        while folder != SRC_PREFIX and all(
                p.relative_to(ROOT).as_posix() in files for p in (ROOT / folder).rglob("*.py")):
            parent = folder.rsplit("/", 1)[0]
            if parent == SRC_PREFIX or not all(
                    p.relative_to(ROOT).as_posix() in files for p in (ROOT / parent).rglob("*.py")):
                break
            folder = parent
        whole = folder != SRC_PREFIX and all(
            p.relative_to(ROOT).as_posix() in files for p in (ROOT / folder).rglob("*.py"))
        dep = folder if whole else f
        if dep not in deps:
            deps.append(dep)
    return deps


def write_deps(path: Path = ROOT / "dvc.yaml") -> None:
    """Rewrite each stage's source deps in dvc.yaml from the import graph (other deps and lines kept)."""
    lines, out, stage, done = path.read_text().splitlines(), [], None, set()
    for line in lines:
        head = line.split("#")[0].rstrip()
        if line.startswith("  ") and not line.startswith("   ") and head.endswith(":"):
            stage = head.strip()[:-1]
        item = head.strip()
        if item.startswith(f"- {SRC_PREFIX}"):
            if stage not in done:
                indent = line[: len(line) - len(line.lstrip())]
                name = next(n for n in STAGES if n == stage or n.startswith(stage + "@"))
                out += [f"{indent}- {d}" for d in generated_deps(STAGES[name])]
                done.add(stage)
            continue
        out.append(line)
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_deps()
    for name, stage in STAGES.items():
        print(f"{name}:")
        for f in generated_deps(stage):
            print(f"  - {f}")
