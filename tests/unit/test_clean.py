"""The clean stage's cuts on tiny hand-made tables: each bad input gets its own reason, thresholds
sit where params put them, and every star that enters leaves kept or rejected, once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rrlfeh.config import ConfigError, from_dict
from rrlfeh.config.data import CleanConfig
from rrlfeh.core import schema
from rrlfeh.core.reasons import of_stage
from rrlfeh.quality.clean import kept_epochs, select_stars
from rrlfeh.quality.cuts import CUTS, epoch_counts

CFG = CleanConfig()
GOOD = {"RRab": dict(pf=0.55, p1_o=np.nan, phi31_g_error=0.1),
        "RRc": dict(pf=np.nan, p1_o=0.32, phi31_g_error=np.nan),
        "RRd": dict(pf=0.48, p1_o=0.36, phi31_g_error=np.nan)}


def star(sid: int, cls: str = "RRab", n_clean: int = 55, feh_error: float | None = 0.3,
         flagged: int = 0, nan_mag: int = 0, other_bands: int = 4, **vari) -> dict:
    """One star's rows in the three raw tables; keyword arguments override vari_rrlyrae columns."""
    row = {"source_id": sid, "best_classification": cls, "epoch_g": 1700.0,
           "peak_to_peak_g": 0.7, **GOOD.get(cls, GOOD["RRab"]), **vari}
    n_g = n_clean + flagged + nan_mag
    bands = ["G"] * n_g + ["BP"] * other_bands
    mag = np.full(len(bands), 17.0)
    mag[n_clean:n_clean + nan_mag] = np.nan
    rbv = np.zeros(len(bands), dtype=bool)
    rbv[n_clean + nan_mag:n_g] = True
    epochs = pd.DataFrame({"source_id": sid, "transit_id": np.arange(len(bands)), "band": bands,
                           "time": 1700.0 + np.arange(len(bands)), "mag": mag,
                           "rejected_by_variability": rbv})
    label = None if feh_error is None else {"source_id": sid, "feh": -1.5, "feh_error": feh_error}
    return {"vari": row, "epochs": epochs, "label": label}


def tables(*stars: dict) -> dict[str, pd.DataFrame]:
    labels = [s["label"] for s in stars if s["label"] is not None]
    return {
        "vari_rrlyrae": schema.conform(pd.DataFrame([s["vari"] for s in stars]), "vari_rrlyrae"),
        "epoch_photometry": schema.conform(pd.concat([s["epochs"] for s in stars]), "epoch_photometry"),
        "labels": schema.conform(pd.DataFrame(labels, columns=["source_id", "feh", "feh_error"]), "labels"),
    }


def run(t: dict[str, pd.DataFrame], cfg: CleanConfig = CFG):
    epochs = t["epoch_photometry"]
    out, metrics = select_stars(cfg, t["vari_rrlyrae"], epoch_counts(epochs), t["labels"])
    out["epoch_photometry"] = kept_epochs(epochs, out["vari_rrlyrae"]["source_id"])
    reasons = dict(zip(out["rejected"]["source_id"], out["rejected"]["reason"]))
    assert set(reasons.values()) <= set(of_stage("clean"))  # every code emitted is registered
    return out, metrics, reasons


def test_good_stars_are_kept_with_their_rows():
    out, metrics, reasons = run(tables(star(1), star(2, "RRc")))
    assert reasons == {}
    assert out["vari_rrlyrae"]["source_id"].tolist() == [1, 2]
    assert set(out["epoch_photometry"]["band"]) == {"G"}
    assert metrics["stars"] == {"input": 2, "kept": 2, "rejected": 0}
    assert metrics["transits"]["dropped_non_g_rows_of_kept_stars"] == 8


@pytest.mark.parametrize("bad, reason, detail", [
    (star(9, pf=np.nan), "bad_period", "pf=missing"),
    (star(9, pf=-0.5), "bad_period", "pf=-0.5"),
    (star(9, "RRc", p1_o=0.0), "bad_period", "p1_o=0"),
    (star(9, epoch_g=np.nan), "missing_epoch_g", "epoch_g missing"),
    (star(9, "RRd"), "type_not_selected", "RRd"),
    (star(9, "Cep"), "unknown_classification", "Cep"),
    (star(9, feh_error=None), "no_label", "not in labels"),
    (star(9, feh_error=0.4), "feh_error", "feh_error=0.4"),
    (star(9, feh_error=np.nan), "feh_error", "feh_error=missing"),
    (star(9, peak_to_peak_g=1.2), "peak_to_peak_g", "peak_to_peak_g=1.2"),
    (star(9, peak_to_peak_g=np.nan), "peak_to_peak_g", "missing"),
    (star(9, n_clean=49), "too_few_clean_epochs", "49 clean G epochs"),
    (star(9, n_clean=45, flagged=3, nan_mag=2), "too_few_clean_epochs", "45 clean G epochs of 50"),
    (star(9, phi31_g_error=0.3), "phi31_g_error", "phi31_g_error=0.3"),
    (star(9, phi31_g_error=np.nan), "phi31_g_error", "missing"),
])
def test_each_bad_star_gets_its_reason(bad, reason, detail):
    out, metrics, reasons = run(tables(star(1), bad))
    assert reasons == {9: reason}
    row = out["rejected"].iloc[0]
    assert row["stage"] == "clean" and detail in row["detail"]
    assert out["vari_rrlyrae"]["source_id"].tolist() == [1]
    assert metrics["rejected_by_reason"][reason] == 1


@pytest.mark.parametrize("good", [
    star(9, feh_error=0.399), star(9, peak_to_peak_g=1.19), star(9, n_clean=50),
    star(9, n_clean=50, flagged=5, nan_mag=5), star(9, phi31_g_error=0.299),
    star(9, "RRc", phi31_g_error=0.9),  # the phi31 cut is RRab only
])
def test_values_just_inside_the_cuts_are_kept(good):
    _, _, reasons = run(tables(star(1), good))
    assert reasons == {}


def test_star_without_any_epochs():
    bad = star(9)
    bad["epochs"] = bad["epochs"].iloc[:0]
    out, _, reasons = run(tables(star(1), bad))
    assert reasons == {9: "no_epochs"}


def test_duplicate_source_id_in_vari_is_rejected_once():
    t = tables(star(1), star(9))
    t["vari_rrlyrae"] = pd.concat([t["vari_rrlyrae"], t["vari_rrlyrae"].iloc[[1]]], ignore_index=True)
    out, metrics, reasons = run(t)
    assert reasons == {9: "duplicate_source_id"}
    assert out["rejected"]["detail"].iloc[0] == "2 rows in vari_rrlyrae"
    assert metrics["stars"] == {"input": 2, "kept": 1, "rejected": 1}


def test_duplicate_label_and_conflicting_transits_are_rejected():
    t = tables(star(1), star(8), star(9))
    t["labels"] = pd.concat([t["labels"], t["labels"].iloc[[1]]], ignore_index=True)
    ep = t["epoch_photometry"]
    conflict = ep[ep["source_id"] == 9].iloc[[3]].assign(mag=16.5)  # same transit, other mag
    t["epoch_photometry"] = pd.concat([ep, conflict], ignore_index=True)
    _, _, reasons = run(t)
    assert reasons == {8: "duplicate_label", 9: "duplicate_transits"}


def test_exactly_repeated_rows_are_dropped_and_counted_once_as_predict_does():
    t = tables(star(1, n_clean=50))
    ep = t["epoch_photometry"]
    t["epoch_photometry"] = pd.concat([ep, ep.iloc[:3]], ignore_index=True)  # a file given twice
    out, metrics, reasons = run(t)
    assert reasons == {}  # not a reason: the star is kept with each transit once
    assert out["epoch_photometry"]["transit_id"].is_unique and len(out["epoch_photometry"]) == 50
    assert metrics["transits"]["dropped_repeated_rows_of_kept_stars"] == 3
    assert metrics["clean_g_epochs_per_kept_star"]["max"] == 50  # not 53: counted once


def test_missing_transit_ids_are_not_duplicates():
    t = tables(star(1))
    t["epoch_photometry"]["transit_id"] = -1  # a user file without transit_id (conform fills -1)
    _, _, reasons = run(t)
    assert reasons == {}


def test_stars_only_in_epochs_or_labels_are_rejected_not_lost():
    t = tables(star(1))
    orphan = star(7)
    t["epoch_photometry"] = pd.concat(
        [t["epoch_photometry"], schema.conform(orphan["epochs"], "epoch_photometry")])
    t["labels"] = pd.concat([t["labels"], pd.DataFrame([{"source_id": 8, "feh": -1.0, "feh_error": 0.2}])])
    out, metrics, reasons = run(t)
    assert reasons == {7: "not_in_vari_rrlyrae", 8: "not_in_vari_rrlyrae"}
    assert dict(zip(out["rejected"]["source_id"], out["rejected"]["detail"])) == {
        7: "has epochs", 8: "has a label"}
    assert metrics["stars"] == {"input": 3, "kept": 1, "rejected": 2}
    assert metrics["by_type"]["unknown"]["input"] == 2
    assert metrics["transits"]["dropped_rows_of_rejected_stars"] == len(orphan["epochs"])


def test_unknown_band_rows_are_dropped_and_counted():
    s = star(1)
    s["epochs"].loc[s["epochs"]["band"] == "BP", "band"] = "X"
    out, metrics, reasons = run(tables(s))
    assert reasons == {}
    assert set(out["epoch_photometry"]["band"]) == {"G"}
    assert metrics["transits"]["dropped_non_g_rows_of_kept_stars"] == 4


def test_flagged_and_nan_transits_stay_in_the_table_but_do_not_count():
    out, metrics, _ = run(tables(star(1, n_clean=52, flagged=3, nan_mag=2)))
    g = out["epoch_photometry"]
    assert len(g) == 57 and int(g["rejected_by_variability"].sum()) == 3
    assert int(g["mag"].isna().sum()) == 2
    t = metrics["transits"]
    assert (t["kept_clean_g_epochs"], t["kept_g_flagged_by_variability"], t["kept_g_nan_mag"],
            t["kept_g_not_clean"]) == (52, 3, 2, 5)
    assert metrics["clean_g_epochs_per_kept_star"] == {"min": 52, "median": 52.0, "max": 52}


def test_first_failure_is_recorded_and_every_failure_counted():
    # fails feh_error, peak_to_peak_g and too_few_clean_epochs: recorded under feh_error (first)
    out, metrics, reasons = run(tables(star(1), star(9, feh_error=0.5, peak_to_peak_g=1.5, n_clean=10)))
    assert reasons == {9: "feh_error"}
    assert metrics["rejected_by_reason"]["feh_error"] == 1
    assert sum(metrics["rejected_by_reason"].values()) == 1
    fails = metrics["failing_each_cut"]
    assert (fails["feh_error"], fails["peak_to_peak_g"], fails["too_few_clean_epochs"]) == (1, 1, 1)
    assert list(metrics["rejected_by_reason"]) == list(fails) == list(CUTS)


def test_rrd_is_not_counted_as_a_bad_period():
    _, metrics, reasons = run(tables(star(1), star(9, "RRd")))
    assert reasons == {9: "type_not_selected"}
    assert metrics["failing_each_cut"]["bad_period"] == 0


def test_empty_labels_skip_the_label_cuts():
    t = tables(star(1), star(2, "RRc"), star(9, n_clean=20))
    t["labels"] = schema.empty("labels")
    out, metrics, reasons = run(t)
    assert reasons == {9: "too_few_clean_epochs"}
    assert metrics["labels_present"] is False
    assert metrics["label_cuts"].startswith("skipped")
    assert len(out["labels"]) == 0 and out["vari_rrlyrae"]["source_id"].tolist() == [1, 2]


def test_cuts_follow_the_params():
    t = tables(star(1), star(9, n_clean=45, peak_to_peak_g=1.25))
    loose = dataclasses.replace(CFG, min_clean_epochs=40, max_peak_to_peak_g=1.3)
    assert run(t, loose)[2] == {}
    rrc_only = dataclasses.replace(CFG, types=["RRc"])
    assert run(tables(star(1), star(2, "RRc")), rrc_only)[2] == {1: "type_not_selected"}


def test_counts_reconcile_per_type_and_every_star_leaves_once():
    stars = [star(1), star(2, "RRc"), star(3, "RRd"), star(4, "Cep"), star(5, pf=np.nan),
             star(6, "RRc", feh_error=None), star(7, n_clean=3), star(8, "RRc", peak_to_peak_g=2.0)]
    out, metrics, reasons = run(tables(*stars))
    ids = sorted(out["vari_rrlyrae"]["source_id"].tolist() + out["rejected"]["source_id"].tolist())
    assert ids == list(range(1, 9))
    s = metrics["stars"]
    assert (s["input"], s["kept"], s["rejected"]) == (8, 2, 6)
    by_type = metrics["by_type"]
    assert {t: (v["input"], v["kept"]) for t, v in by_type.items()} == {
        "RRab": (3, 1), "RRc": (3, 1), "RRd": (1, 0), "unknown": (1, 0)}
    assert by_type["RRc"]["rejected_by_reason"] == {"no_label": 1, "peak_to_peak_g": 1}
    for v in by_type.values():
        assert v["input"] == v["kept"] + v["rejected"] == v["kept"] + sum(v["rejected_by_reason"].values())


def test_clean_config_rejects_types_preprocess_cannot_fold():
    with pytest.raises(ConfigError, match="types"):
        from_dict(CleanConfig, {"types": ["RRab", "RRd"]}, "params.clean")
    with pytest.raises(ConfigError, match="max_feh_error"):
        from_dict(CleanConfig, {"max_feh_error": 0}, "params.clean")


def test_labels_without_any_error_skip_the_feh_error_cut_and_say_so():
    # a catalogue like the paper's own photometric [Fe/H] publishes no errors: without the skip
    # every labelled star would be rejected as feh_error
    out, metrics, reasons = run(tables(star(1, feh_error=np.nan), star(2, "RRc", feh_error=np.nan),
                                       star(9, n_clean=20, feh_error=np.nan)))
    assert reasons == {9: "too_few_clean_epochs"}
    assert metrics["feh_error_cut"].startswith("skipped: no label has a feh_error")
    assert len(out["labels"]) == 2


def test_a_default_feh_error_fills_missing_ones_and_the_cut_applies_to_it():
    t = tables(star(1, feh_error=np.nan), star(2, feh_error=0.2), star(9, feh_error=np.nan))
    # some errors present: a missing one fails the cut, as before
    assert run(t)[2] == {1: "feh_error", 9: "feh_error"}
    out, metrics, reasons = run(t, dataclasses.replace(CFG, default_feh_error=0.3))
    assert reasons == {} and metrics["labels_given_default_feh_error"] == 2
    assert metrics["feh_error_cut"] == "applied"
    assert out["labels"]["feh_error"].tolist() == [0.3, 0.2, 0.3]
    assert run(t, dataclasses.replace(CFG, default_feh_error=0.5))[2] == {1: "feh_error", 9: "feh_error"}
