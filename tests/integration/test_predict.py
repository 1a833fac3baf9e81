"""`rrlfeh predict` end to end: Gaia-layout files in, a catalogue with units and provenance out.

The tiny trained model (tests/support/model_fixture.py) is registered as champion in a private
SQLite store (tests/integration/conftest.py); the input (tests/support/predict_inputs.py) is
written as the archive delivers it (CSV, all three bands, flagged transits) with the
awkward cases a real catalogue has: an RRd star, a star without epochs, a star whose G transits
are all flagged, epochs of a star missing from vari_rrlyrae. Every star must come out once, in the
catalogue or in the rejects file with its reason, and the [Fe/H] must equal what the registered
model answers for the same rows.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from rrlfeh.core import schema
from rrlfeh.errors import DataError
from rrlfeh.serving import star_rows
from rrlfeh.serving.catalogue import read_catalogue, rejects_path
from rrlfeh.serving.payload import model_input_from_tables
from rrlfeh.serving.predict import run_predict
from tests.support.model_fixture import tiny_params
from tests.support.predict_inputs import (
    ALL_FLAGGED, N_STARS, NO_EPOCHS, ORPHAN, RRD, URI, predict_config,
)

BIN = Path(sys.executable).parent


def test_every_star_is_predicted_or_rejected_with_its_reason(predicted, gaia_dir):
    counts, out = predicted
    cat, _, _ = read_catalogue(out)
    rejected = pd.read_parquet(rejects_path(out))
    reasons = dict(zip(rejected["source_id"], rejected["reason"]))
    assert reasons[RRD] == "unknown_type"
    assert reasons[NO_EPOCHS] == "no_epochs"
    assert reasons[ALL_FLAGGED] == "no_clean_g_epochs"
    assert reasons[ORPHAN] == "not_in_vari_rrlyrae"
    vari_ids = pd.read_csv(gaia_dir / "vari_rrlyrae.csv")["source_id"]
    everyone = set(vari_ids) | {ORPHAN}
    assert set(cat["source_id"]) | set(rejected["source_id"]) == everyone
    assert not set(cat["source_id"]) & set(rejected["source_id"])
    assert counts["stars_in"] == len(everyone) == counts["stars_predicted"] + counts["stars_rejected"]
    assert counts["stars_predicted"] == len(cat) == N_STARS
    assert counts["stars_only_in_epoch_photometry"] == 1
    assert counts["rejected_by_reason"] == {"no_clean_g_epochs": 1, "no_epochs": 1,
                                            "not_in_vari_rrlyrae": 1, "unknown_type": 1}
    assert counts["reconciled"] is True
    assert (rejected["stage"] == "predict").all()


def test_catalogue_equals_the_registered_model_on_the_same_rows(predicted, gaia_dir):
    _, out = predicted
    cat, _, _ = read_catalogue(out)
    vari = schema.conform(pd.read_csv(gaia_dir / "vari_rrlyrae.csv"), "vari_rrlyrae")
    ep = schema.conform(pd.read_csv(gaia_dir / "epoch_photometry.csv"), "epoch_photometry")
    vari = vari[vari["source_id"].isin(cat["source_id"])]
    expected = mlflow.pyfunc.load_model(URI).predict(model_input_from_tables(vari, ep))
    merged = cat.merge(expected, on="source_id", suffixes=("", "_model"), validate="one_to_one")
    assert len(merged) == N_STARS and (merged["status"] == "ok").all()
    # float32 networks: a star's output moves in the 7th digit with the batch it is computed in
    np.testing.assert_allclose(merged["feh"], merged["feh_model"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(merged["feh_std"], merged["feh_std_model"], rtol=0, atol=1e-5)
    assert (merged["n_epochs"] == merged["n_epochs_model"]).all()
    assert (merged["out_of_range"] == merged["out_of_range_model"]).all()
    # ra/dec/type/period come from vari_rrlyrae, labels from labels.csv
    ref = vari.set_index("source_id").loc[cat["source_id"]]
    np.testing.assert_allclose(cat["ra"], ref["ra"])
    assert (cat["type"].to_numpy() == ref["best_classification"].to_numpy()).all()
    np.testing.assert_allclose(cat["period"], schema.period_of(ref.reset_index()))
    assert np.isfinite(cat["feh_label"]).all()
    assert (np.abs(cat["feh"] - cat["feh_label"]) < 1.5).all()  # a trained model, not noise


def test_units_and_provenance_in_the_file(predicted, store):
    counts, out = predicted
    _, meta, units = read_catalogue(out)
    assert units == {"ra": "deg", "dec": "deg", "period": "d", "feh": "dex", "feh_error": "dex", "feh_std": "dex",
                     "feh_label": "dex", "feh_label_error": "dex"}
    assert meta["model_name"] == "rrl-feh" and meta["model_alias"] == "champion"
    assert meta["model_version"] == store["version"]
    assert meta["model_run_id"] == store["run_id"]
    client = mlflow.MlflowClient()
    assert meta["model_git_commit"] == client.get_run(store["run_id"]).data.tags["git_commit"]
    assert meta["created_utc"].endswith("+00:00")
    assert counts["model"] == meta


def test_plots(predicted):
    counts, out = predicted
    names = sorted(Path(p).name for p in counts["plots"])
    assert names == ["feh_vs_labels.png", "sky_feh.png"]
    assert all(Path(p).stat().st_size > 10_000 for p in counts["plots"])


@pytest.mark.integration
def test_cli_with_a_worker_pool_writes_the_same_catalogue_as_fits(predicted, gaia_dir, tmp_path):
    """`rrlfeh predict` in a subprocess, two worker processes, another chunk size: same numbers."""
    counts, out = predicted
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(dataclasses.asdict(tiny_params(n_jobs=2, chunk_stars=9))))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    fits_out = tmp_path / "cat.fits"
    proc = subprocess.run(
        [str(BIN / "rrlfeh"), "predict", "--input", str(gaia_dir / "vari_rrlyrae.csv"),
         "--input", str(gaia_dir / "epoch_photometry.csv"), "--output", str(fits_out),
         "--params", str(params), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pool = json.loads(proc.stdout[proc.stdout.index("{"):])
    for key in ("stars_in", "stars_predicted", "rejected_by_reason", "reconciled"):
        assert pool[key] == counts[key], key
    a, _, _ = read_catalogue(out)
    b, meta, units = read_catalogue(fits_out)
    pd.testing.assert_frame_equal(a.drop(columns=["feh_label", "feh_label_error"]), b,
                                  check_dtype=False, atol=1e-5)  # no labels file named: no labels
    assert meta == {k: v for k, v in pool["model"].items()} and units["feh"] == "dex"
    pd.testing.assert_frame_equal(pd.read_parquet(rejects_path(out)),
                                  pd.read_parquet(rejects_path(fits_out)))

    bad = subprocess.run(
        [str(BIN / "rrlfeh"), "predict", "--input", str(gaia_dir), "--output",
         str(tmp_path / "cat.txt"), "--params", str(params)],
        capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("rrlfeh: error:") and "Traceback" not in bad.stderr
    assert ".ecsv" in bad.stderr


def test_our_own_parquet_tables_work_as_input(predicted, gaia_dir, tmp_path):
    """A data/raw- or data/clean-like folder of our Parquet tables gives the same catalogue."""
    _, out = predicted
    folder = tmp_path / "clean"
    for name in ("vari_rrlyrae", "epoch_photometry", "labels"):
        df = schema.conform(pd.read_csv(gaia_dir / f"{name}.csv"), name)
        schema.write_table(df, folder / f"{name}.parquet", name)
    schema.write_table(schema.empty("rejected"), folder / "rejected.parquet", "rejected")
    counts = run_predict(predict_config(n_jobs=1), URI, [folder], tmp_path / "c.parquet", "local",
                         progress=False)
    assert counts["reconciled"] and counts["stars_predicted"] == N_STARS
    a, _, _ = read_catalogue(out)
    c, _, _ = read_catalogue(tmp_path / "c.parquet")
    pd.testing.assert_frame_equal(a, c, check_dtype=False, atol=1e-5)


def test_clear_errors(store, gaia_dir, tmp_path):
    with pytest.raises(DataError, match="output must end in"):
        run_predict(predict_config(), URI, [gaia_dir], tmp_path / "x.csv", "local")
    with pytest.raises(DataError, match="not found in the registry"):
        run_predict(predict_config(), "models:/no-such-model@champion", [gaia_dir], tmp_path / "x.fits", "local")
    with pytest.raises(DataError, match="vari_rrlyrae"):
        run_predict(predict_config(), URI, [gaia_dir / "epoch_photometry.csv"], tmp_path / "x.fits", "local")


def test_chunk_rows_reasons_without_a_model():
    """The table logic alone: which rows go in, in time order, and who is settled before the model."""
    vari = schema.conform(pd.DataFrame({
        "source_id": [5, 3, 1], "pf": [0.6, np.nan, 0.55], "p1_o": [np.nan, 0.3, np.nan],
        "epoch_g": [1700.0, 1700.0, 1700.0], "best_classification": ["RRab", "RRc", "RRab"]}),
        "vari_rrlyrae")
    stars = star_rows.star_table(vari)
    ep = schema.conform(pd.DataFrame({
        "source_id": [1, 1, 1, 1, 3, 3, 7],
        "band": ["G", "G", "BP", "G", "G", "G", "G"],
        "time": [1800.0, 1700.0, 1750.0, 1750.0, 1700.0, 1750.0, 1.0],
        "mag": [15.0, 15.5, 16.0, np.nan, np.nan, 15.0, 1.0],
        "rejected_by_variability": [False, False, False, False, False, True, False]}),
        "epoch_photometry")
    rows, rejects, seen = star_rows.chunk_rows(ep, stars)
    assert rows["source_id"].tolist() == [1]
    assert rows["time"][0].tolist() == [1700.0, 1800.0] and rows["mag"][0].tolist() == [15.5, 15.0]
    assert dict(zip(rejects["source_id"], rejects["reason"])) == {
        3: "no_clean_g_epochs", 7: "not_in_vari_rrlyrae"}
    missing = star_rows.missing_stars(stars, seen)
    assert missing["source_id"].tolist() == [5] and missing["reason"].tolist() == ["no_epochs"]
    with pytest.raises(DataError, match="more than once"):
        star_rows.reconcile(stars, seen, star_rows.empty_predicted(),
                            star_rows.concat_rejects([rejects, rejects, missing]))


def test_the_model_computes_with_its_own_config_not_the_workspace_params(predicted, gaia_dir, tmp_path):
    """Two workspaces whose params.yaml predict sections differ give the same catalogue (the
    registered version's config is the truth); an explicit override changes it and is recorded."""
    _, out = predicted
    a, _, _ = read_catalogue(out)
    other = predict_config(n_jobs=1, chunk_stars=7, min_epochs=500, error_scale=5.0, extra_error=0.3,
                 time_window=[0.0, 1.0], period_range=[0.9, 1.0])
    run_predict(other, URI, [gaia_dir], tmp_path / "b.ecsv", "local", progress=False)
    b, meta_b, _ = read_catalogue(tmp_path / "b.ecsv")
    pd.testing.assert_frame_equal(a, b)
    logged = json.loads(meta_b["model_config"])
    assert logged["error_scale"] == tiny_params().predict.error_scale and logged["min_epochs"] != 500
    assert json.loads(meta_b["model_config_overrides"]) == {}

    larger = 2.0 * tiny_params().predict.error_scale  # above the logged one: every error grows
    run_predict(other, URI, [gaia_dir], tmp_path / "c.ecsv", "local", progress=False,
                overrides={"error_scale": larger})
    c, meta_c, _ = read_catalogue(tmp_path / "c.ecsv")
    assert json.loads(meta_c["model_config_overrides"]) == {"error_scale": larger}
    assert json.loads(meta_c["model_config"])["error_scale"] == larger
    np.testing.assert_array_equal(c["feh"], a["feh"])
    assert (c["feh_error"] >= a["feh_error"]).all() and (c["feh_error"] > a["feh_error"]).any()


@pytest.mark.integration
def test_set_and_a_manifest_missing_a_preprocessing_key_are_one_line(store, gaia_dir, tmp_path):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    model = Path(mlflow.artifacts.download_artifacts(URI, dst_path=str(tmp_path / "model")))

    def predict(*extra):
        return subprocess.run([str(BIN / "rrlfeh"), "predict", "--input", str(gaia_dir), "--output",
                               str(tmp_path / "x.parquet"), "--no-progress", "--model", str(model),
                               *extra], capture_output=True, text=True, env=env, timeout=300)

    for bad, words in ((["--set", "smoothing=1"], "expected KEY=VALUE with KEY one of"),
                       (["--set", "error_scale=-1"], "error_scale must be in (0, 100)")):
        proc = predict(*bad)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert words in proc.stderr.strip().splitlines()[-1]
    manifest = next(model.rglob("manifest.json"))
    data = json.loads(manifest.read_text())
    del data["preprocess"]["smoothing"]
    manifest.write_text(json.dumps(data))
    proc = predict()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert "preprocessing options missing ['smoothing']" in line and "manifest.json" in line, line
