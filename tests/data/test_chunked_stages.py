"""validate and clean stream the epoch table in chunks of whole stars: whatever the chunk size, the
file's row groups or the order of the stars, they give what one pass over the whole table gives."""

from __future__ import annotations

import json

import great_expectations as gx
import numpy as np
import pandas as pd
import pytest

import rrlfeh.core.epoch_stream
from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.quality import validate
from rrlfeh.quality.clean import run_clean
from rrlfeh.quality.expectations import raw_suites
from rrlfeh.quality.gx_chunks import ChunkedResult
from rrlfeh.errors import ValidationFailed

WHOLE = 1000  # stars per chunk: every test table in one chunk


def _validate(raw_dir, out, stars_per_chunk):
    """(raw.json bytes, the failure message or None)."""
    try:
        validate.run_validate(ValidateConfig(), raw_dir, out, stars_per_chunk=stars_per_chunk)
        message = None
    except ValidationFailed as exc:
        message = str(exc).replace(str(out), "OUT")
    return (out / "raw.json").read_bytes(), message


def _bad_mags(t):  # offenders in several chunks, more than five stars
    ep = t["epoch_photometry"]
    ep.loc[ep.index[ep["band"] == "RP"][::7], "mag"] = 40.0


def _duplicate_inside_the_star(t):
    """202's first transit again after its last one, with another magnitude (a conflict; an exact
    repeat would be dropped): the file stays grouped, the pair far apart."""
    ep = t["epoch_photometry"]
    rows = ep.index[ep["source_id"] == 202]
    again = ep.loc[rows[:1]].assign(mag=ep.loc[rows[:1], "mag"] + 0.1)
    t["epoch_photometry"] = pd.concat([ep.loc[:rows[-1]], again, ep.loc[rows[-1] + 1:]],
                                      ignore_index=True)


def _no_g_epochs(t):
    ep = t["epoch_photometry"]
    t["epoch_photometry"] = ep[~((ep["source_id"] == 104) & (ep["band"] == "G"))]


def _orphan_epochs(t):
    ep = t["epoch_photometry"]
    t["epoch_photometry"] = pd.concat([ep, ep[ep["source_id"] == 301].assign(source_id=999)],
                                      ignore_index=True)


# (a duplicated transit is not the raw suite's concern: clean rejects the star, tested below)
@pytest.mark.parametrize("breakage", [None, _bad_mags, _no_g_epochs, _orphan_epochs])
def test_validate_in_chunks_reports_what_one_chunk_does(raw_tables, write_raw, tmp_path, breakage,
                                                        monkeypatch):
    if breakage:
        breakage(raw_tables)
    raw_dir = write_raw(raw_tables)
    whole = _validate(raw_dir, tmp_path / "whole", WHOLE)
    assert (whole[1] is None) == (breakage is None)
    # stars also run across the Parquet slices the reader regroups
    monkeypatch.setattr(rrlfeh.core.epoch_stream, "_READ_ROWS", 37)
    for n in (1, 2, 4):
        assert _validate(raw_dir, tmp_path / f"by{n}", n) == whole, n
    # one merged page per table in the data docs, not one per chunk
    assert len(list((tmp_path / "by1" / "data_docs" / "validations").rglob("*.html"))) == 3


def test_failure_names_the_first_five_stars_across_chunks(raw_tables, write_raw, tmp_path):
    _bad_mags(raw_tables)
    with pytest.raises(ValidationFailed, match=r"'mag'.*source_id \[101, 102, 103, 104, 201\]"):
        validate.run_validate(ValidateConfig(), write_raw(raw_tables), tmp_path, stars_per_chunk=2)


def _gx_result(frames, expectations) -> ChunkedResult:
    context = validate._context(None)
    batch = (context.data_sources.add_pandas("t").add_dataframe_asset("t")
             .add_batch_definition_whole_dataframe("t"))
    suite = context.suites.add(gx.ExpectationSuite(name="t", expectations=expectations))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="t", data=batch,
                                                                            suite=suite))
    merged = ChunkedResult(validate.RESULT_FORMAT)
    for frame in frames:
        frame = frame.reset_index(drop=True)
        merged.add(definition.run(batch_parameters={"dataframe": frame},
                                  result_format=validate.RESULT_FORMAT), frame["source_id"])
    return merged


def _comparable(merged: ChunkedResult) -> dict:
    result = merged.result.to_json_dict()
    for r in result["results"]:
        r["expectation_config"].pop("id")
    return {k: result[k] for k in ("success", "statistics", "results")}


def test_merged_gx_result_is_the_whole_table_result(raw_tables):
    """What the data docs show: counts, percentages, first offending rows and their values."""
    _bad_mags(raw_tables)
    _duplicate_inside_the_star(raw_tables)
    ep = raw_tables["epoch_photometry"]
    ep.loc[ep.index[ep["source_id"] == 203][:2], "time"] = np.nan  # missing values in a chunk
    ep = ep.assign(in_vari_rrlyrae=True)
    ids = ep["source_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    chunks = [ep.iloc[a:b] for a, b in zip(starts[::2], [*starts[2::2], len(ep)])]  # 2 stars each
    expectations = lambda: raw_suites(ValidateConfig())["epoch_photometry"]  # noqa: E731
    whole, merged = _gx_result([ep], expectations()), _gx_result(chunks, expectations())
    assert _comparable(merged) == _comparable(whole)
    assert merged.offenders == whole.offenders and merged.rows == whole.rows == len(ep)
    mag = 4  # the offending stars of the mag range come from several chunks
    assert not merged.result.success and list(dict.fromkeys(merged.offenders[mag]))[:3] == [101, 102, 103]


def _clean(raw_dir, out, stars_per_chunk) -> dict[str, bytes | pd.DataFrame]:
    metrics = run_clean(CleanConfig(), ValidateConfig(), raw_dir, out / "clean", out / "clean.json",
                        out / "plots", report_dir=out / "report", stars_per_chunk=stars_per_chunk)
    tables = {n: pd.read_parquet(out / "clean" / f"{n}.parquet")
              for n in ("vari_rrlyrae", "epoch_photometry", "labels", "rejected")}
    return {"metrics": json.dumps(metrics), "report": (out / "report" / "validation.json").read_bytes(),
            **tables}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], pd.DataFrame):
            pd.testing.assert_frame_equal(a[key], b[key], check_exact=True, obj=key)
        else:
            assert a[key] == b[key], key


def test_clean_in_chunks_and_in_any_star_order_writes_what_one_chunk_does(
        raw_tables, write_raw, tmp_path, monkeypatch, kept_ids):
    _duplicate_inside_the_star(raw_tables)  # 202 is rejected for it, whatever the chunks
    whole = _clean(write_raw(raw_tables), tmp_path / "whole", WHOLE)
    assert whole["epoch_photometry"]["source_id"].unique().tolist() == kept_ids
    assert "duplicate_transits" in set(whole["rejected"]["reason"])
    ep = raw_tables["epoch_photometry"]
    orders = {
        "sorted": ep,
        "stars reversed": pd.concat([rows for _, rows in ep.groupby("source_id", sort=True)][::-1]),
        "rows shuffled": ep.sample(frac=1, random_state=3),  # not grouped: read whole and sorted
    }
    monkeypatch.setattr(rrlfeh.core.epoch_stream, "_READ_ROWS", 37)
    for name, rows in orders.items():
        raw_dir = write_raw({**raw_tables, "epoch_photometry": rows}, name.replace(" ", "_"))
        for n in (1, 2):
            _same(_clean(raw_dir, tmp_path / f"{name}-{n}", n), whole)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left


def test_a_failed_clean_suite_publishes_nothing(raw_dir, tmp_path):
    strict = ValidateConfig(time_max=1800.0)  # the clean suite restates the time range
    with pytest.raises(ValidationFailed, match="'time'"):
        run_clean(CleanConfig(), strict, raw_dir, tmp_path / "clean", tmp_path / "clean.json",
                  tmp_path / "plots", report_dir=tmp_path / "report", stars_per_chunk=2)
    assert not (tmp_path / "clean").exists()
    assert json.loads((tmp_path / "report" / "validation.json").read_text())["success"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "report"]
