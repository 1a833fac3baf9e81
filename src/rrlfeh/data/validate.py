"""Stage `validate`, and the same machinery for the clean tables: run Great Expectations, report, stop.

GX Core 1.x with an ephemeral, in-memory context built from an explicit config (no
great_expectations.yml, analytics off, no progress bars); pandas dataframes are the batches. The
report JSON is a compact, deterministic summary (no run times or ids, so an unchanged result does not
re-trigger the stages that depend on it); GX's own data docs (HTML, one page per suite and per
validation) are built beside it from the same in-memory results.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
)

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.data import schema
from rrlfeh.data.expectations import Suites, clean_batches, clean_suites, describe, raw_batches, raw_suites
from rrlfeh.errors import ValidationFailed

N_EXAMPLES = 5
# SUMMARY keeps a partial list of offending rows; 20 so that duplicates of one star still leave up
# to five distinct source_ids. Offenders come back as row labels, mapped to source_id here: asking
# GX for `unexpected_index_column_names` (or its index query) makes it loop in Python over *every*
# offending row -- 383 s for a table of 7 million bad magnitudes instead of 9 s.
RESULT_FORMAT = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 20,
    "return_unexpected_index_query": False,
}


def read_tables(folder: Path, names) -> dict[str, pd.DataFrame]:
    """Our Parquet tables from `folder`, conformed; a missing or corrupt file is a SchemaError."""
    return {name: schema.read_table(Path(folder) / f"{name}.parquet", name) for name in names}


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


def run_suites(suites: Suites, batches: dict[str, pd.DataFrame], name: str,
               docs_dir: Path | None = None) -> dict:
    """Validate each batch against its suite; returns the JSON-safe summary (data docs if asked)."""
    context = _context(docs_dir)
    source = context.data_sources.add_pandas(name)
    tables = {}
    for table, expectations in suites.items():
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}.{table}", expectations=expectations))
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("whole_table")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{table}", data=batch, suite=suite))
        frame = batches[table][_columns_read(expectations)].reset_index(drop=True)
        result = definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
        tables[table] = _summarize(result.to_json_dict(), frame["source_id"])
    if docs_dir is not None:
        shutil.rmtree(docs_dir, ignore_errors=True)  # only this run's pages, no stale timestamps
        context.build_data_docs(site_names=["rrlfeh"])
    return {
        "suite": name,
        "success": all(t["success"] for t in tables.values()),
        "great_expectations_version": gx.__version__,
        "tables": tables,
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


def _summarize(result: dict, source_id: pd.Series) -> dict:
    expectations = []
    for r in result["results"]:
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
            entry["example_source_ids"] = _example_ids(res.get("partial_unexpected_index_list"),
                                                       source_id)
            entry["example_values"] = (res.get("partial_unexpected_list") or [])[:N_EXAMPLES]
            error = _exception(r.get("exception_info"))
            if error:
                entry["error"] = error
        expectations.append(entry)
    return {
        "success": bool(result["success"]),
        "rows": len(source_id),
        "evaluated": result["statistics"]["evaluated_expectations"],
        "failed": result["statistics"]["unsuccessful_expectations"],
        "expectations": expectations,
    }


def _example_ids(row_labels, source_id: pd.Series) -> list[int]:
    """Up to N_EXAMPLES distinct source_ids of the offending rows, in table order."""
    labels = [r for r in row_labels or [] if isinstance(r, (int, np.integer))]
    ids = pd.unique(source_id.loc[labels].to_numpy())
    return [int(i) for i in ids[:N_EXAMPLES]]


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


def check(suites: Suites, batches: dict[str, pd.DataFrame], name: str,
          report: Path | None, docs_dir: Path | None) -> dict:
    """Run, write the report (also on failure), raise ValidationFailed when any suite failed."""
    summary = run_suites(suites, batches, name, docs_dir)
    if report is not None:
        report = Path(report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not summary["success"]:
        raise ValidationFailed(failure_message(summary, report))
    return summary


def run_validate(cfg: ValidateConfig, raw_dir: Path, out_dir: Path) -> dict:
    """Stage `validate`: out_dir/raw.json and GX data docs under out_dir/data_docs."""
    tables = read_tables(raw_dir, schema.RAW_TABLES)
    out_dir = Path(out_dir)
    return check(raw_suites(cfg), raw_batches(tables), "raw", out_dir / "raw.json",
                 out_dir / "data_docs")


def validate_clean_tables(cfg: CleanConfig, vcfg: ValidateConfig, tables: dict[str, pd.DataFrame],
                          labelled: bool, reasons: tuple[str, ...],
                          report_dir: Path | None = None, phi31_cut: bool = True) -> dict:
    """The clean stage's promise, checked before it writes: report_dir/validation.json + data docs.

    `labelled`: the raw labels table was not empty (then every kept star must have a label);
    `reasons`: the rejection reasons the caller's cuts can give.
    """
    report_dir = Path(report_dir) if report_dir is not None else None
    return check(
        clean_suites(cfg, vcfg, labelled, reasons, phi31_cut), clean_batches(tables), "clean",
        report_dir / "validation.json" if report_dir else None,
        report_dir / "data_docs" if report_dir else None,
    )
