"""The one curve contract (rrlfeh.core.curve): a usable epoch, and the model's input/output columns
from which the served signature, the Spark result type and the batch tables are derived."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rrlfeh.core import curve
from rrlfeh.quality import cuts
from rrlfeh.serving import payload, spark, star_rows


def _epochs() -> pd.DataFrame:
    return pd.DataFrame({
        "source_id": [1, 1, 1, 1, 1, 1, 1, 2],
        "band": pd.array(["G", "G", "BP", None, "G", "G", "G", "g"], dtype="string"),
        "time": [1.0, 2.0, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0],
        "mag": [15.0, np.inf, 15.0, 15.0, 15.0, np.nan, 15.0, 15.0],
        "rejected_by_variability": [False, False, False, False, False, False, True, False],
    })


def test_a_usable_epoch():
    # G, unflagged, time and mag present; an infinity stays (the sanity check gives it a reason)
    assert curve.usable_epochs(_epochs()).tolist() == [True, True, False, False, False, False, False, False]


def test_clean_counts_the_usable_epochs_with_a_finite_magnitude():
    e = _epochs()
    assert (cuts.clean_g_rows(e) == (curve.usable_epochs(e) & np.isfinite(e["mag"]))).all()
    assert (cuts.g_rows(e) == curve.in_band(e["band"])).all()


def test_serving_takes_the_usable_epochs():
    curves = star_rows.clean_curves(_epochs(), np.array([1, 2]))
    assert curves.source_id.tolist() == [1] and curves.times()[0].tolist() == [1.0, 2.0]
    assert curves.mags()[0][1] == np.inf


def test_signature_spark_type_and_tables_come_from_the_contract():
    sig = payload.signature()
    assert tuple(sig.inputs.input_names()) == curve.INPUT_COLUMNS
    assert tuple(sig.outputs.input_names()) == curve.OUTPUT_COLUMNS
    kinds = {c.name: c.type.name for c in sig.outputs.inputs}
    assert kinds["source_id"] == "long" and kinds["out_of_range"] == "boolean"
    assert "Array(double)" in repr(sig.inputs.inputs[-1].type)
    assert spark.RESULT_TYPE == ", ".join(f"{c} {t}" for c, t in curve.OUTPUT.items())
    assert star_rows.MODEL_INPUT == list(payload.INPUT_COLUMNS) == list(curve.INPUT)
    assert star_rows.MODEL_OUTPUT == list(payload.OUTPUT_COLUMNS) == list(curve.OUTPUT)
