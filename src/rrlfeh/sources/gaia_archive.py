"""`extract.source: gaia`: the RR Lyrae catalogue and its epoch photometry from the Gaia archive.

1. One ADQL query (sync or async TAP job) on vari_rrlyrae joined with gaia_source: the stars.
2. DataLink EPOCH_PHOTOMETRY in batches of at most 5000 ids; each finished batch is saved under
   the work folder, so an interrupted run resumes where it stopped (archive_batches).
3. Labels from a catalogue (a file, or a URL downloaded once into the work folder).
The report reconciles ids asked for, received and written, and lists every missing id with its
reason: nothing the archive did not return is lost silently.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from rrlfeh.config.data import GaiaConfig
from rrlfeh.core import reasons as R
from rrlfeh.core import schema
from rrlfeh.sources.adql import SYNC_ROW_LIMIT, vari_query
from rrlfeh.sources.archive_batches import BatchStore
from rrlfeh.sources.archive_client import ArchiveClient, PermanentError, Retry, download
from rrlfeh.core.epoch_stream import EpochIssue, EpochSink, read_epoch_zip
from rrlfeh.core.formats import check_not_error_page, format_of, sniff_suffix
from rrlfeh.sources.labels import match_labels, read_labels_table
from rrlfeh.sources.reconcile import reconcile_ids
from rrlfeh.errors import DataError

log = logging.getLogger(__name__)
NOT_RETURNED = R.tagged(
    R.NO_EPOCHS, "not returned by the archive (no file for this id in the DataLink answer)")


def extract_from_archive(cfg: GaiaConfig, work_dir: Path,
                         write_epochs: EpochSink) -> tuple[dict[str, pd.DataFrame], dict]:
    """vari_rrlyrae and labels from the archive, and the extract report; the epoch photometry goes
    to `write_epochs` one saved batch at a time."""
    adql = vari_query(cfg)
    store = BatchStore(Path(work_dir), _signature(cfg, adql))
    client = ArchiveClient(cfg)
    retry = Retry(cfg.retries, cfg.backoff_s)
    vari, queried = store.load_vari(), False
    if vari is None:
        vari, queried = _query_stars(client, retry, adql, cfg), True
        store.save_vari(vari)
    ids = np.sort(vari["source_id"].to_numpy(dtype="int64"))
    batches = [ids[i : i + cfg.batch_size] for i in range(0, len(ids), cfg.batch_size)]
    resumed = 0
    # a bar on a terminal (off when stderr is not one: the INFO lines carry the progress there)
    bar = tqdm(total=len(batches), unit="batch", desc="DataLink", disable=None)
    with bar, logging_redirect_tqdm([logging.getLogger("rrlfeh")]):  # log lines above the bar
        for k, batch in enumerate(batches):
            bar.update(1)
            if store.record(k) is not None:
                resumed += 1
                continue
            try:
                rows, record = retry(lambda: _fetch_batch(client, store, k, batch), _what(k, batches))
            except DataError as exc:
                done = sum(store.record(j) is not None for j in range(len(batches)))
                raise DataError(
                    f"{exc}. {done} of {len(batches)} batches are saved in {work_dir}; "
                    "run the extract again to resume"
                ) from exc
            store.save_batch(k, rows, record)
            log.info("%s: %d rows", _what(k, batches), len(rows))
    if resumed:
        log.info("%d of %d DataLink batches were already saved (resumed)", resumed, len(batches))
    written, records = _write_batches(store, len(batches), write_epochs)
    reasons = _unreadable(records)
    received = [int(i) for r in records for i in r["received"]]
    report = {
        "source": "gaia",
        "query": adql,
        "tap_mode": cfg.tap_mode,
        "datalink_format": cfg.datalink_format,
        "batches": len(batches),
        "batches_resumed": resumed,
        "query_resumed": not queried,
        "cache_reset": store.reset,
        "transient_failures": retry.failures,
        "unreadable_files": [f for r in records for f in r.get("unreadable_files", [])],
        **reconcile_ids(ids, received, written, reasons, NOT_RETURNED),
    }
    tables = {"vari_rrlyrae": vari}
    if cfg.labels:
        path = _labels_file(cfg, Path(work_dir), retry)
        tables["labels"], report["labels"] = match_labels(
            read_labels_table(path, cfg.labels_columns), ids, cfg.labels
        )
    else:
        tables["labels"], report["labels"] = schema.empty("labels"), None
    return tables, report


def _unreadable(records: list[dict]) -> dict[int, str]:
    """Each star id whose file a batch could not read, with its tagged reason (a batch record's
    issues are the unreadable files only)."""
    return {int(sid): R.tagged(R.UNREADABLE_EPOCH_FILE, why)
            for r in records for sid, why in r["issues"].items()}


def _signature(cfg: GaiaConfig, adql: str) -> dict:
    """What the saved batches depend on; any change makes them stale."""
    return {"tap_server": cfg.tap_server, "data_server": cfg.data_server, "query": adql,
            "data_release": cfg.data_release, "format": cfg.datalink_format,
            "valid_data": cfg.valid_data, "batch_size": cfg.batch_size}


def _what(k: int, batches: list) -> str:
    return f"DataLink batch {k + 1}/{len(batches)} ({len(batches[k])} ids)"


def _query_stars(client: ArchiveClient, retry: Retry, adql: str, cfg: GaiaConfig) -> pd.DataFrame:
    raw = retry(lambda: client.query(adql), "TAP query on " + cfg.vari_table)
    try:
        vari = schema.conform(raw, "vari_rrlyrae")
    except DataError as exc:
        raise DataError(f"TAP answer from {cfg.tap_server}: {exc}") from exc
    if not len(vari):
        raise DataError(f"the TAP query selects no stars (check extract.gaia.where): {adql}")
    if cfg.tap_mode == "sync" and not cfg.top and len(vari) > SYNC_ROW_LIMIT:
        raise DataError(
            f"the sync TAP query returns more than {SYNC_ROW_LIMIT} rows (astroquery's limit): "
            "set extract.gaia.tap_mode: async, or a top"
        )
    repeated = vari["source_id"].duplicated()
    if repeated.any():
        raise DataError(
            f"TAP answer: source_id(s) {vari['source_id'][repeated].unique()[:5].tolist()} come "
            "more than once (does the where clause join another table?)"
        )
    log.info("TAP query: %d stars", len(vari))
    return vari


def _fetch_batch(
    client: ArchiveClient, store: BatchStore, k: int, ids
) -> tuple[pd.DataFrame, dict]:
    """Download one DataLink zip and read it; per-star problems become that star's reason."""
    dest = store.zip_path(k)
    client.fetch_epoch_zip(ids, dest)
    issues: list[EpochIssue] = []
    rows = read_epoch_zip(dest, issues)
    asked = set(int(i) for i in ids)
    bad = {int(i.source_id): i.reason for i in issues if i.source_id is not None and i.unreadable}
    if len(asked) > 1 and not len(rows) and len(bad) >= len(asked):
        # not one readable file: a format problem of the whole answer, not of single stars
        first = issues[0]
        raise PermanentError(f"no file of the DataLink answer is readable, e.g. {first.reason}")
    # ids answered but not asked for are kept in `received` (the report counts them), not in rows
    received = sorted(set(rows["source_id"].unique().tolist()) | set(bad))
    rows = rows[rows["source_id"].isin(asked)]
    unreadable = [f"{i.file}: {i.reason}" for i in issues if i.source_id is None and i.unreadable]
    return rows, {"batch": k, "asked": len(asked), "received": received,
                  "issues": {str(s): r for s, r in bad.items() if s in asked},
                  "unreadable_files": unreadable}


def _write_batches(store: BatchStore, n: int, write: EpochSink) -> tuple[np.ndarray, list[dict]]:
    """Hand the saved batches' rows to `write`, in order; the ids written and the batch records."""
    written = []
    for k in range(n):
        rows = store.rows(k)
        write(rows)
        written.append(rows["source_id"].unique())
    ids = np.concatenate(written) if written else np.empty(0, dtype="int64")
    return ids, [store.record(k) for k in range(n)]


def _labels_file(cfg: GaiaConfig, work_dir: Path, retry: Retry) -> Path:
    """A local path to the labels catalogue, downloading it once when it is a URL."""
    parts = urlsplit(cfg.labels)
    if parts.scheme not in ("http", "https", "ftp"):
        return Path(cfg.labels)
    tag = hashlib.sha256(cfg.labels.encode()).hexdigest()[:12]
    done = sorted(work_dir.glob(f"labels-{tag}.*"))
    if done:
        return done[0]
    part = work_dir / f"labels-{tag}-download.tmp"
    retry(lambda: _download_checked(cfg.labels, part, cfg.timeout_s), f"download of {cfg.labels}")
    # a service URL (a VizieR query...) may not end in a suffix: name the file by its content
    with open(part, "rb") as fh:
        suffix = Path(parts.path).suffix if format_of(parts.path) else sniff_suffix(fh.read(4096))
    return part.replace(work_dir / f"labels-{tag}{suffix}")


def _download_checked(url: str, dest: Path, timeout: float) -> None:
    """Download, and refuse to keep an error page as if it were the catalogue."""
    download(url, dest, timeout)
    with open(dest, "rb") as fh:
        head = fh.read(4096)
    try:
        check_not_error_page(head, url)
    except DataError:
        dest.unlink()
        raise
