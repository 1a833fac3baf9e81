"""Categorical columns spelled the way users and archives write them: `RRAB`, `rrab`, ` RRab `,
band `g`. `rrlfeh predict` read the period of a type only for the exact spelling (every such star
`bad_period`) and the model's band only as `G` (`no_clean_g_epochs`), while the served model took
`rrab`: the two disagreed. Every reader now spells them as the archive does (schema.conform), and
the served model uses the same function; an unknown type stays unknown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from rrlfeh.serving.catalogue import read_catalogue, rejects_path
from rrlfeh.serving.predict import run_predict
from tests.support.hostile import per_source_zip, predict_outcome, served_outcome
from tests.support.model_fixture import simulate, tiny_params

TYPE_SPELLINGS = {"RRab": ["RRab", "RRAB", "rrab", " RRab ", "rRaB\t", "RR ab"],
                  "RRc": ["RRc", "RRC", "rrc", " rrc", "RRc  "],
                  "RRd": ["RRd", "rrd", " RRD "]}
BAND_SPELLINGS = {"G": ["G", "g", " G", "g "], "BP": ["BP", "bp", "Bp "], "RP": ["RP", "rp", " rP"]}


@pytest.mark.parametrize("canonical,spellings", TYPE_SPELLINGS.items())
def test_every_spelling_of_a_type_is_the_archives(canonical, spellings):
    vari = simulate(1, seed=2)["vari_rrlyrae"].head(1)
    got = [schema.conform(vari.assign(best_classification=s), "vari_rrlyrae")[
        "best_classification"].iloc[0] for s in spellings]
    assert got == [canonical] * len(spellings)
    assert [schema.canonical_type(s) for s in spellings] == [canonical] * len(spellings)


@pytest.mark.parametrize("unknown", ["Cep", "RRe", "RR_ab", "RRab?", "", "ab"])
def test_an_unknown_type_is_never_mapped(unknown):
    assert schema.canonical_type(unknown) == unknown
    vari = simulate(1, seed=2)["vari_rrlyrae"].head(1).assign(best_classification=f" {unknown} ")
    assert schema.conform(vari, "vari_rrlyrae")["best_classification"].tolist() == [unknown]


def test_every_spelling_of_a_band_is_the_archives():
    spellings = [(c, s) for c, ss in BAND_SPELLINGS.items() for s in ss] + [("X", " X "), ("gg", "gg")]
    ep = pd.DataFrame({"source_id": 1, "band": [s for _, s in spellings], "time": 1700.0, "mag": 16.0})
    got = schema.conform(ep, "epoch_photometry")["band"].tolist()
    assert got == [c for c, _ in spellings]


def test_predict_and_the_served_model_agree_on_every_spelling():
    data = simulate(6, seed=9)
    vari, epochs = data["vari_rrlyrae"], data["epoch_photometry"]
    rng = np.random.default_rng(1)
    spelled = vari.assign(best_classification=[
        rng.choice(TYPE_SPELLINGS[t]) for t in vari["best_classification"]])
    spelled.loc[spelled.index[-1], "best_classification"] = " rrd "  # unknown to the model
    canonical = vari.assign(best_classification=schema.conform(spelled, "vari_rrlyrae")[
        "best_classification"].to_numpy())
    bands = epochs.assign(band=[rng.choice(BAND_SPELLINGS[b]) for b in epochs["band"]])
    want = predict_outcome(canonical, epochs)
    assert predict_outcome(spelled, bands) == want
    assert {s: o for s, o in want.items() if o[0] != "rejected"} == served_outcome(spelled, bands)
    rrd = int(vari["source_id"].iloc[-1])
    assert want[rrd][1] == "unknown_type"
    assert sum(o[0] == "model" for o in want.values()) == len(vari) - 1


def test_predict_estimates_every_spelling_as_the_canonical_one(model_dir, catalogue, tmp_path):
    root, data = catalogue
    cfg = tiny_params(n_jobs=1, chunk_stars=16).predict
    spelled = tmp_path / "spelled"
    spelled.mkdir()
    vari, epochs = data["vari_rrlyrae"], data["epoch_photometry"]
    cycle = {t: iter(np.resize(s, len(vari))) for t, s in TYPE_SPELLINGS.items()}
    vari.assign(best_classification=[next(cycle[t]) for t in vari["best_classification"]]).to_csv(
        spelled / "vari_rrlyrae.csv", index=False)
    odd = epochs["source_id"].to_numpy() % 2 == 1
    per_source_zip(spelled / "datalink.zip", epochs.assign(band=np.where(odd, "g", " G ")))
    outs = {}
    for name, folder in [("canonical", root), ("spelled", spelled)]:
        outs[name] = tmp_path / f"{name}.parquet"
        run_predict(cfg, str(model_dir), [folder], outs[name], "local", progress=False)
    want, got = (read_catalogue(outs[k])[0].set_index("source_id") for k in ("canonical", "spelled"))
    assert len(want) == len(vari)
    assert got.index.tolist() == want.index.tolist()
    assert got["type"].tolist() == want["type"].tolist()
    np.testing.assert_allclose(got["feh"], want["feh"], rtol=1e-6)
    assert len(schema.read_table(rejects_path(outs["spelled"]), "rejected")) == 0
