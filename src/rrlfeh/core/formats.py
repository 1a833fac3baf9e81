"""Read one table file of the Gaia archive, whatever its format, into a pandas DataFrame.

CSV and Parquet go through pandas/pyarrow (fast, chunked); ECSV, VOTable and FITS through
astropy.table (FITS chunked through a memory map). Every failure becomes a DataError that names
the file: an archive error page saved instead of data, a truncated download, a source_id column
stored as floating point (19-digit Gaia ids do not survive a double), the archive's RAW layout,
a VOTable whose header does not fit its data (core/votable_check.py).
Tables come back raw (the caller conforms them to its schema).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from xml.parsers.expat import ExpatError
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core.votable_check import check_votable
from rrlfeh.errors import DataError

# suffix -> format; ".gz" on top of csv/ecsv/xml/fits is read transparently.
SUFFIXES = {
    ".csv": "csv", ".ecsv": "ecsv", ".xml": "votable", ".vot": "votable", ".votable": "votable",
    ".fits": "fits", ".fit": "fits", ".fts": "fits", ".parquet": "parquet", ".pq": "parquet",
}
_HTML = re.compile(rb"<\s*(!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_TITLE = re.compile(rb"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def format_of(name: str) -> str | None:
    """The table format a file name announces (None when it is not a table file we read)."""
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return SUFFIXES.get(Path(lower).suffix)


def sniff_suffix(head: bytes) -> str:
    """The file suffix that the first bytes of an unnamed table suggest (CSV when unsure)."""
    text = head.lstrip()
    if text.startswith(b"SIMPLE  ="):
        return ".fits"
    if text.startswith(b"# %ECSV"):
        return ".ecsv"
    if text.startswith(b"<?xml") or text[:200].upper().find(b"<VOTABLE") >= 0:
        return ".xml"
    if text.startswith(b"PAR1"):
        return ".parquet"
    return ".csv"


def check_not_error_page(head: bytes, where: str) -> None:
    """Raise when the first bytes of a file are empty or an HTML page (an archive error page)."""
    if not head.strip():
        raise DataError(f"{where}: the file is empty")
    if _HTML.search(head[:2048]):
        title = _TITLE.search(head)
        what = f" ({title.group(1).decode('utf-8', 'replace').strip()[:80]})" if title else ""
        raise DataError(
            f"{where}: an HTML page{what}, not a data table — an archive error page saved as data?"
        )


def read_table_file(
    path: Path, data: bytes | None = None, where: str | None = None
) -> pd.DataFrame:
    """The whole table in `path` (or in `data`, the bytes of a file called `path`)."""
    chunks = list(iter_table_chunks(path, rows=None, data=data, where=where))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def iter_table_chunks(
    path: Path, rows: int | None, data: bytes | None = None, where: str | None = None
) -> Iterator[pd.DataFrame]:
    """The table in chunks of about `rows` rows (CSV, Parquet, FITS) or whole (ECSV, VOTable)."""
    path = Path(path)
    where = where or str(path)
    fmt = format_of(path.name)
    if fmt is None:
        raise DataError(f"{where}: unknown table format (expected one of {sorted(SUFFIXES)})")
    if data is None and not path.is_file():
        raise DataError(f"{where}: no such file")
    gz = path.name.lower().endswith(".gz")
    if data is None:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    else:
        head = data[:4096]
    if not gz:
        check_not_error_page(head, where)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for chunk in _READERS[fmt](path, rows, data, where):
                _raise_on_truncation(caught, where)
                yield _check_ids(chunk, where)
            _raise_on_truncation(caught, where)
    except DataError:
        raise
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, ExpatError) as exc:
        # pandas/astropy/pyarrow raise many types for corrupt input; name the file, keep one line
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{where}: cannot read as {fmt}, corrupt or truncated? ({type(exc).__name__}: {msg})"
        ) from exc


def _raise_on_truncation(caught: list, where: str) -> None:
    for w in caught:
        if "truncated" in str(w.message).lower():
            raise DataError(f"{where}: truncated file ({w.message})")


def _check_ids(df: pd.DataFrame, where: str) -> pd.DataFrame:
    df = df.rename(columns={c: c.lower() for c in df.columns if isinstance(c, str)})
    if "source_id" in df.columns and pd.api.types.is_float_dtype(df["source_id"].dtype):
        raise DataError(
            f"{where}: source_id is stored as floating point (or has empty cells); 19-digit Gaia "
            "ids do not survive a double — export it as a 64-bit integer"
        )
    return df


def _source(path: Path, data: bytes | None):
    return io.BytesIO(data) if data is not None else path


def _read_csv(path, rows, data, where) -> Iterator[pd.DataFrame]:
    if data is None and not path.name.lower().endswith(".gz"):
        _check_csv_tail(path, where)
    elif data is not None:
        _check_csv_tail_bytes(data, where)
    reader = pd.read_csv(_source(path, data), chunksize=rows or 1_000_000, comment="#",
                         compression="infer" if data is None else None)
    with reader:
        yield from reader


def _check_csv_tail(path: Path, where: str) -> None:
    with open(path, "rb") as fh:
        first = fh.readline()
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    _check_tail(first, tail, where)


def _check_csv_tail_bytes(data: bytes, where: str) -> None:
    _check_tail(data.split(b"\n", 1)[0], data[-65536:], where)


def _check_tail(first: bytes, tail: bytes, where: str) -> None:
    """A download cut mid-row leaves a last line without newline and with fewer fields."""
    if tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    if last.count(b",") < first.count(b","):
        raise DataError(f"{where}: truncated file (the last row is incomplete: {last[:60]!r})")


def _read_parquet(path, rows, data, where) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(_source(path, data), pre_buffer=False)  # pre-buffering keeps every row group read: unbounded memory
    for batch in pf.iter_batches(batch_size=rows or 1_000_000):
        yield batch.to_pandas()


def _read_ecsv(path, rows, data, where) -> Iterator[pd.DataFrame]:
    from astropy.table import Table

    src = data.decode("utf-8") if data is not None else str(path)  # astropy reads text as data
    yield astropy_to_frame(Table.read(src, format="ascii.ecsv"), where)


def _read_votable(path, rows, data, where) -> Iterator[pd.DataFrame]:
    from astropy.io import votable

    # astropy allocates from the header and stops silently at a short read: size it first
    counts = check_votable(_source(path, data), where)
    vot = votable.parse(_source(path, data), table_number=0)  # only the first table is read
    for resource in vot.resources:
        for info in resource.infos:
            if info.name == "QUERY_STATUS" and str(info.value).upper() == "ERROR":
                raise DataError(f"{where}: the archive answered with an error: {info.content}")
    tables = [t for t in vot.iter_tables() if not t.is_empty()]
    if not tables or not counts:
        raise DataError(f"{where}: the VOTable holds no table")
    if len(tables[0].array) != counts[0]:
        raise DataError(f"{where}: the VOTable's data holds {counts[0]} rows but "
                        f"{len(tables[0].array)} could be read; a corrupt file?")
    yield astropy_to_frame(tables[0].to_table(use_names_over_ids=True), where)


def _read_fits(path, rows, data, where) -> Iterator[pd.DataFrame]:
    from astropy.io import fits
    from astropy.table import Table

    with fits.open(_source(path, data), memmap=data is None) as hdul:
        hdus = [h for h in hdul[1:] if isinstance(h, (fits.BinTableHDU, fits.TableHDU))]
        if not hdus:
            raise DataError(f"{where}: the FITS file holds no table extension")
        table = hdus[0].data
        n = 0 if table is None else len(table)
        step = rows or max(n, 1)
        for start in range(0, max(n, 1), step):
            # copy the slice out of the memory map so the file can close
            part = Table(table[start : start + step]) if n else Table(hdus[0].columns.names)
            yield astropy_to_frame(part.copy(copy_data=True), where)


def astropy_to_frame(table, where: str) -> pd.DataFrame:
    """An astropy Table as a DataFrame (masked values -> missing, bytes -> str)."""
    # fixed-size arrays are 2-D columns; variable-length ones (arraysize="*") cells of arrays
    multi = [c for c in table.colnames if table[c].ndim > 1
             or (table[c].dtype == object and any(isinstance(v, np.ndarray) for v in table[c]))]
    if multi:
        raise DataError(
            f"{where}: columns {multi[:5]} hold arrays (the archive's RAW data structure); "
            "request DATA_STRUCTURE=INDIVIDUAL (one row per transit)"
        )
    table.convert_bytestring_to_unicode()
    return table.to_pandas()


_READERS = {
    "csv": _read_csv, "parquet": _read_parquet, "ecsv": _read_ecsv,
    "votable": _read_votable, "fits": _read_fits,
}
