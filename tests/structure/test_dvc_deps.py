"""dvc.yaml's code deps are right by construction: each stage's deps cover every source file its
command may import (the transitive import closure of `rrlfeh <command>`, function-local imports
included), and every source dep it lists is one of them. An edit to a file a stage runs therefore
reruns that stage, and an edit elsewhere does not.

`python tests/structure/test_dvc_deps.py` prints, per stage, the deps its imports make (a folder
where the command imports all of it); `--write` puts them into dvc.yaml.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from import_graph import PACKAGE, ROOT, SRC, command_closure, modules  # noqa: E402

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


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_file_is_a_dep(name):
    stage = STAGES[name]
    deps = code_deps(stage)
    missing = [f for f in imported_files(stage) if not any(covers(d, f) for d in deps)]
    assert not missing, (
        f"dvc.yaml stage {name} (`{stage['cmd'].split()[0]} {command_of(stage)}`) imports files its deps do "
        f"not cover; add them (or their folder) to its deps:\n" + "\n".join(f"  - {f}" for f in missing)
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_code_dep_is_imported(name):
    """A source dep the command never imports reruns the stage for nothing (or hides a stale list)."""
    stage = STAGES[name]
    files = imported_files(stage)
    unused = [d for d in code_deps(stage) if not any(covers(d, f) for f in files)]
    assert not unused, f"dvc.yaml stage {name}: deps not imported by its command: {unused}"
    for dep in code_deps(stage):
        assert (ROOT / dep).exists(), f"dvc.yaml stage {name}: dep {dep} does not exist"


def test_the_graph_sees_function_local_imports():
    """cli.py imports each stage's module inside the command's function."""
    assert "rrlfeh.sources.extract" in command_closure("extract")
    assert "rrlfeh.model.cv" not in command_closure("extract")
    assert "rrlfeh.serving.model_code" in command_closure("register")  # named by file, not imported
    assert set(modules()) >= set(command_closure("train"))


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


def test_train_declares_every_file_it_writes_into_its_plots_folder():
    """report.PLOT_FILES is what train writes and logs to MLflow; dvc.yaml must version each one
    (reliability.png was written and not declared): the tables as outs, drawn by the top-level
    plots, the figures as plots."""
    from rrlfeh.model.report import PLOT_FILES

    stage = STAGES["train@rrab"]
    entries = [*stage.get("plots", []), *stage.get("outs", [])]
    declared = {next(iter(p)) if isinstance(p, dict) else p for p in entries}
    assert declared >= {f"plots/train/rrab/{name}" for name in PLOT_FILES}


def test_every_plot_and_report_is_cached():
    """`cache: false` plots and reports live only in the workspace: `dvc exp apply` and `dvc plots
    diff` between experiments would see the workspace's alone."""
    for name, stage in STAGES.items():
        for entry in [*stage.get("plots", []), *stage.get("outs", [])]:
            path, opts = (next(iter(entry.items())) if isinstance(entry, dict) else (entry, {}))
            if path.startswith(("plots/", "reports/")):
                assert (opts or {}).get("cache", True), f"{name}: {path} is not cached"


def test_top_level_plots_draw_declared_outputs_of_both_types():
    """The top-level plots overlay RRab and RRc; each file they read is an output of a stage."""
    outputs = {next(iter(p)) if isinstance(p, dict) else p for stage in STAGES.values()
               for p in [*stage.get("plots", []), *stage.get("outs", [])]}
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    assert plots
    for entry in plots:
        (plot_id, spec), = entry.items()
        files = set(spec["y"])
        assert files <= outputs, (plot_id, files - outputs)
        assert {f.split("/")[2] for f in files} == {"rrab", "rrc"}, plot_id
        template = spec.get("template", "linear")
        if template not in {"linear", "simple", "scatter", "smooth"}:
            assert (ROOT / ".dvc" / "plots" / f"{template}.json").is_file(), template
