"""`rrlfeh summary`: the headline numbers (metrics/summary.json, short enough for `dvc exp show`)
and at most 30 lines of text, from the stage reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rrlfeh.errors import DataError
from rrlfeh.summary import run_summary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reports(tmp_path):
    """The stage reports of the default run kept in git, and a registration."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    for name in ("clean.json", "train_rrab.json", "train_rrc.json"):
        shutil.copy(ROOT / "metrics" / name, metrics / name)
    registered = tmp_path / "registered.json"
    registered.write_text(json.dumps({"model_name": "rrl-feh", "version": "4", "promoted": False,
                                      "decision": "kept champion", "champion": "3",
                                      "reason": "challenger worse for rrc: wRMSE 0.09 vs champion 0.08"}))
    return metrics, registered


def test_headline_and_text(reports, tmp_path):
    metrics, registered = reports
    lines = run_summary(metrics, registered, tmp_path / "summary.json")
    assert len(lines) <= 30
    text = "\n".join(lines)
    train = json.loads((metrics / "train_rrab.json").read_text())
    clean = json.loads((metrics / "clean.json").read_text())
    assert f"{clean['stars']['kept']} of {clean['stars']['input']} kept" in text
    assert f"{train['oof']['wrmse']:.3f}" in text and f"{train['oracle']['test']['wrmse']:.3f}" in text
    assert "version 4: kept champion; champion is version 3" in text and "challenger worse" in text

    head = json.loads((tmp_path / "summary.json").read_text())
    assert set(head) == {"stars", "rrab", "rrc"}
    ratio = (train.get("ratio_to_oracle") or {}).get("oof_wrmse")  # none with measured labels
    assert head["rrab"]["ratio"] == (None if ratio is None else pytest.approx(ratio, abs=1e-3))
    assert ("no ratio: the labels are the oracle's own values" in text) == (ratio is None)
    assert head["rrab"]["test_wrmse"] == pytest.approx(train["test"]["wrmse"], abs=1e-4)
    # few, short columns: `dvc exp show` (name + 3 spaces per column) fits 200 columns with room
    # for the Experiment and Created columns and a few changed params
    names = [f"{k}.{leaf}" for k, v in head.items() for leaf in v]
    assert sum(len(n) + 3 for n in names) <= 160, names


def test_partial_and_missing_reports(tmp_path, reports):
    metrics, _ = reports
    (metrics / "train_rrc.json").unlink()
    text = "\n".join(run_summary(metrics, tmp_path / "none.json"))
    assert "RRab  CV" in text and "RRc   CV" not in text and "registered rrl-feh" not in text
    with pytest.raises(DataError, match="dvc repro"):
        run_summary(tmp_path / "empty", tmp_path / "none.json")


def test_the_ratio_column_reads_the_train_report(reports, tmp_path):
    """A ratio where the train stage reports one (a noise floor to compare with); none, and a note,
    where the labels are the oracle's own values (the floor is float precision)."""
    metrics, registered = reports
    for t in ("rrab", "rrc"):
        path = metrics / f"train_{t}.json"
        m = json.loads(path.read_text())
        m["oracle"]["oof"]["wrmse"], m["oof"]["wrmse"] = 0.05, 0.06
        m["ratio_to_oracle"] = {"oof_wrmse": 1.2, "test_wrmse": 1.3}
        path.write_text(json.dumps(m))
    text = "\n".join(run_summary(metrics, registered, tmp_path / "summary.json"))
    assert "1.20" in text and "1.30" in text and "no ratio" not in text
    for t in ("rrab", "rrc"):
        path = metrics / f"train_{t}.json"
        m = json.loads(path.read_text())
        m["oracle"]["oof"]["wrmse"] = 4e-8
        m.pop("ratio_to_oracle")
        path.write_text(json.dumps(m))
    text = "\n".join(run_summary(metrics, registered, tmp_path / "summary.json"))
    assert "no ratio: the labels are the oracle's own values" in text and "1.20" not in text
