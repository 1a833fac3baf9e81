"""Stage `extract`: write the three raw tables from the source that params select.

Sources: `simulate` (embedded default, offline), `gaia` (the archive through astroquery),
`files` (a user's downloaded archive files). Each hands its epoch photometry batch by batch to a
writer (the archive and the files never sit in memory whole) and returns the other tables in the
Gaia DR3 layouts plus a report; this module conforms, writes and reports counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rrlfeh.config import Params
from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import EpochSink


def load_source(params: Params, out_dir: Path,
                write_epochs: EpochSink) -> tuple[dict[str, pd.DataFrame], dict]:
    """The tables of `extract.source` but epoch_photometry, which goes to `write_epochs` in
    batches, and what the source reports about them."""
    cfg = params.extract
    if cfg.source == "simulate":
        from rrlfeh.sim.simulate import simulate_tables

        tables = simulate_tables(cfg.simulate, seed=params.seed)  # sized by params: in memory
        write_epochs(tables.pop("epoch_photometry"))
        return tables, {"source": "simulate", "label_mode": cfg.simulate.label_mode}
    if cfg.source == "gaia":
        from rrlfeh.sources.gaia_archive import extract_from_archive

        return extract_from_archive(cfg.gaia, out_dir / "_archive_batches", write_epochs)
    if cfg.source == "files":
        from rrlfeh.sources.files import read_archive_files

        return read_archive_files(cfg.files, write_epochs, parts=out_dir / "_files_parts")
    raise ValueError(f"unknown extract.source {cfg.source!r}")  # config validation prevents this


def run_extract(params: Params, out_dir: Path, report_path: Path) -> dict:
    """Write data/raw/*.parquet and the extract report (star and row counts per table)."""
    out_dir = Path(out_dir)
    with schema.TableWriter(out_dir / "epoch_photometry.parquet", "epoch_photometry") as epochs:
        tables, source_report = load_source(params, out_dir, epochs.write)
    counts: dict[str, int] = {}
    for name in schema.RAW_TABLES:
        if name == "epoch_photometry":
            counts["rows_epoch_photometry"] = epochs.rows
            continue
        df = tables.get(name)
        if df is None:
            df = schema.empty(name)
        schema.write_table(df, out_dir / f"{name}.parquet", name)
        counts[f"rows_{name}"] = int(len(df))
    truth = tables.get("truth")
    schema.write_table(truth if truth is not None else schema.empty("truth"),
                       out_dir / "truth.parquet", "truth")
    vari = tables["vari_rrlyrae"]
    counts["stars"] = int(vari["source_id"].nunique())
    for t in schema.TYPES:
        counts[f"stars_{t}"] = int((vari["best_classification"] == t).sum())
    counts["stars_labelled"] = int(tables.get("labels", schema.empty("labels"))["source_id"].nunique())
    report = {**source_report, **counts}
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report
