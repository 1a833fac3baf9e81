"""`rrlfeh predict` on hostile catalogues: impossible stars get a reason, repeated epochs count
once, bad output paths and model folders fail before any work, secrets never reach a message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.serving.catalogue import read_catalogue, rejects_path
from rrlfeh.serving.predict import run_predict
from tests.support.hostile import one_line, per_source_zip, predict_cfg, unprivileged
from tests.support.model_fixture import simulate

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """40 stars; 5 of them made impossible or repeated the ways users' files do."""
    root = tmp_path_factory.mktemp("hostile")
    data = simulate(20, seed=5)
    ep = data["epoch_photometry"].copy()
    ids = np.sort(ep["source_id"].unique())
    jd, far, inf_mag, repeated, late = ids[[1, 3, 5, 7, 30]]
    ep.loc[ep["source_id"] == jd, "time"] += 2455197.5  # JD instead of BJD - 2455197.5
    ep.loc[ep.index[ep["source_id"] == far][0], "time"] = 1e15
    ep.loc[ep.index[ep["source_id"] == inf_mag][2], "mag"] = -np.inf
    ep.loc[ep["source_id"] == late, "time"] += 900.0  # a DR4-like span: accepted
    ep = pd.concat([ep, ep[ep["source_id"] == repeated]]).sort_values(
        ["source_id", "time"], kind="stable", ignore_index=True)  # every row of one star twice
    data["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    per_source_zip(root / "datalink.zip", ep)
    clean_rows = ep[(ep["source_id"] == repeated) & ep["band"].eq("G") & ~ep["rejected_by_variability"]]
    return root, {"jd": jd, "far": far, "inf_mag": inf_mag, "repeated": repeated, "late": late,
                  "n_repeated": len(clean_rows) // 2, "n_stars": len(ids)}


def test_impossible_stars_are_rejected_and_repeats_count_once(model_dir, hostile, tmp_path):
    root, s = hostile
    out = tmp_path / "cat.parquet"
    counts = run_predict(predict_cfg(), str(model_dir), [root], out, "local", progress=False)
    cat, _, _ = read_catalogue(out)
    rej = schema.read_table(rejects_path(out), "rejected").set_index("source_id")
    assert counts["stars_in"] == counts["stars_predicted"] + counts["stars_rejected"] == s["n_stars"]
    assert rej.loc[s["jd"], "reason"] == "time_outside_window"
    assert "2.45" in rej.loc[s["jd"], "detail"]  # the JD times are shown
    assert rej.loc[s["far"], "reason"] == "time_outside_window"
    assert rej.loc[s["inf_mag"], "reason"] == "mag_outside_range"
    assert s["late"] in set(cat["source_id"])
    star = cat.set_index("source_id").loc[s["repeated"]]
    assert star["n_epochs"] == s["n_repeated"]
    assert counts["duplicate_epochs_dropped"] == s["n_repeated"]
    assert counts["stars_with_duplicate_epochs"] == 1


@pytest.mark.integration
def test_output_problems_fail_before_any_work(model_dir, hostile, tmp_path):
    root, _ = hostile
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        run_predict(predict_cfg(), str(model_dir), [root], blocker / "cat.parquet", "local", progress=False)
    with pytest.raises(DataError, match="is a file, not a folder"):
        run_predict(predict_cfg(), str(model_dir), [root], tmp_path / "c.parquet", "local", progress=False,
                    plots=blocker)
    (tmp_path / "taken.parquet").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        run_predict(predict_cfg(), str(model_dir), [root], tmp_path / "taken.parquet", "local",
                    progress=False)

    # a folder the user cannot write; as root (CI) the command runs without capabilities, so the
    # permissions bind it as they bind a user
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        probe = subprocess.run([*unprivileged(), "touch", str(locked / "x")], capture_output=True)
        assert probe.returncode != 0, "the test's command could write the locked folder"
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run([*unprivileged(), str(BIN / "rrlfeh"), "predict", "--input", str(root),
                               "--output", str(locked / "cat.fits"), "--model", str(model_dir),
                               "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
        one_line(proc, "cannot write", str(locked))
    finally:
        locked.chmod(0o700)


def test_a_folder_that_is_not_a_model_is_one_line(hostile, tmp_path):
    root, _ = hostile
    with pytest.raises(DataError, match="not an MLflow model \\(no MLmodel file\\)"):
        run_predict(predict_cfg(), str(tmp_path), [root], tmp_path / "c.parquet", "local", progress=False)


@pytest.mark.integration
def test_credentials_never_reach_the_error_line(hostile, tmp_path):
    root, _ = hostile
    token = "tok3n-SUPER-secret-42"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://alice:{token}@127.0.0.1:9",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(BIN / "rrlfeh"), "predict", "--input", str(root), "--output",
                           str(tmp_path / "c.parquet"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert token not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "cannot ask the model registry" in line and "***@127.0.0.1" in line, line


@pytest.mark.parametrize("bad", ["truncated_parquet", "error_page_csv", "no_time_column", "zip"])
def test_a_bad_epoch_file_is_named_before_the_model_is_loaded(hostile, tmp_path, bad):
    """The model is not even looked at (a folder that is not a model would be the error otherwise)."""
    root, _ = hostile
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "vari_rrlyrae.csv").write_bytes((root / "vari_rrlyrae.csv").read_bytes())
    epochs = simulate(2, seed=5)["epoch_photometry"]
    if bad == "truncated_parquet":
        name = "epoch_photometry.parquet"
        epochs.to_parquet(folder / name)
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    elif bad == "error_page_csv":
        name = "epoch_photometry.csv"
        (folder / name).write_text("<html><title>502 Bad Gateway</title></html>")
    elif bad == "no_time_column":
        name = "epoch_photometry.csv"
        epochs.drop(columns="time").to_csv(folder / name, index=False)
    else:
        name = "datalink.zip"
        per_source_zip(folder / name, epochs)
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) - 200])  # the directory cut off
    with pytest.raises(DataError, match=name):
        run_predict(predict_cfg(), str(tmp_path / "no_model_here"), [folder], tmp_path / "c.parquet",
                    "local", progress=False)
