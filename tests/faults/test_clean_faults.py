"""`clean` run by hand on hostile raw tables: an infinite period is the star's bad_period reason,
not a failure of clean's own final validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config import load_params
from rrlfeh.core import schema
from rrlfeh.quality.clean import run_clean
from tests.support.model_fixture import simulate


def test_infinite_periods_are_a_reason(tmp_path):
    from pathlib import Path

    d = simulate(8, seed=1)
    vari = d["vari_rrlyrae"]
    ids = np.sort(vari["source_id"].unique())
    vari.loc[vari["source_id"] == ids[2], "pf"] = np.inf
    vari.loc[vari["source_id"] == ids[12], "p1_o"] = -np.inf
    raw = tmp_path / "raw"
    for name, df in {"vari_rrlyrae": vari, "epoch_photometry": d["epoch_photometry"],
                     "labels": d["labels"], "truth": schema.empty("truth")}.items():
        schema.write_table(schema.conform(df, name), raw / f"{name}.parquet", name)
    p = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    run_clean(p.clean, p.validate, raw, tmp_path / "clean", tmp_path / "m.json", tmp_path / "plots",
              report_dir=tmp_path / "rep")
    rej = pd.read_parquet(tmp_path / "clean" / "rejected.parquet").set_index("source_id")
    assert rej.loc[ids[2], "reason"] == "bad_period" and rej.loc[ids[2], "detail"] == "pf=inf"
    assert rej.loc[ids[12], "reason"] == "bad_period"


def test_rows_of_other_bands_at_the_g_transits_are_not_duplicates():
    """Rows with band 'g' or 'X' beside the G rows (same transit ids and times, other mags) are not
    G: clean and predict both leave them out, and no star becomes duplicate_transits for them."""
    from rrlfeh.quality.cuts import epoch_counts
    from rrlfeh.serving.star_rows import clean_curves

    ep = schema.conform(simulate(3, seed=4)["epoch_photometry"], "epoch_photometry")
    g = ep[ep["band"] == "G"]
    odd = pd.concat([g.assign(band="g", mag=g["mag"] + 0.3), g.assign(band="X", mag=g["mag"] - 0.2)])
    both = pd.concat([ep, odd], ignore_index=True).sort_values(["source_id", "time"], kind="stable")
    counts, plain = epoch_counts(both), epoch_counts(ep)
    assert (counts["n_duplicate_rows"] == 0).all() and (counts["n_repeated_rows"] == 0).all()
    assert counts["n_clean_g"].equals(plain["n_clean_g"])
    ids = np.sort(ep["source_id"].unique())
    got, want = clean_curves(both, ids), clean_curves(ep, ids)
    assert np.array_equal(got.source_id, want.source_id)
    assert np.array_equal(got.offsets, want.offsets) and np.array_equal(got.mag, want.mag)


def test_labels_without_errors_pass_clean_and_its_own_validation(tmp_path):
    """A catalogue with no label errors (like the paper's): the feh_error cut is skipped and
    recorded, and clean's own suite does not then demand an error of every label."""
    import json

    d = simulate(6, seed=2)
    raw = tmp_path / "raw"
    labels = d["labels"].assign(feh_error=np.nan)
    for name, df in {"vari_rrlyrae": d["vari_rrlyrae"], "epoch_photometry": d["epoch_photometry"],
                     "labels": labels, "truth": schema.empty("truth")}.items():
        schema.write_table(schema.conform(df, name), raw / f"{name}.parquet", name)
    p = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    run_clean(p.clean, p.validate, raw, tmp_path / "clean", tmp_path / "m.json", tmp_path / "plots",
              report_dir=tmp_path / "rep")
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["feh_error_cut"].startswith("skipped") and metrics["stars"]["kept"] > 0
