"""Table layouts: conform coerces types, fills optional columns and names bad columns and stars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema
from rrlfeh.core.schema import SchemaError


def test_conform_fills_optional_columns_and_orders():
    df = pd.DataFrame({"SOURCE_ID": ["1", "2"], "pf": [0.5, np.nan], "p1_o": [np.nan, 0.3],
                       "epoch_g": [1700.0, 1800.0], "best_classification": ["RRab", "RRc"]})
    out = schema.conform(df, "vari_rrlyrae")
    assert list(out.columns) == list(schema.VARI_RRLYRAE)
    assert out["source_id"].dtype == "int64"
    assert out["ra"].isna().all()


def test_missing_required_column_is_named():
    with pytest.raises(SchemaError, match=r"epoch_photometry: missing required column\(s\) \['mag'\]"):
        schema.conform(pd.DataFrame({"source_id": [1], "band": ["G"], "time": [1.0]}), "epoch_photometry")


def test_non_numeric_values_name_column_and_source_ids():
    df = pd.DataFrame({"source_id": [11, 12], "feh": ["-1.5", "abc"], "feh_error": [0.3, 0.3]})
    with pytest.raises(SchemaError, match=r"labels\.feh: 1 value\(s\) are not numbers; e\.g\. source_id \[12\]"):
        schema.conform(df, "labels")


def test_source_id_must_be_integer():
    df = pd.DataFrame({"source_id": [1.5], "feh": [-1.0], "feh_error": [0.3]})
    with pytest.raises(SchemaError, match=r"labels\.source_id"):
        schema.conform(df, "labels")


def test_bool_columns_accept_archive_spellings():
    df = pd.DataFrame({"source_id": [1, 1], "band": ["G", "G"], "time": [1.0, 2.0], "mag": [15.0, 15.1],
                       "rejected_by_variability": ["true", "False"]})
    out = schema.conform(df, "epoch_photometry")
    assert out["rejected_by_variability"].tolist() == [True, False]
    with pytest.raises(SchemaError, match="boolean"):
        schema.conform(df.assign(rejected_by_variability=["yes", "no"]), "epoch_photometry")


def test_read_truncated_parquet_is_clear(tmp_path):
    path = tmp_path / "labels.parquet"
    schema.write_table(pd.DataFrame({"source_id": [1], "feh": [-1.0], "feh_error": [0.3]}), path, "labels")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError, match="not a readable Parquet file"):
        schema.read_table(path, "labels")
    with pytest.raises(SchemaError, match="does not exist"):
        schema.read_table(tmp_path / "missing.parquet", "labels")


def test_rejects_rows_and_period_of():
    r = schema.rejects([5, 6], "clean", "few_epochs", "12 < 50")
    assert list(r.columns) == list(schema.REJECTED) and r["reason"].tolist() == ["few_epochs"] * 2
    vari = schema.conform(pd.DataFrame({"source_id": [1, 2, 3], "pf": [0.5, np.nan, 0.5],
                                        "p1_o": [np.nan, 0.3, 0.37], "epoch_g": [0.0] * 3,
                                        "best_classification": ["RRab", "RRc", "RRd"]}), "vari_rrlyrae")
    per = schema.period_of(vari)
    assert per.iloc[0] == 0.5 and per.iloc[1] == 0.3 and np.isnan(per.iloc[2])
    vari.loc[1, "best_classification"] = pd.NA  # no class: neither period, no crash
    per = schema.period_of(vari)
    assert per.iloc[0] == 0.5 and np.isnan(per.iloc[1])


def _epochs(n_stars: int) -> pd.DataFrame:
    ids = np.repeat(np.arange(1, n_stars + 1), 3)
    return schema.conform(pd.DataFrame({"source_id": ids, "band": "G", "time": np.arange(len(ids)) + 1.0,
                                        "mag": 15.0}), "epoch_photometry")


def test_table_writer_in_parts_writes_the_table_pandas_writes(tmp_path):
    epochs = _epochs(5)
    whole = tmp_path / "whole.parquet"
    epochs.to_parquet(whole, index=False)
    one = schema.write_table(epochs, tmp_path / "one.parquet", "epoch_photometry")
    assert one.read_bytes() == whole.read_bytes()  # one part: the very same file
    with schema.TableWriter(tmp_path / "parts.parquet", "epoch_photometry") as out:
        for part in (epochs.iloc[:4], epochs.iloc[4:4], epochs.iloc[4:11], epochs.iloc[11:]):
            out.write(part)
    assert out.rows == len(epochs)
    pd.testing.assert_frame_equal(pd.read_parquet(out.path), pd.read_parquet(whole))
    empty = schema.write_table(epochs.iloc[:0], tmp_path / "empty.parquet", "epoch_photometry")
    epochs.iloc[:0].to_parquet(whole, index=False)
    assert empty.read_bytes() == whole.read_bytes()  # pandas' one empty row group


def test_table_writer_leaves_nothing_behind_on_error(tmp_path):
    path = schema.write_table(_epochs(1), tmp_path / "epoch_photometry.parquet", "epoch_photometry")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="source failed"):
        with schema.TableWriter(path, "epoch_photometry") as out:
            out.write(_epochs(3))
            raise RuntimeError("source failed")
    assert path.read_bytes() == before  # the previous table is untouched
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
