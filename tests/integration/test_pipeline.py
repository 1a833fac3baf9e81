"""The real DVC pipeline end to end on a tiny simulated catalogue: `dvc repro` in a fresh repo.

Runs every stage as DVC runs it (subprocesses of the `rrlfeh` CLI), into a real MLflow SQLite
store, then checks the outputs, the metrics DVC shows, the registry aliases, and that a second
`dvc repro` has nothing to do (seeded, reproducible stages).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.tiny_repo import BIN, run, set_key, tiny_repo

@pytest.mark.integration
def test_dvc_repro_end_to_end(tmp_path):
    repo, env, params = tiny_repo(tmp_path)
    run(["dvc", "repro"], repo, env)

    for out in ["data/raw/epoch_photometry.parquet", "data/clean/rejected.parquet",
                "data/processed/rrab.npz", "data/processed/rrc.npz",
                "models/tune/rrab/best_hparams.json", "models/rrab/manifest.json",
                "models/rrc/manifest.json", "models/registered.json"]:
        assert (repo / out).exists(), out

    clean = json.loads((repo / "metrics/clean.json").read_text())
    assert clean  # counts per cut and type
    # DVC shows the headline only; the stage reports keep the detail
    shown = run(["dvc", "metrics", "show", "--json"], repo, env).stdout
    assert "metrics/summary.json" in shown and "metrics/train_rrab.json" not in shown
    headline = json.loads((repo / "metrics/summary.json").read_text())
    assert set(headline) == {"stars", "rrab", "rrc"} and set(headline["rrab"]) == {
        "r2", "wrmse", "ratio", "test_wrmse", "test_ratio"}
    text = run([str(BIN / "rrlfeh"), "summary"], repo, env).stdout
    assert len(text.splitlines()) <= 30 and "RRab" in text and "champion is version 1" in text, text

    registered = json.loads((repo / "models/registered.json").read_text())
    assert registered.get("promoted") is True  # first version: no champion to beat

    # Seeded stages: nothing changes when the pipeline is asked again.
    again = run(["dvc", "repro"], repo, env).stdout
    assert "up to date" in again.lower() or "didn't change" in again.lower(), again
    status = run(["dvc", "status"], repo, env).stdout
    assert "changed" not in status, status

    # Knobs that do not change results rerun nothing (params per key); one that does reruns its stage.
    for key, value in [("train.n_jobs", 1), ("preprocess.chunk_stars", 7), ("extract.gaia.retries", 9)]:
        set_key(params, key, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], repo, env).stdout
    assert "changed" not in status, status
    set_key(params, "train.epochs", params["train"]["epochs"] + 1)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status", "--json"], repo, env).stdout
    assert set(json.loads(status)) == {"train@rrab", "train@rrc"}, status
