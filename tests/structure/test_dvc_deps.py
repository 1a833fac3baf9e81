"""dvc.yaml's code deps are right by construction: each stage's deps cover every source file its
command may import (the transitive import closure of `rrlfeh <command>`, function-local imports
included), and every source dep it lists is one of them. An edit to a file a stage runs therefore
reruns that stage, and an edit elsewhere does not.

`python -m tests.support.dvc_deps` prints, per stage, the deps its imports make (a folder where
the command imports all of it); `--write` puts them into dvc.yaml.
"""

from __future__ import annotations

import pytest
import yaml

from tests.support.dvc_deps import STAGES, code_deps, command_of, covers, imported_files
from tests.support.import_graph import ROOT, command_closure, modules


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
    assert "rrlfeh.model.train" not in command_closure("extract")
    assert "rrlfeh.serving.model_code" in command_closure("register")  # named by file, not imported
    assert set(modules()) >= set(command_closure("train"))


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
