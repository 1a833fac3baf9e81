"""Streaming over the epoch table (any chunking, any n_jobs) and the preprocess stage's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrlfeh.config import load_params
from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core import schema
from rrlfeh.core.reasons import of_stage
from rrlfeh.core.epoch_stream import iter_parquet_stars
from rrlfeh.errors import DataError
from rrlfeh.features.batch import preprocess_batches
from rrlfeh.features.preprocess import run_preprocess
from rrlfeh.features.tensors import CurveOptions, preprocess_arrays

CFG = PreprocessConfig(chunk_stars=7, n_jobs=1)


def catalogue(n=40, seed=0):
    """(vari_rrlyrae, epoch_photometry with G/BP rows and flagged transits, labels) tables."""
    rng = np.random.default_rng(seed)
    sid = rng.choice(10**15, n, replace=False).astype(np.int64)
    rrab = np.arange(n) % 3 != 0
    period = np.where(rrab, rng.uniform(0.45, 0.8, n), rng.uniform(0.25, 0.4, n))
    epoch = rng.uniform(1700, 2600, n)
    n_ep = rng.integers(12, 90, n)
    n_ep[1] = 5  # too few epochs
    star = np.repeat(np.arange(n), n_ep)
    t = rng.uniform(1666.4, 2704.4, len(star))
    ph = 2 * np.pi * (t - epoch[star]) / period[star]
    mag = 16 - 0.3 * np.cos(ph) - 0.1 * np.cos(2 * ph) + rng.normal(0, 0.01, len(star))
    mag[rng.random(len(star)) < 0.02] = np.nan  # rejected_by_photometry rows have no magnitude
    mag[star == 2] = 16.0  # constant
    g = pd.DataFrame({"source_id": sid[star], "band": "G", "time": t, "mag": mag,
                      "rejected_by_variability": rng.random(len(star)) < 0.03})
    bp = g.assign(band="BP", mag=g["mag"] + 0.3)
    epochs = pd.concat([g, bp]).sort_values(["source_id", "band", "time"], kind="stable")
    vari = pd.DataFrame({
        "source_id": sid, "pf": np.where(rrab, period, np.nan), "p1_o": np.where(rrab, np.nan, period),
        "epoch_g": epoch, "best_classification": np.where(rrab, "RRab", "RRc"),
    })
    labels = pd.DataFrame({"source_id": sid[::2], "feh": rng.normal(-1.5, 0.4, len(sid[::2])),
                           "feh_error": 0.3})
    return vari, epochs, labels


def per_star_reference(vari, epochs, opts):
    """preprocess_arrays on hand-built per-star arrays (G, unflagged): the reference result."""
    g = epochs[(epochs["band"] == "G") & ~epochs["rejected_by_variability"]]
    by_star = dict(tuple(g.groupby("source_id")))
    empty = g.iloc[:0]
    lcs = [by_star.get(s, empty) for s in vari["source_id"]]
    period = vari["pf"].fillna(vari["p1_o"]).to_numpy()
    return preprocess_arrays([lc["time"].to_numpy() for lc in lcs], [lc["mag"].to_numpy() for lc in lcs],
                             period, vari["epoch_g"].to_numpy(), opts)


@pytest.fixture(scope="module")
def tables():
    return catalogue()


def _batch(vari, epochs, batches, n_jobs):
    period = vari["pf"].fillna(vari["p1_o"]).to_numpy()
    return preprocess_batches(batches, vari["source_id"].to_numpy(), period, vari["epoch_g"].to_numpy(),
                              CFG.curve_options("rrab"), n_jobs=n_jobs)


def test_streaming_equals_preprocess_arrays_whatever_the_chunking_and_jobs(tables, tmp_path):
    vari, epochs, _ = tables
    ref = per_star_reference(vari, epochs, CFG.curve_options("rrab"))
    assert set(ref.reason) >= {"", "few_epochs", "constant_magnitudes"}
    grouped = tmp_path / "grouped.parquet"
    epochs.to_parquet(grouped, index=False, row_group_size=333)
    shuffled = tmp_path / "shuffled.parquet"  # stars not contiguous: read whole and sorted
    epochs.sample(frac=1, random_state=1).to_parquet(shuffled, index=False)
    runs = [
        ([epochs], 1),
        (iter_parquet_stars(grouped, 1), 1),
        (iter_parquet_stars(grouped, 7), 1),
        (iter_parquet_stars(shuffled, 11), 1),
        (iter_parquet_stars(grouped, 5), 2),
    ]
    for batches, n_jobs in runs:
        res, counts = _batch(vari, epochs, batches, n_jobs)
        np.testing.assert_array_equal(res.reason, ref.reason)
        np.testing.assert_array_equal(res.n_epochs, ref.n_epochs)
        np.testing.assert_allclose(res.X, ref.X, atol=1e-6)
        np.testing.assert_allclose(res.amplitude, ref.amplitude, atol=1e-9)
    g = epochs[epochs["band"] == "G"]
    assert counts["rows_other_band"] == int((epochs["band"] != "G").sum())
    assert counts["transits_flagged"] == int(g["rejected_by_variability"].sum())
    assert counts["transits_nan"] == int((~g["rejected_by_variability"] & g["mag"].isna()).sum())
    assert counts["transits_used"] == int(ref.n_epochs.sum())


@pytest.mark.parametrize("order", ["grouped", "shuffled"])
def test_parquet_stars_of_one_type_only(tables, tmp_path, order):
    vari, epochs, _ = tables
    rrc = vari.loc[vari["best_classification"] == "RRc", "source_id"].to_numpy()
    rows = epochs if order == "grouped" else epochs.sample(frac=1, random_state=2)
    path = tmp_path / "epochs.parquet"
    rows.to_parquet(path, index=False, row_group_size=100)
    batches = list(iter_parquet_stars(path, 4, rrc))
    ids = [b["source_id"].unique() for b in batches]
    assert [len(i) for i in ids] == [4] * (len(rrc) // 4) + [len(rrc) % 4] * (len(rrc) % 4 > 0)
    assert sorted(np.concatenate(ids)) == sorted(rrc)  # every RRc star, once, and no RRab row
    got = pd.concat(batches).sort_values(["source_id", "band", "time"], ignore_index=True)
    want = epochs[epochs["source_id"].isin(rrc)].sort_values(["source_id", "band", "time"], ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_stars_without_rows_split_stars_and_unknown_rows(tables):
    vari, epochs, _ = tables
    first = vari["source_id"].iloc[0]
    res, counts = _batch(vari, epochs, [epochs[epochs["source_id"] != first]], 1)
    assert res.reason[0] == "few_epochs" and res.n_epochs[0] == 0
    no_period = vari.assign(pf=np.nan, p1_o=np.nan)
    res, _ = _batch(no_period, epochs, [epochs[epochs["source_id"] != first]], 1)
    assert (res.reason == "bad_period").all()  # the same reason as preprocess_arrays gives
    stranger = epochs[epochs["band"] == "G"].iloc[:3].assign(source_id=123)
    _, counts = _batch(vari, epochs, [epochs, stranger], 1)
    assert counts["rows_unknown_star"] == 3
    rows = epochs[(epochs["source_id"] == first) & (epochs["band"] == "G")]
    with pytest.raises(DataError, match=f"whole stars.*{first}"):
        _batch(vari, epochs, [rows.iloc[:4], rows.iloc[4:]], 1)
    with pytest.raises(DataError, match="duplicated source_id"):
        _batch(pd.concat([vari, vari.iloc[:1]]), epochs, [epochs], 1)


def _clean_dir(tmp_path, vari, epochs, labels):
    clean = tmp_path / "clean"
    schema.write_table(vari, clean / "vari_rrlyrae.parquet", "vari_rrlyrae")
    schema.write_table(epochs, clean / "epoch_photometry.parquet", "epoch_photometry")
    schema.write_table(labels, clean / "labels.parquet", "labels")
    return clean


@pytest.mark.parametrize("star_type", ["rrab", "rrc"])
def test_run_preprocess_writes_the_contract(tables, tmp_path, star_type):
    vari, epochs, labels = tables
    clean = _clean_dir(tmp_path, vari, epochs, labels)
    cfg = PreprocessConfig(chunk_stars=8, n_jobs=1)
    report = run_preprocess(cfg, star_type, clean, tmp_path / "processed", tmp_path / "plots")
    out = tmp_path / "processed"
    data = np.load(out / f"{star_type}.npz")
    assert set(data.files) == {"X", "y", "w", "source_id", "n_epochs", "period", "amplitude", "feh_error",
                               "scatter", "phase_gap"}
    n = len(data["source_id"])
    # how well each curve folds: a small positive share of its amplitude for these clean curves
    assert np.all((data["scatter"] > 0) & (data["scatter"] < 0.5))
    assert np.all((data["phase_gap"] > 0) & (data["phase_gap"] <= cfg.max_phase_gap))
    assert data["X"].shape == (n, cfg.n_points(star_type), 2) and data["X"].dtype == np.float32
    assert np.all(np.diff(data["source_id"]) > 0)
    labelled = np.isfinite(data["y"])
    assert 0 < labelled.sum() < n
    assert np.all(data["w"][~labelled] == 1) and np.isnan(data["feh_error"][~labelled]).all()
    assert data["w"][labelled].sum() == pytest.approx(labelled.sum(), rel=1e-5)
    # every star of the type leaves in the tensors or in the rejects, with its reason
    rejected = schema.read_table(out / f"{star_type}_rejected.parquet", "rejected")
    name = {"rrab": "RRab", "rrc": "RRc"}[star_type]
    ids = set(vari.loc[vari["best_classification"] == name, "source_id"])
    assert set(data["source_id"]) | set(rejected["source_id"]) == ids
    assert not set(data["source_id"]) & set(rejected["source_id"])
    assert (rejected["stage"] == "preprocess").all() and rejected["detail"].str.contains("n_epochs=").all()
    assert set(rejected["reason"]) <= set(of_stage("preprocess"))
    c = json.loads((out / f"{star_type}.json").read_text())["counts"]
    assert c == report["counts"]
    assert c["stars_in"] == len(ids) == c["stars_out"] + sum(v for k, v in c.items() if k.startswith("rejected_"))
    assert c["stars_out"] == n and c["stars_out_labelled"] == labelled.sum()
    assert (tmp_path / "plots" / "curves.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / "feh_weights.png").exists()


def test_run_preprocess_without_labels(tables, tmp_path):
    vari, epochs, labels = tables
    clean = _clean_dir(tmp_path, vari, epochs, labels.iloc[:0])
    run_preprocess(CFG, "rrab", clean, tmp_path / "p", tmp_path / "plots")
    data = np.load(tmp_path / "p" / "rrab.npz")
    assert len(data["y"]) and np.isnan(data["y"]).all() and (data["w"] == 1).all()


def test_params_file_drives_the_curve_options():
    p = load_params(Path(__file__).resolve().parents[2] / "params.yaml").preprocess
    # CurveOptions' defaults are PreprocessConfig's: keep them the pipeline's values
    assert p == PreprocessConfig(), "params.yaml preprocess differs from PreprocessConfig defaults"
    opts = p.curve_options("rrc")
    assert opts["n_points"] == p.n_points_rrc
    assert CurveOptions.of(opts).n_points == p.n_points_rrc  # every key is a curve option


def test_unreadable_epoch_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "epoch_photometry.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        list(iter_parquet_stars(bad, 10))
    pd.DataFrame({"source_id": [1], "mag": [15.0]}).to_parquet(bad)
    with pytest.raises(DataError, match="needs columns source_id, time, mag"):
        list(iter_parquet_stars(bad, 10))
    with pytest.raises(DataError, match="does not exist"):
        list(iter_parquet_stars(tmp_path / "nope.parquet", 10))
