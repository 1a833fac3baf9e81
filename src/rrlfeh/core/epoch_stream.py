"""Stream epoch photometry from files in chunks of whole stars, with bounded memory.

Inputs are table files (CSV, ECSV, VOTable, FITS, Parquet; one row per transit and band, the
rows of a star together, as the archive writes them), folders of such files, and the archive's
zips of per-source DataLink files (``EPOCH_PHOTOMETRY-Gaia DR3 <source_id>.<ext>``). Big files
are read in row chunks and regrouped so that no star is ever split between two yielded chunks.

A per-source file that cannot be read belongs to one star: with an `issues` list the star is
recorded there with its reason and reading goes on; without one, the first bad file raises a
DataError naming it. Files of other DataLink products in a zip (XP spectra, MCMC_GSPPHOT...) are
not read but counted in a warning, and a star that has only such files there gets an issue of kind
OTHER_PRODUCT, which is not a failure: it says why the star has no epochs.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rrlfeh.core import curve, schema
from rrlfeh.core.epoch_parts import PartStore, input_signature
from rrlfeh.core.formats import check_not_error_page, format_of, iter_table_chunks, read_table_file
from rrlfeh.errors import DataError

# The archive's per-source DataLink file: "EPOCH_PHOTOMETRY-Gaia DR3 4111834567779557376.xml".
PER_SOURCE = re.compile(r"^(?P<product>[A-Z_]+)-.*?(?P<sid>\d+)\.\w+(\.gz)?$")
ROWS_PER_CHUNK = 1_000_000  # rows read at once from a big file (~100 MB of epoch rows)
# The most one zip member may decompress to: a per-source file is ~100 kB, a zip of whole tables
# should be unzipped first. Bounds the memory a zip bomb can take (issue 13: 7 GB before).
MAX_MEMBER_BYTES = 64 * 2**20

log = logging.getLogger(__name__)
COLUMNS = list(curve.EPOCH_COLUMNS)  # what the stages read
_READ_ROWS = 262_144  # Parquet rows read at a time by iter_parquet_stars
EpochSink = Callable[[pd.DataFrame], None]  # takes epoch rows batch by batch (e.g. a TableWriter)


UNREADABLE = "unreadable"  # the star's epoch file could not be used
OTHER_PRODUCT = "other_product"  # the zip held only files of other DataLink products for the star


@dataclass(frozen=True)
class EpochIssue:
    """A star whose epoch file could not be used, and why (kind UNREADABLE); or a star of which a
    zip held only files of other products (kind OTHER_PRODUCT: what to tell if it has no epochs)."""

    source_id: int | None
    file: str
    reason: str
    kind: str = UNREADABLE

    @property
    def unreadable(self) -> bool:
        return self.kind == UNREADABLE


def is_epoch_file(path: Path) -> bool:
    """Whether a file name is one of the epoch-photometry files a folder may hold."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return True
    return format_of(name) is not None and name.startswith("epoch_photometry")


def expand_epoch_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files and folders -> the epoch files, in a stable order (folders are not recursed)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and is_epoch_file(f))
            if not found:
                raise DataError(f"{p}: no epoch_photometry* or .zip files in this folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    return out


def iter_epoch_batches(
    paths: Iterable[str | Path],
    stars_per_batch: int,
    issues: list[EpochIssue] | None = None,
    rows_per_chunk: int = ROWS_PER_CHUNK,
    parts: Path | None = None,
    rows_per_part: int = 100_000,
) -> Iterator[pd.DataFrame]:
    """Conformed epoch_photometry chunks of at most `stars_per_batch` whole stars each.

    Memory holds about one batch plus `rows_per_chunk` rows of the file being read (CSV,
    Parquet and FITS are read in row chunks; ECSV, VOTable and zip members whole).
    With a `parts` folder (and an `issues` list), what is read is kept there every
    `rows_per_part` rows, and a run killed midway resumes from it (epoch_parts); the folder is
    emptied once every file has been read.
    """
    files = expand_epoch_paths(paths)
    if parts is None or issues is None:
        yield from whole_star_batches(_checked(_frames(files, issues, rows_per_chunk)),
                                      stars_per_batch)
        return
    store = PartStore(parts, input_signature(files, rows_per_part, rows_per_chunk), rows_per_part)
    frames = (frame for i, path in enumerate(files)
              for frame in store.frames(i, partial(_file_frames, path, issues, rows_per_chunk),
                                        issues, EpochIssue))
    yield from whole_star_batches(_checked(frames), stars_per_batch)
    if store.resumed_parts:
        log.info("epoch files: %d part(s) replayed from %s (a resumed run)",
                 store.resumed_parts, parts)
    store.finish()


def check_epoch_files(paths: Iterable[str | Path], rows: int = 1000) -> None:
    """Fail now, naming the file, where an epoch file cannot be read at all: not a zip or a table
    (an error page, a truncated Parquet footer), or without the epoch columns. Reads a zip's
    directory and a table's first `rows` rows (ECSV and VOTable are only sniffed: they are read
    whole, later); a corrupt zip member stays that star's reason."""
    for path in expand_epoch_paths(paths):
        if path.name.lower().endswith(".zip"):
            _zip_directory(path).close()
            continue
        if format_of(path.name) in ("ecsv", "votable"):
            with open(path, "rb") as fh:
                check_not_error_page(fh.read(4096), str(path))
            continue
        for chunk in iter_table_chunks(path, rows):
            _conform(chunk.head(0), str(path))
            break


def whole_star_batches(
    frames: Iterable[pd.DataFrame], stars_per_batch: int
) -> Iterator[pd.DataFrame]:
    """Re-cut frames in which each star's rows are contiguous into batches of `stars_per_batch`
    whole stars (the last batch may hold fewer). A star may run on from one frame into the next.
    """
    if stars_per_batch < 1:
        raise ValueError("stars_per_batch must be >= 1")
    pending: list[pd.DataFrame] = []
    n_stars, last = 0, None
    for frame in frames:
        ids = frame["source_id"].to_numpy()
        if not len(ids):
            continue
        n_stars += int(last is None or ids[0] != last) + int(np.count_nonzero(ids[1:] != ids[:-1]))
        last = ids[-1]
        pending.append(frame)
        # the last star may go on in the next frame: cut only before it
        if n_stars > stars_per_batch:
            df = pd.concat(pending, ignore_index=True)
            ids = df["source_id"].to_numpy()
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            n_full = (len(starts) - 1) // stars_per_batch
            cuts = starts[: n_full * stars_per_batch + 1 : stars_per_batch]
            for a, b in zip(cuts[:-1], cuts[1:]):
                yield df.iloc[a:b].reset_index(drop=True)
            pending, n_stars = [df.iloc[cuts[-1]:]], len(starts) - n_full * stars_per_batch
    if pending:
        yield pd.concat(pending, ignore_index=True)


def read_epoch_zip(path: Path, issues: list[EpochIssue] | None = None) -> pd.DataFrame:
    """All the epoch rows in one DataLink zip (one batch of the archive), conformed."""
    frames = [frame for frame, _, _ in _zip_frames(Path(path), issues)]
    return pd.concat(frames, ignore_index=True) if frames else schema.empty("epoch_photometry")


def _conform(df: pd.DataFrame, where: str) -> pd.DataFrame:
    try:
        return schema.conform(df, "epoch_photometry")
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from exc


def _frames(
    files: list[Path], issues: list[EpochIssue] | None, rows: int
) -> Iterator[tuple[pd.DataFrame, str, bool]]:
    """(conformed frame, where it was read, whether its first star may go on from the frame
    before: true for the second and later row chunks of one file)."""
    for path in files:
        for frame, where, goes_on, _ in _file_frames(path, issues, rows):
            yield frame, where, goes_on


def _file_frames(path: Path, issues: list[EpochIssue] | None, rows: int,
                 start: int = 0) -> Iterator[tuple[pd.DataFrame, str, bool, int]]:
    """The frames of one file from read position `start` (a zip member or a row chunk), each
    with the position after it."""
    if path.name.lower().endswith(".zip"):
        for frame, where, end in _zip_frames(path, issues, start):
            yield frame, where, False, end
    else:
        for i, chunk in enumerate(iter_table_chunks(path, rows)):
            if i >= start:  # chunks before were read by a killed run: parsed, not kept again
                yield _conform(chunk, str(path)), str(path), i > 0, i + 1


def _zip_frames(path: Path, issues: list[EpochIssue] | None,
                start: int = 0) -> Iterator[tuple[pd.DataFrame, str, int]]:
    """Frames from a zip of per-source files (or of whole tables), one member at a time, from
    member `start` on, each with the index of the member after it."""
    zf = _zip_directory(path)
    skipped: list[tuple[str, int, str]] = []  # (product, source_id, member) not read
    epoch_ids: set[int] = set()
    with zf:
        for k, info in enumerate(zf.infolist()[start:], start=start + 1):
            name = Path(info.filename).name
            match = PER_SOURCE.match(name)
            if info.is_dir() or format_of(name) is None:
                continue
            if match and match["product"] != "EPOCH_PHOTOMETRY":
                # other DataLink products (XP spectra, RVS...) of the same request
                skipped.append((match["product"], int(match["sid"]), info.filename))
                continue
            sid = int(match["sid"]) if match else None
            epoch_ids.add(sid)
            where = f"{path}:{info.filename}"
            try:
                df = _read_member(zf, info, where, sid)
            except DataError as exc:
                if issues is None:
                    raise
                issues.append(EpochIssue(sid, where, str(exc)))
                continue
            if sid is not None and not len(df):
                if issues is None:
                    raise DataError(f"{where}: the file holds no rows")
                issues.append(EpochIssue(sid, where, "the file holds no rows"))
                continue
            yield df, where, k
    _tell_skipped(path, skipped, epoch_ids, issues)


def _tell_skipped(path: Path, skipped: list[tuple[str, int, str]], epoch_ids: set[int],
                  issues: list[EpochIssue] | None) -> None:
    """Say that members of other products were not read: a warning for the zip, and for each star
    without an epoch photometry file in it, which file it had instead (not silently no_epochs)."""
    if not skipped:
        return
    products = Counter(product for product, _, _ in skipped)
    log.warning("%s: %d member(s) of other DataLink products not read (%s): epoch photometry "
                "is read from EPOCH_PHOTOMETRY files only", path, len(skipped),
                ", ".join(f"{p} {n}" for p, n in sorted(products.items())))
    told: set[int] = set()
    for product, sid, member in skipped:
        if issues is None or sid in epoch_ids or sid in told:
            continue
        told.add(sid)
        issues.append(EpochIssue(
            sid, f"{path}:{member}", f"no EPOCH_PHOTOMETRY file for this source_id in {path}, "
            f"only {member} ({product}, another DataLink product, not read)", OTHER_PRODUCT))


def _zip_directory(path: Path) -> zipfile.ZipFile:
    """The zip opened (its directory read), or a DataError saying what the file is instead."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"PK"):  # not a zip at all: say what it is (an error page?)
        check_not_error_page(head, str(path))
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a readable zip (truncated download?): {exc}") from exc


def read_member_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str,
                      limit: int = MAX_MEMBER_BYTES) -> bytes:
    """The bytes of one zip member, decompressed at most `limit` bytes far (a zip bomb is refused
    without being inflated, whatever its header claims); a corrupt member is a DataError."""
    too_big = (f"{where}: decompresses to more than {limit // 2**20} MiB, more than an epoch file "
               "holds (a zip bomb?); not read")
    if info.file_size > limit:
        raise DataError(too_big)
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as exc:  # bad CRC, bad deflate stream, truncated, encrypted, unknown method
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{where}: corrupt zip member (truncated download?): "
                        f"{type(exc).__name__}: {msg}") from exc
    if len(data) > limit:
        raise DataError(too_big)
    return data


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, sid: int | None):
    data = read_member_bytes(zf, info, where)
    df = _conform(read_table_file(Path(info.filename), data=data, where=where), where)
    if sid is not None and len(df) and not (df["source_id"] == sid).all():
        others = sorted(set(df["source_id"].tolist()) - {sid})[:3]
        raise DataError(f"{where}: the file of source_id {sid} holds rows of {others}")
    return df


def _checked(frames: Iterable[tuple[pd.DataFrame, str, bool]]) -> Iterator[pd.DataFrame]:
    """The frames, once it is checked that each star's rows are together and in one place."""
    seen: dict[int, str] = {}
    last = None  # the star the next frame may go on with
    for frame, where, goes_on in frames:
        if not goes_on:
            last = None
        ids = frame["source_id"].to_numpy()
        if not len(ids):
            continue
        runs = ids[np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]]
        if runs[0] == last:
            runs = runs[1:]
        uniq, counts = np.unique(runs, return_counts=True)
        if (counts > 1).any():
            sid = int(uniq[counts > 1][0])
            raise DataError(
                f"{where}: the rows of source_id {sid} are not together; sort the file by source_id"
            )
        for sid in runs.tolist():
            if sid in seen:
                raise DataError(
                    f"{where}: source_id {sid} was already read from {seen[sid]}; "
                    "each star's epochs must be in one place (a file given twice?)"
                )
            seen[sid] = where
        last = ids[-1]
        yield frame


# The pipeline's own Parquet epoch table (data/raw, data/clean), streamed in whole stars by
# validate, clean and preprocess.

def iter_parquet_stars(
    path: str | Path, stars_per_batch: int, source_ids: np.ndarray | None = None,
    columns: Sequence[str] = COLUMNS,
) -> Iterator[pd.DataFrame]:
    """Batches of whole stars from an epoch_photometry Parquet file, read a slice at a time.

    Reads those of `columns` the file has. With `source_ids`, rows of other stars (e.g. the other
    RR Lyrae type) are skipped on read.
    Streams when each star's rows are contiguous (how the archive, the simulator and the clean
    stage write them); otherwise reads the needed columns once and sorts them by source_id.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"epoch_photometry: file {path} does not exist")
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering holds read row groups: memory grows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"epoch_photometry: {path} is not a readable Parquet file ({exc})") from exc
    names = set(pf.schema_arrow.names)
    if not {"source_id", "time", "mag"} <= names:
        raise DataError(f"{path}: needs columns source_id, time, mag; found {sorted(names)}")
    columns = [c for c in columns if c in names]
    if _is_grouped(pf):
        tables = (pa.Table.from_batches([b]) for b in pf.iter_batches(_READ_ROWS, columns=columns))
    else:
        tables = iter([pf.read(columns=columns).sort_by("source_id")])
    if source_ids is not None:
        wanted = pa.array(np.asarray(source_ids, dtype=np.int64))
        tables = (t.filter(pc.is_in(t["source_id"], value_set=wanted)) for t in tables)
    yield from whole_star_batches(map(_to_frame, tables), stars_per_batch)


def _is_grouped(pf: pq.ParquetFile) -> bool:
    """True when no source_id's rows are split into two runs (one pass over that column)."""
    run_ids, last = [], None
    for batch in pf.iter_batches(_READ_ROWS, columns=["source_id"]):
        ids = batch.column(0).to_numpy(zero_copy_only=False)
        if not len(ids):
            continue
        new_run = np.concatenate([[last is None or ids[0] != last], ids[1:] != ids[:-1]])
        run_ids.append(ids[new_run])
        last = ids[-1]
    if not run_ids:
        return True
    starts = np.concatenate(run_ids)
    return len(np.unique(starts)) == len(starts)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    if "band" in table.column_names:
        band = pc.utf8_trim_whitespace(table["band"].cast(pa.string()))
        table = table.set_column(table.column_names.index("band"), "band", band)
    return table.to_pandas()
