"""Stage `clean` end to end on the hand-made raw tables: files, reasons, metrics that reconcile, the
GX suite on the clean tables (and that it does catch a broken clean table), the Bailey diagram."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.core import schema
from rrlfeh.quality.clean import kept_epochs, run_clean, select_stars
from rrlfeh.quality.cuts import CUTS, epoch_counts
from rrlfeh.quality.validate import validate_clean_tables
from rrlfeh.errors import ValidationFailed

CFG, VCFG = CleanConfig(), ValidateConfig()


def _run(raw_dir, tmp_path, cfg=CFG):
    paths = {"out": tmp_path / "clean", "metrics": tmp_path / "metrics" / "clean.json",
             "plots": tmp_path / "plots", "report": tmp_path / "reports" / "clean"}
    metrics = run_clean(cfg, VCFG, raw_dir, paths["out"], paths["metrics"], paths["plots"],
                        report_dir=paths["report"])
    return metrics, paths


def test_clean_stage_writes_what_downstream_reads(raw_dir, raw_tables, tmp_path, kept_ids,
                                                  expected_reasons):
    metrics, paths = _run(raw_dir, tmp_path)
    out = {n: schema.read_table(paths["out"] / f"{n}.parquet", n)
           for n in ("vari_rrlyrae", "epoch_photometry", "labels", "rejected")}
    assert out["vari_rrlyrae"]["source_id"].tolist() == kept_ids
    assert dict(zip(out["rejected"]["source_id"], out["rejected"]["reason"])) == expected_reasons
    assert set(out["rejected"]["stage"]) == {"clean"} and out["rejected"]["detail"].notna().all()
    assert out["labels"]["source_id"].tolist() == kept_ids

    ep = out["epoch_photometry"]
    raw_ep = raw_tables["epoch_photometry"]
    expected_rows = raw_ep[raw_ep["source_id"].isin(kept_ids) & (raw_ep["band"] == "G")]
    assert len(ep) == len(expected_rows) and set(ep["band"]) == {"G"}
    assert ep["rejected_by_variability"].sum() == 2 * len(kept_ids)  # flagged transits kept
    assert ep["mag"].isna().sum() == len(kept_ids)
    assert ep.equals(ep.sort_values(["source_id", "time"]).reset_index(drop=True))

    on_disk = json.loads(paths["metrics"].read_text())
    assert on_disk == metrics
    assert metrics["stars"] == {"input": 9, "kept": 3, "rejected": 6}
    t = metrics["transits"]
    assert t["input_rows"] == len(raw_ep)
    assert t["kept_g_rows"] + t["dropped_non_g_rows_of_kept_stars"] + t["dropped_rows_of_rejected_stars"] \
        + t["dropped_repeated_rows_of_kept_stars"] == len(raw_ep)
    assert (t["kept_g_flagged_by_variability"], t["kept_g_nan_mag"]) == (6, 3)
    assert metrics["clean_g_epochs_per_kept_star"] == {"min": 52, "median": 55.0, "max": 60}
    assert {k: v for k, v in metrics["rejected_by_reason"].items() if v} == {
        r: 1 for r in expected_reasons.values()}

    report = json.loads((paths["report"] / "validation.json").read_text())
    assert report["success"] and set(report["tables"]) == {"vari_rrlyrae", "epoch_photometry",
                                                           "labels", "rejected"}
    assert (paths["report"] / "data_docs" / "index.html").exists()
    png = (paths["plots"] / "bailey.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_unlabelled_source_flows_on_for_inference(raw_tables, write_raw, tmp_path, kept_ids):
    raw_tables["labels"] = schema.empty("labels")
    metrics, paths = _run(write_raw(raw_tables), tmp_path)
    kept = schema.read_table(paths["out"] / "vari_rrlyrae.parquet", "vari_rrlyrae")
    # 203 (feh_error) and 204 (no_label) failed only label cuts
    assert kept["source_id"].tolist() == sorted(kept_ids + [203, 204])
    assert metrics["label_cuts"].startswith("skipped")
    assert len(schema.read_table(paths["out"] / "labels.parquet", "labels")) == 0
    assert (paths["plots"] / "bailey.png").exists()


def test_catalogue_without_phi31_error_skips_that_cut(raw_tables, write_raw, tmp_path, expected_reasons):
    """Real archive files made outside the SOS pipeline (e.g. the DR3 sample) lack phi31_g_error."""
    raw_tables["vari_rrlyrae"]["phi31_g_error"] = float("nan")
    metrics, paths = _run(write_raw(raw_tables), tmp_path)
    rejected = schema.read_table(paths["out"] / "rejected.parquet", "rejected")
    assert "phi31_g_error" not in set(rejected["reason"])
    assert metrics["phi31_error_cut"].startswith("skipped")
    phi31_only = [sid for sid, r in expected_reasons.items() if r == "phi31_g_error"]
    kept = schema.read_table(paths["out"] / "vari_rrlyrae.parquet", "vari_rrlyrae")
    assert set(phi31_only) <= set(kept["source_id"])


def test_params_reach_the_cuts(raw_dir, tmp_path, kept_ids):
    loose = dataclasses.replace(CFG, min_clean_epochs=40, max_phi31_error_rrab=0.6)
    metrics, _ = _run(raw_dir, tmp_path, loose)
    assert metrics["stars"]["kept"] == len(kept_ids) + 2  # 202 (45 epochs) and 103 (phi31 0.5)


def test_truncated_raw_parquet_is_a_clear_error(raw_dir, tmp_path):
    path = raw_dir / "vari_rrlyrae.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(schema.SchemaError, match="vari_rrlyrae: .*not a readable Parquet file"):
        _run(raw_dir, tmp_path)
    assert not (tmp_path / "clean").exists()


def _clean_tables(raw_tables):
    epochs = raw_tables["epoch_photometry"]
    tables = select_stars(CFG, raw_tables["vari_rrlyrae"], epoch_counts(epochs), raw_tables["labels"])[0]
    return {**tables, "epoch_photometry": kept_epochs(epochs, tables["vari_rrlyrae"]["source_id"])}


def _too_few_epochs(t):
    ep = t["epoch_photometry"]
    drop = ep.index[ep["source_id"] == 102][:10]
    t["epoch_photometry"] = ep.drop(drop)


def _kept_and_rejected(t):
    t["rejected"] = schema.conform(
        t["rejected"].assign(source_id=t["rejected"]["source_id"].where(
            t["rejected"]["source_id"] != 103, 101)), "rejected")


def _bp_rows(t):
    t["epoch_photometry"].loc[t["epoch_photometry"].index[:1], "band"] = "BP"


def _rrd_kept(t):
    t["vari_rrlyrae"].loc[0, "best_classification"] = "RRd"


@pytest.mark.parametrize("breakage, column, sid", [
    (_too_few_epochs, "n_clean_g_epochs", 102),
    (_kept_and_rejected, "kept", 101),
    (_bp_rows, "band", 101),
    (_rrd_kept, "best_classification", 101),
])
def test_clean_suite_catches_a_broken_clean_table(raw_tables, breakage, column, sid, tmp_path):
    tables = _clean_tables(raw_tables)
    assert validate_clean_tables(CFG, VCFG, tables, True, CUTS)["success"]
    breakage(tables)
    with pytest.raises(ValidationFailed, match=rf"'{column}'.*source_id \[{sid}\]"):
        validate_clean_tables(CFG, VCFG, tables, True, CUTS, tmp_path / "report")
    assert json.loads((tmp_path / "report" / "validation.json").read_text())["success"] is False
