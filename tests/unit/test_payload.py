"""The served model's request/response layer: columns, per-star reasons, signature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from rrlfeh.serving import payload


def _request(**overrides) -> pd.DataFrame:
    t = np.linspace(1700.0, 1900.0, 30)
    rows = {
        "source_id": [11, 12], "type": ["RRab", "RRc"], "period": [0.55, 0.31],
        "epoch_g": [1700.1, 1700.2], "time": [t, list(t)], "mag": [17 + 0.1 * np.sin(t), list(16 + 0 * t)],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def test_good_request_keeps_order_and_counts_epochs():
    req = payload.parse_request(_request())
    assert req.source_id.tolist() == [11, 12]
    assert req.type_key.tolist() == ["rrab", "rrc"]
    assert req.reason.tolist() == ["", ""]
    assert req.n_epochs.tolist() == [30, 30]
    assert req.curves.time.dtype == np.float64 and req.curves.mag.dtype == np.float64


def test_missing_column_is_one_clear_error():
    with pytest.raises(payload.PayloadError, match=r"missing column\(s\) \['mag'\]"):
        payload.parse_request(_request().drop(columns=["mag"]))
    with pytest.raises(payload.PayloadError, match="expected a table"):
        payload.parse_request([{"source_id": 1}])


def test_non_integer_source_id_is_an_error():
    with pytest.raises(payload.PayloadError, match="source_id must be integers"):
        payload.parse_request(_request(source_id=[1.5, 2]))


@pytest.mark.parametrize(
    "time, mag",
    [
        ([1701.0, 1702.0, 1703.0], [17.0, 17.1]),  # mismatched lengths
        ([], []),  # empty arrays
        ([1701.0, 1702.0], [np.nan, np.nan]),  # NaN-only magnitudes
        ([np.nan, np.nan], [17.0, 17.1]),  # NaN-only times
        ("1.0, 2.0", [17.0, 17.1]),  # not an array
        (None, [17.0]),
        ([[1701.0, 1702.0]], [[17.0, 17.1]]),  # not 1-D
        (["a", "b"], [17.0, 17.1]),
    ],
)
def test_bad_arrays_are_a_per_star_reason(time, mag):
    df = _request()
    df.at[0, "time"], df.at[0, "mag"] = time, mag
    req = payload.parse_request(df)
    assert req.reason.tolist() == ["invalid_input", ""]  # the other star is untouched
    assert len(req.curves) == 2 and req.n_epochs[0] == 0


def test_nan_epochs_are_dropped_not_fatal():
    df = _request()
    t = np.array(df.at[0, "time"], dtype=float)
    m = np.array(df.at[0, "mag"], dtype=float)
    t[3], m[5] = np.nan, np.nan
    df.at[0, "time"], df.at[0, "mag"] = t, m
    req = payload.parse_request(df)
    assert req.reason[0] == "" and req.n_epochs[0] == 28
    assert np.isfinite(req.curves.times()[0]).all() and np.isfinite(req.curves.mags()[0]).all()


@pytest.mark.parametrize("value", ["RRd", "", None, 3, "rr lyrae"])
def test_unknown_type(value):
    req = payload.parse_request(_request(type=[value, "RRc"]))
    assert req.reason.tolist() == ["unknown_type", ""]


def test_type_spelling_is_forgiving():
    req = payload.parse_request(_request(type=[" rrab ", "RRC"]))
    assert req.type_key.tolist() == ["rrab", "rrc"] and req.reason.tolist() == ["", ""]


def test_invalid_input_takes_precedence_over_unknown_type():
    df = _request(type=["RRd", "RRc"])
    df.at[0, "time"] = []
    df.at[0, "mag"] = []
    assert payload.parse_request(df).reason[0] == "invalid_input"


def test_bad_period_and_epoch_are_left_to_the_preprocessing():
    # the single implementation of those checks is rrlfeh.features.tensors (bad_period, bad_epoch)
    req = payload.parse_request(_request(period=[-1.0, np.nan], epoch_g=[np.nan, 1.0]))
    assert req.reason.tolist() == ["", ""]
    assert np.isnan(req.period[1]) and req.period[0] == -1.0


def test_impossible_period_and_conflicting_epochs_have_their_own_codes():
    """Not bad_period / duplicate_transits: those codes mean the model's and clean's own tests
    (rrlfeh.core.reasons)."""
    from rrlfeh.core.reasons import of_stage

    t = np.linspace(1700.0, 1900.0, 30)
    m = 17 + 0.1 * np.sin(t)
    twice = np.r_[t, t[:1]], np.r_[m, m[:1] + 0.3]  # one time again with another magnitude
    req = payload.parse_request(_request(period=[3.0, 0.31], time=[t, twice[0]], mag=[m, twice[1]]))
    assert req.reason.tolist() == ["period_outside_range", "conflicting_epochs"]
    assert set(req.reason) <= set(of_stage("serve"))


def test_build_output_columns_and_status():
    req = payload.parse_request(_request())
    out = payload.build_output(req, np.array([-1.2, np.nan]), np.array([0.15, np.nan]),
                               np.array([0.1, np.nan]), np.array([30, 3]), np.array(["", "few_epochs"], dtype=object),
                               np.array(["scatter", ""], dtype=object))
    assert tuple(out.columns) == payload.OUTPUT_COLUMNS
    assert out["status"].tolist() == ["ok", "rejected"]
    assert out["out_of_range"].tolist() == [True, False]
    assert out["source_id"].dtype == np.int64 and out["n_epochs"].dtype == np.int64


def test_model_input_from_tables_uses_clean_g_epochs_only():
    vari = schema.conform(pd.DataFrame({
        "source_id": [1, 2, 3], "pf": [0.6, np.nan, 0.5], "p1_o": [np.nan, 0.3, np.nan],
        "epoch_g": [1700.0, 1701.0, 1702.0], "best_classification": ["RRab", "RRc", "RRab"],
    }), "vari_rrlyrae")
    epochs = schema.conform(pd.DataFrame({
        "source_id": [2, 1, 1, 1, 1, 2],
        "band": ["G", "G", "BP", "G", "G", "G"],
        "time": [1710.0, 1703.0, 1702.0, 1701.0, 1704.0, 1709.0],
        "mag": [16.0, 17.3, 18.0, 17.1, np.nan, 16.1],
        "rejected_by_variability": [False, False, False, False, False, True],
    }), "epoch_photometry")
    rows = payload.model_input_from_tables(vari, epochs)
    assert rows["source_id"].tolist() == [1, 2, 3]
    assert rows["period"].tolist()[:2] == [0.6, 0.3]
    assert rows.at[0, "time"].tolist() == [1701.0, 1703.0]  # sorted; BP and NaN mag dropped
    assert rows.at[1, "mag"].tolist() == [16.0]  # the flagged transit dropped
    assert len(rows.at[2, "time"]) == 0  # a star without epochs keeps its row
    assert payload.parse_request(rows).reason.tolist() == ["", "", "invalid_input"]


def test_model_input_from_tables_keeps_vari_order_and_every_star():
    vari = pd.DataFrame({  # raw (not conformed), not sorted by source_id
        "source_id": [30, 10, 20], "pf": [0.6, 0.5, 0.55], "p1_o": np.nan,
        "epoch_g": [1700.0, 1701.0, 1702.0], "best_classification": "RRab",
    })
    epochs = pd.DataFrame({
        "source_id": [10, 10, 10, 99, 20, 10],
        "band": ["G", None, " G ", "G", "BP", "G"],  # a missing band is not G; blanks are stripped
        "time": [1705.0, 1701.0, 1703.0, 1700.0, 1700.0, 1705.0],
        "mag": [17.0, 16.0, 17.2, 15.0, 18.0, 17.1],
        "rejected_by_variability": False,
    })
    rows = payload.model_input_from_tables(vari, epochs)
    assert rows["source_id"].tolist() == [30, 10, 20]  # vari's order; 99 is not in vari
    assert [len(t) for t in rows["time"]] == [0, 3, 0]
    assert rows.at[1, "time"].tolist() == [1703.0, 1705.0, 1705.0]
    assert rows.at[1, "mag"].tolist() == [17.2, 17.0, 17.1]  # equal times keep the file's order
    assert all(t.dtype == np.float64 for t in [*rows["time"], *rows["mag"]])
    assert rows["epoch_g"].tolist() == [1700.0, 1701.0, 1702.0]


def test_signature_declares_list_columns_as_float64_arrays():
    sig = payload.signature()
    inputs = {c.name: c for c in sig.inputs.inputs}
    assert list(inputs) == list(payload.INPUT_COLUMNS)
    assert repr(inputs["time"].type) == "Array(double)" and repr(inputs["mag"].type) == "Array(double)"
    assert [c.name for c in sig.outputs.inputs] == list(payload.OUTPUT_COLUMNS)


def test_mag_error_is_optional_per_request_and_per_star():
    t = np.linspace(1700.0, 1900.0, 30)
    without = payload.parse_request(_request())
    assert np.isnan(without.curves.error).all()  # no column: every epoch weighs alike
    err = np.full(30, 0.01)
    req = payload.parse_request(_request(mag_error=[err, None]))  # the second star without
    assert req.reason.tolist() == ["", ""]
    assert req.curves.errors()[0].tolist() == err.tolist() and np.isnan(req.curves.errors()[1]).all()
    # errors that do not pair up with the epochs are the star's invalid_input, never a guess
    bad = payload.parse_request(_request(mag_error=[np.full(29, 0.01), "x"]))
    assert bad.reason.tolist() == ["invalid_input", "invalid_input"]
    with pytest.raises(payload.PayloadError, match=r"may add \['mag_error'\]"):
        payload.parse_request(_request().drop(columns=["time"]))
    assert len(t) == 30


def test_model_input_from_tables_carries_each_epochs_mag_error():
    vari = schema.conform(pd.DataFrame({
        "source_id": [1], "pf": [0.6], "p1_o": [np.nan], "epoch_g": [1700.0],
        "best_classification": ["RRab"]}), "vari_rrlyrae")
    epochs = schema.conform(pd.DataFrame({
        "source_id": [1, 1, 1, 1], "band": ["G"] * 4, "time": [1703.0, 1701.0, 1702.0, 1704.0],
        "mag": [17.3, 17.1, 17.2, 17.4], "flux_over_error": [100.0, 200.0, 0.0, np.nan],
        "rejected_by_variability": False}), "epoch_photometry")
    rows = payload.model_input_from_tables(vari, epochs)
    e = rows.at[0, "mag_error"]  # in time order, 1.0857 / flux_over_error; NaN where unusable
    assert e[0] == pytest.approx(2.5 / np.log(10) / 200) and e[2] == pytest.approx(2.5 / np.log(10) / 100)
    assert np.isnan(e[[1, 3]]).all()


def test_signature_leaves_mag_error_optional():
    inputs = {c.name: c for c in payload.signature().inputs.inputs}
    assert inputs["mag_error"].required is False and repr(inputs["mag_error"].type) == "Array(double)"
    assert all(c.required for name, c in inputs.items() if name != "mag_error")
