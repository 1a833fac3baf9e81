"""The input of the `rrlfeh predict` integration tests (test_predict, test_spark): tiny-workspace
stars as archive CSV files with the awkward cases a real catalogue has."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import schema
from tests.support.model_fixture import TinyWorkspace, tiny_params

URI = "models:/rrl-feh@champion"
N_STARS = 40
RRD, NO_EPOCHS, ALL_FLAGGED, ORPHAN = 9_000_001, 9_000_002, 9_000_003, 9_000_004


def predict_config(**kw):
    """predict's config for the tiny model, with `kw` changed."""
    return dataclasses.replace(tiny_params().predict, **kw)


def write_gaia_files(tiny_workspace: TinyWorkspace, out: Path) -> Path:
    """N_STARS tiny-workspace stars plus the awkward cases, as archive CSV files."""
    clean = tiny_workspace.clean_dir
    vari = schema.read_table(clean / "vari_rrlyrae.parquet", "vari_rrlyrae")
    vari = pd.concat([vari.head(N_STARS // 2), vari.tail(N_STARS // 2)], ignore_index=True)
    ep = schema.read_table(clean / "epoch_photometry.parquet", "epoch_photometry")
    ep = ep[ep["source_id"].isin(vari["source_id"])]
    labels = schema.read_table(clean / "labels.parquet", "labels")
    rng = np.random.default_rng(3)
    vari["ra"], vari["dec"] = rng.uniform(0, 360, len(vari)), rng.uniform(-60, 60, len(vari))

    extra = vari.head(3).copy()
    extra["source_id"] = [RRD, NO_EPOCHS, ALL_FLAGGED]
    extra["best_classification"] = ["RRd", "RRab", "RRab"]
    donor = ep[ep["source_id"] == vari["source_id"].iloc[0]]
    copies = []
    for sid, flagged in [(RRD, False), (ALL_FLAGGED, True), (ORPHAN, False)]:
        c = donor.copy()
        c["source_id"], c["rejected_by_variability"] = sid, flagged
        copies.append(c)
    bp = ep.head(30).assign(band="BP", mag=ep.head(30)["mag"] + 0.3)  # other bands never go in
    ep = pd.concat([ep, bp, *copies], ignore_index=True).sort_values(
        ["source_id", "time"], kind="stable")

    pd.concat([vari, extra], ignore_index=True).to_csv(out / "vari_rrlyrae.csv", index=False)
    ep.to_csv(out / "epoch_photometry.csv", index=False)
    labels[labels["source_id"].isin(vari["source_id"])].to_csv(out / "labels.csv", index=False)
    return out
