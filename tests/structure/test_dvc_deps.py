"""dvc.yaml's code deps are right by construction: each stage's deps cover every source file its
command may import (the transitive import closure of `rrlfeh <command>`, function-local imports
included), and every source dep it lists is one of them. An edit to a file a stage runs therefore
reruns that stage, and an edit elsewhere does not.

`python -m tests.support.dvc_deps` prints, per stage, the deps its imports make (a folder where
the command imports all of it); `--write` puts them into dvc.yaml.
"""

from __future__ import annotations

import pytest

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
    (reliability.png was written and not declared)."""
    from rrlfeh.model.report import PLOT_FILES

    declared = {next(iter(p)) if isinstance(p, dict) else p for p in STAGES["train@rrab"].get("plots", [])}
    assert declared == {f"plots/train/rrab/{name}" for name in PLOT_FILES}
