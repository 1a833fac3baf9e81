"""A user's own Gaia archive files: `extract.source: files`, and the readers `rrlfeh predict` uses.

Formats: CSV, ECSV, VOTable, FITS, Parquet, and the archive's zips of per-source DataLink files.
The vari_rrlyrae and labels tables are read whole (one row per star); the epoch photometry is
streamed in chunks of whole stars (see epoch_stream). Every star of the catalogue is accounted
for in the report: with epochs, or listed with the reason it has none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.data import FilesConfig
from rrlfeh.config.loader import ConfigError
from rrlfeh.core import reasons as R
from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import EpochIssue, EpochSink, is_epoch_file, iter_epoch_batches
from rrlfeh.core.formats import format_of, read_table_file
from rrlfeh.sources.labels import match_labels, read_labels_table
from rrlfeh.sources.reconcile import reconcile_ids
from rrlfeh.errors import DataError

__all__ = [
    "ArchiveFiles", "check_outputs_apart", "discover", "iter_epoch_batches", "read_archive_files", "read_vari_table",
]


@dataclass(frozen=True)
class ArchiveFiles:
    """Which file plays which part: the catalogue, the epoch photometry, the labels (optional)."""

    vari: Path
    epochs: list[Path] = field(default_factory=list)
    labels: Path | None = None


def _role(path: Path) -> str | None:
    name = path.name.lower()
    if name.startswith("vari_rrlyrae") and format_of(name):
        return "vari"
    if name.startswith("labels") and format_of(name):
        return "labels"
    return "epochs" if is_epoch_file(path) else None


def discover(inputs: Iterable[str | Path]) -> ArchiveFiles:
    """Sort files and folders into their parts by name.

    In a folder: vari_rrlyrae.*, labels.*, epoch_photometry* and *.zip (the archive's per-source
    files); other files are ignored. A file named on its own that is neither the catalogue nor
    labels is taken as epoch photometry.
    """
    found: dict[str, list[Path]] = {"vari": [], "labels": [], "epochs": []}
    for p in map(Path, inputs):
        if p.is_dir():
            for f in sorted(f for f in p.iterdir() if f.is_file()):
                role = _role(f)
                if role:
                    found[role].append(f)
        elif p.is_file():
            found[_role(p) or "epochs"].append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    shown = [str(p) for p in inputs]
    if len(found["vari"]) != 1:
        raise DataError(
            f"{shown}: expected one vari_rrlyrae.* table, found {[str(p) for p in found['vari']]}"
        )
    if len(found["labels"]) > 1:
        raise DataError(
            f"{shown}: more than one labels.* table: {[str(p) for p in found['labels']]}"
        )
    if not found["epochs"]:
        raise DataError(f"{shown}: no epoch photometry (epoch_photometry*.<fmt> or .zip) found")
    labels = found["labels"][0] if found["labels"] else None
    return ArchiveFiles(vari=found["vari"][0], epochs=found["epochs"], labels=labels)


def check_outputs_apart(outputs: Iterable[Path], inputs: Iterable[str | Path],
                        found: ArchiveFiles) -> None:
    """Refuse, before any work, an output that is one of the input files (a path, a symlink or a
    hard link to it) or that an input folder would read as input next time (a name `discover`
    gives a role, e.g. epoch_photometry.parquet or vari_rrlyrae.fits)."""
    read = [found.vari, *found.epochs, *([found.labels] if found.labels else [])]
    folders = [Path(p).resolve() for p in inputs if Path(p).is_dir()]
    for out in map(Path, outputs):
        target = out.resolve()
        for f in read:
            if target == f.resolve() or (out.exists() and os.path.samefile(out, f)):
                raise DataError(f"{out}: is the input file {f}; write the output elsewhere")
        role = _role(target)
        if role and target.parent in folders:
            raise DataError(f"{out}: {target.parent} is an input folder and would read this file "
                            f"as {role} next time; choose another name or folder")


def read_vari_table(path: str | Path) -> pd.DataFrame:
    """The vari_rrlyrae table of a file, conformed; repeated identical rows are dropped."""
    path = Path(path)
    try:
        vari = schema.conform(read_table_file(path), "vari_rrlyrae")
    except DataError as exc:
        raise DataError(exc if str(path) in str(exc) else f"{path}: {exc}") from exc
    vari = vari.drop_duplicates()
    repeated = vari["source_id"][vari["source_id"].duplicated()]
    if len(repeated):
        raise DataError(
            f"{path}: {repeated.nunique()} source_id(s) appear in rows that disagree, "
            f"e.g. {repeated.unique()[:5].tolist()}"
        )
    return vari.reset_index(drop=True)


def read_archive_files(cfg: FilesConfig, write_epochs: EpochSink,
                       parts: Path | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """vari_rrlyrae and labels from the files in `cfg`, and the extract report; the epoch
    photometry goes to `write_epochs` in batches of `cfg.stars_per_batch` stars. With a `parts`
    folder, a killed run resumes from the epoch files' parts read before (epoch_parts)."""
    if not cfg.vari_rrlyrae or not cfg.epoch_photometry:
        raise ConfigError(
            "extract.files: vari_rrlyrae and epoch_photometry are required when extract.source "
            "is files"
        )
    vari = read_vari_table(cfg.vari_rrlyrae)
    star_ids = vari["source_id"].to_numpy()
    batches = partial(iter_epoch_batches, cfg.epoch_photometry, cfg.stars_per_batch,
                      parts=parts, rows_per_part=cfg.rows_per_part)
    written, received, issues = _read_epochs(batches, star_ids, write_epochs)
    failed = [i for i in issues if i.unreadable]
    if failed and not len(written):
        raise DataError(f"no epoch file could be read, e.g. {failed[0].file}: {failed[0].reason}")
    # a star without epochs gets its file's failure, or what else its zip held (other products)
    reasons = {i.source_id: R.tagged(R.UNREADABLE_EPOCH_FILE if i.unreadable else R.NO_EPOCHS, i.reason)
               for i in issues if i.source_id is not None}
    report = {
        "source": "files",
        "files": {"vari_rrlyrae": cfg.vari_rrlyrae, "epoch_photometry": list(cfg.epoch_photometry),
                  "labels": cfg.labels or None},
        **reconcile_ids(star_ids, received, written, reasons,
                        default_reason=R.tagged(R.NO_EPOCHS, "no epoch rows in the files")),
        "unreadable_files": [f"{i.file}: {i.reason}" for i in failed if i.source_id is None],
    }
    tables = {"vari_rrlyrae": vari}
    if cfg.labels:
        labels, report["labels"] = match_labels(
            read_labels_table(Path(cfg.labels), cfg.labels_columns), star_ids, cfg.labels
        )
        tables["labels"] = labels
    else:
        tables["labels"] = schema.empty("labels")
        report["labels"] = None
    return tables, report


def _read_epochs(batches: Callable[..., Iterable[pd.DataFrame]], star_ids,
                 write: EpochSink) -> tuple[np.ndarray, np.ndarray, list]:
    """Hand the epoch rows of the catalogued stars in `batches(issues)` to `write` (others are
    counted, not kept); the ids written, the ids seen, the issues."""
    issues: list[EpochIssue] = []
    written, seen = [], []
    for batch in batches(issues):
        ids = batch["source_id"]
        seen.append(ids.unique())
        kept = batch[ids.isin(star_ids)]
        write(kept)
        written.append(kept["source_id"].unique())
    seen.extend(np.asarray([i.source_id], dtype="int64") for i in issues
                if i.source_id is not None and i.unreadable)
    return _ids(written), _ids(seen), issues


def _ids(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype="int64")
