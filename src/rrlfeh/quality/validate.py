"""Stage `validate`, and the same machinery for the clean tables: run Great Expectations, report, stop.

GX Core 1.x with an ephemeral, in-memory context built from an explicit config (no
great_expectations.yml, analytics off, no progress bars); pandas dataframes are the batches. The
epoch table is validated in chunks of whole stars, so memory does not grow with the catalogue; the
chunks' results are merged into one per table (gx_chunks). The report JSON is a compact,
deterministic summary (no run times or ids, so an unchanged result does not re-trigger the stages
that depend on it); GX's own data docs (HTML, one page per suite and per validation) are built
beside it from the same in-memory results.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
)

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_parquet_stars
from rrlfeh.quality.expectations import (
    Batches, Suites, chunks, clean_batches, clean_suites, describe, raw_batches, raw_suites,
)
from rrlfeh.quality.gx_chunks import ChunkedResult
from rrlfeh.errors import ValidationFailed

N_EXAMPLES = 5
# Stars per chunk of the epoch table in validate and clean, as preprocess and predict stream them:
# ~0.7 million rows of DR3-like stars (G, BP and RP). Peak memory of either stage ~1 GB with GX's
# copies of a chunk (2,500 stars: 0.8 GB, 20,000: 2 GB), at about the same speed.
STARS_PER_CHUNK = 5_000
# SUMMARY keeps a partial list of offending rows; 20 so that duplicates of one star still leave up
# to five distinct source_ids. Offenders come back as row labels, mapped to source_id here: asking
# GX for `unexpected_index_column_names` (or its index query) makes it loop in Python over *every*
# offending row -- 383 s for a table of 7 million bad magnitudes instead of 9 s.
RESULT_FORMAT = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 20,
    "return_unexpected_index_query": False,
}


def read_epoch_chunks(path: Path, stars_per_chunk: int) -> Iterator[pd.DataFrame]:
    """An epoch_photometry Parquet file in conformed chunks of whole stars, at least one (empty
    for an empty table: GX still reports every expectation). The file's layout is checked now,
    with read_table's errors; its rows as they are read."""
    schema.check_layout(path, "epoch_photometry")
    return _conformed(iter_parquet_stars(path, stars_per_chunk, columns=list(schema.EPOCH_PHOTOMETRY)))


def _conformed(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    empty = True
    for chunk in chunks:
        empty = False
        yield schema.conform(chunk, "epoch_photometry")
    if empty:
        yield schema.empty("epoch_photometry")


def _context(docs_dir: Path | None):
    sites = {}
    if docs_dir is not None:
        sites["rrlfeh"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suites(suites: Suites, batches: Batches, name: str, docs_dir: Path | None = None) -> dict:
    """Validate each table against its suite; returns the JSON-safe summary (data docs if asked).

    A table is a dataframe or an iterable of chunks (see gx_chunks for what may be chunked). Tables
    run in the order of `batches`, so a table's derived columns may count an earlier one's chunks.
    """
    context = _context(docs_dir)
    source = context.data_sources.add_pandas(name)
    # one run: every chunk of a table is stored under the same key, and their merge replaces them
    run_id = RunIdentifier(run_time=datetime.now(timezone.utc))
    tables = {}
    for table, frames in batches.items():
        expectations = suites[table]
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}.{table}", expectations=expectations))
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("whole_table")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{table}", data=batch, suite=suite))
        merged, columns = ChunkedResult(RESULT_FORMAT), _columns_read(expectations)
        for frame in chunks(frames):
            frame = frame[columns].reset_index(drop=True)
            merged.add(definition.run(batch_parameters={"dataframe": frame},
                                      result_format=RESULT_FORMAT, run_id=run_id),
                       frame["source_id"])
        tables[table] = _summarize(merged)
        if docs_dir is not None:
            store = context.validation_results_store
            store.set(next(k for k in store.list_keys()
                           if k.expectation_suite_identifier.name == suite.name), merged.result)
    if docs_dir is not None:
        shutil.rmtree(docs_dir, ignore_errors=True)  # only this run's pages, no stale timestamps
        context.build_data_docs(site_names=["rrlfeh"])
    return {
        "suite": name,
        "success": all(t["success"] for t in tables.values()),
        "great_expectations_version": gx.__version__,
        "tables": {table: tables[table] for table in suites},
    }


def _columns_read(expectations) -> list[str]:
    """source_id (named in every failure) and the columns the suite reads: GX fingerprints every
    batch under 1 GB by hashing all of it, so unread columns cost time and memory."""
    columns = ["source_id"]
    for e in expectations:
        config = e.configuration.to_json_dict()
        kw = config["kwargs"]
        named = [kw["column"]] if "column" in kw else list(kw.get("column_list", []))
        condition = kw.get("row_condition")
        if isinstance(condition, dict) and "column" in condition:
            named.append(condition["column"]["name"])
        columns.extend(c for c in dict.fromkeys(named) if c not in columns)
    return columns


def _summarize(merged: ChunkedResult) -> dict:
    result = merged.result.to_json_dict()
    expectations = []
    for r, offenders in zip(result["results"], merged.offenders):
        config, res = r["expectation_config"], r.get("result") or {}
        column, check = describe(config)
        entry = {
            "expectation": config["type"],
            "column": column,
            "check": check,
            "success": bool(r["success"]),
            "unexpected_count": res.get("unexpected_count"),
            "element_count": res.get("element_count"),
        }
        if "observed_value" in res:  # table-level expectations report a value, not rows
            entry["observed_value"] = res["observed_value"]
        if not r["success"]:
            entry["example_source_ids"] = _example_ids(offenders)
            entry["example_values"] = (res.get("partial_unexpected_list") or [])[:N_EXAMPLES]
            error = _exception(r.get("exception_info"))
            if error:
                entry["error"] = error
        expectations.append(entry)
    return {
        "success": bool(result["success"]),
        "rows": merged.rows,
        "evaluated": result["statistics"]["evaluated_expectations"],
        "failed": result["statistics"]["unsuccessful_expectations"],
        "expectations": expectations,
    }


def _example_ids(source_ids: list[int]) -> list[int]:
    """Up to N_EXAMPLES distinct source_ids of the offending rows, in table order."""
    return list(dict.fromkeys(source_ids))[:N_EXAMPLES]


def _exception(info) -> str:
    """GX reports an expectation that could not run either flat or keyed by metric."""
    if not info:
        return ""
    if "raised_exception" in info:
        return (info.get("exception_message") or "") if info["raised_exception"] else ""
    messages = [v.get("exception_message") for v in info.values()
                if isinstance(v, dict) and v.get("raised_exception")]
    return "; ".join(m for m in messages if m)


def _short(values: list) -> str:
    return "[" + ", ".join(f"{v:.6g}" if isinstance(v, float) else repr(v) for v in values) + "]"


def failure_message(summary: dict, report: Path | None) -> str:
    """One line: each failed expectation, its column, what it checks and up to five source_ids."""
    failed = [(t, e) for t, res in summary["tables"].items() for e in res["expectations"]
              if not e["success"]]
    parts = []
    for table, e in failed[:3]:
        text = f"{table}: {e['expectation']} on '{e['column']}' ({e['check']})"
        if e.get("error"):
            text += f" could not run: {e['error']}"
        elif e.get("unexpected_count") is None:
            text += f" failed: observed {e.get('observed_value')}"
        else:
            text += f" failed for {e['unexpected_count']} of {e['element_count']} rows"
            if e.get("example_source_ids"):
                text += f", e.g. source_id {e['example_source_ids']}"
            if e.get("example_values"):
                text += f" with values {_short(e['example_values'])}"
        parts.append(text)
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    where = f" (report: {report})" if report else ""
    return f"{summary['suite']} tables failed validation: " + "; ".join(parts) + more + where


def check(suites: Suites, batches: Batches, name: str, report: Path | None,
          docs_dir: Path | None) -> dict:
    """Run, write the report (also on failure), raise ValidationFailed when any suite failed."""
    summary = run_suites(suites, batches, name, docs_dir)
    if report is not None:
        report = Path(report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not summary["success"]:
        raise ValidationFailed(failure_message(summary, report))
    return summary


def run_validate(cfg: ValidateConfig, raw_dir: Path, out_dir: Path,
                 stars_per_chunk: int = STARS_PER_CHUNK) -> dict:
    """Stage `validate`: out_dir/raw.json and GX data docs under out_dir/data_docs."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    vari = schema.read_table(raw_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")
    epochs = read_epoch_chunks(raw_dir / "epoch_photometry.parquet", stars_per_chunk)
    batches = raw_batches(vari, epochs, schema.read_table(raw_dir / "labels.parquet", "labels"))
    return check(raw_suites(cfg), batches, "raw", out_dir / "raw.json", out_dir / "data_docs")


def validate_clean_tables(cfg: CleanConfig, vcfg: ValidateConfig, tables: dict, labelled: bool,
                          reasons: tuple[str, ...], report_dir: Path | None = None,
                          phi31_cut: bool = True, feh_error_cut: bool = True) -> dict:
    """The clean stage's promise, checked before it publishes: report_dir/validation.json + data docs.

    `tables`: the clean tables, epoch_photometry whole or in chunks of whole stars; `labelled`: the
    raw labels table was not empty (then every kept star must have a label); `reasons`: the
    rejection reasons the caller's cuts can give.
    """
    report_dir = Path(report_dir) if report_dir is not None else None
    return check(
        clean_suites(cfg, vcfg, labelled, reasons, phi31_cut, feh_error_cut), clean_batches(tables),
        "clean",
        report_dir / "validation.json" if report_dir else None,
        report_dir / "data_docs" if report_dir else None,
    )
