"""Check a VOTable's header against its data before astropy.io.votable reads it.

astropy sizes its arrays from the header: a FIELD's arraysize (its converters and the first 512
rows are allocated from it), the TABLE's nrows. A header that lies asked for 191 GiB (a
MemoryError), and a BINARY stream read with a wrong layout ended early without a word (astropy
stops at the first short read), so a whole file read as 0 rows. Here each TABLE's FIELDs are read
with astropy's XML iterator, the size each row takes is worked out from the datatypes and
arraysizes (VOTable 1.4, section 5), and it is checked against the bytes actually in the file:
  BINARY/BINARY2  the decoded STREAM must be consumed by whole rows exactly (the row count follows)
  TABLEDATA       the row count is the number of TR elements
  every table     what astropy would allocate for those rows (or for nrows) must be in proportion
                  to the file
A STREAM that points outside the file (href) is refused: it cannot be sized, and astropy would
fetch it (http://, file://).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

from rrlfeh.errors import DataError

# bits one element of each datatype takes in a BINARY stream (a `bit` array is packed), and the
# bytes astropy holds it in (char and unicodeChar become numpy 'U': 4 bytes a character)
_BITS = {"boolean": 8, "bit": 1, "unsignedByte": 8, "short": 16, "int": 32, "long": 64,
         "char": 8, "unicodeChar": 16, "float": 32, "double": 64, "floatComplex": 64,
         "doubleComplex": 128}
_MEMORY = {"boolean": 1, "bit": 1, "unsignedByte": 1, "short": 2, "int": 4, "long": 8, "char": 4,
           "unicodeChar": 4, "float": 4, "double": 8, "floatComplex": 8, "doubleComplex": 16}
_POINTER = 8  # a variable-length value is an object in astropy's array
_DIGITS = 18  # an arraysize or nrows longer than this is no size a file can have
FIRST_ROWS = 512  # astropy allocates this many rows as soon as a table has one
MIN_BUDGET = 64 * 2**20  # what any table may take, however small its file
BUDGET_PER_BYTE = 16  # beyond that, bytes of table per byte of file (chars take 4; bits 8)


@dataclass(frozen=True)
class _Field:
    """One FIELD: the items of the fixed part of its arraysize, and whether a count precedes
    them (arraysize ending in '*': a variable-length value)."""

    name: str
    datatype: str
    arraysize: str
    items: int
    variable: bool

    def stream_bytes(self, count: int = 1) -> int:
        return math.ceil(self.items * count * _BITS[self.datatype] / 8)

    def memory_bytes(self) -> int:
        # astropy allocates the fixed part of a variable-length field too (its default value)
        return self.items * _MEMORY[self.datatype] + (_POINTER if self.variable else 0)

    def describe(self) -> str:
        size = f", arraysize {self.arraysize[:40]}" if self.arraysize else ""
        return f"FIELD {self.name!r} ({self.datatype}{size})"


def _count(text: str) -> bool:
    return text.isdigit() and len(text) <= _DIGITS


def _field(attrs: dict, where: str) -> _Field:
    name = attrs.get("name") or attrs.get("ID") or "?"
    datatype, arraysize = attrs.get("datatype", ""), (attrs.get("arraysize") or "").strip()
    if datatype not in _BITS:
        raise DataError(f"{where}: FIELD {name!r} has datatype {datatype!r}, not a VOTable "
                        f"datatype ({', '.join(_BITS)})")
    dims = arraysize.split("x") if arraysize else []
    variable = bool(dims) and dims[-1].endswith("*")
    fixed = dims[:-1] if variable else dims
    bound = dims[-1][:-1] if variable else ""  # a number before the '*' is only an upper bound
    items = math.prod(int(d) for d in fixed) if all(_count(d) for d in fixed) else -1
    if not 0 <= items < 10**_DIGITS or (bound and not _count(bound)):
        raise DataError(f"{where}: FIELD {name!r} has arraysize {arraysize[:40]!r}, not a "
                        "VOTable arraysize a file can hold (e.g. 8, 3x2, *, 10*)")
    return _Field(name, datatype, arraysize, items, variable)


@dataclass
class _Table:
    """What the header of one TABLE declares and what its data holds."""

    id: str | None = None
    fields: list[_Field] = field(default_factory=list)
    nrows: int = 0
    serialization: str = ""  # TABLEDATA, BINARY, BINARY2 or FITS
    stream: bytes | None = None  # the decoded STREAM of BINARY/BINARY2
    tr: int = 0  # TR elements (TABLEDATA rows)


class _Counted:
    """A binary file object's read, counting the bytes read (the uncompressed size)."""

    def __init__(self, fh):
        self.fh, self.n = fh, 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.n += len(data)
        return data


def _tables(source, where: str) -> tuple[list[_Table], int]:
    """Every TABLE of the document, in order, and the document's size in bytes."""
    from astropy.utils.data import get_readable_fileobj
    from astropy.utils.xml.iterparser import get_xml_iterator

    tables: list[_Table] = []
    with get_readable_fileobj(source, encoding="binary") as fh:
        counted = _Counted(fh)
        with get_xml_iterator(counted.read) as events:
            for start, tag, data, _ in events:
                if tag == "TABLE" and start:
                    # a TABLE with `ref` has no FIELDs of its own: the referenced table's
                    ref = [t for t in tables if t.id is not None and t.id == data.get("ref")]
                    tables.append(_Table(data.get("ID"), list(ref[0].fields) if ref else [],
                                         _nrows(data.get("nrows"), where)))
                elif tables:
                    _table_event(tables[-1], start, tag, data, where)
    return tables, counted.n


def _nrows(value: str | None, where: str) -> int:
    if value is None:
        return 0
    if not _count(value.strip()):
        raise DataError(f"{where}: TABLE nrows={value[:40]!r} is not a row count a file can "
                        "hold")
    return int(value)


def _table_event(table: _Table, start: bool, tag: str, data, where: str) -> None:
    """Note what one XML event of a TABLE says about its layout or its data."""
    if start and tag == "FIELD":
        table.fields.append(_field(data, where))
    elif start and tag in ("TABLEDATA", "BINARY", "BINARY2", "FITS"):
        table.serialization = tag
    elif start and tag == "TR":
        table.tr += 1
    elif start and tag == "STREAM" and "href" in data:
        raise DataError(f"{where}: the table's data is not in the file (STREAM "
                        f"href={data['href'][:80]!r}); only data inside the file is read")
    elif not start and tag == "STREAM" and table.serialization in ("BINARY", "BINARY2"):
        # astropy decodes the same way (non-alphabet characters such as newlines are skipped)
        table.stream = base64.b64decode(data.encode("ascii"))


def _binary_rows(table: _Table, where: str) -> int:
    """The rows a BINARY/BINARY2 stream holds: the FIELDs must consume it exactly."""
    stream = table.stream or b""
    # BINARY2 starts each row with a null flag per field, packed in bits
    row = (len(table.fields) + 7) // 8 if table.serialization == "BINARY2" else 0
    for f in table.fields:
        if not f.variable:
            if f.stream_bytes() > len(stream):
                raise DataError(
                    f"{where}: {f.describe()} takes {f.stream_bytes()} bytes a row, more than "
                    f"the {len(stream)} bytes of the whole STREAM; a wrong arraysize or datatype?")
            row += f.stream_bytes()
    if any(f.variable for f in table.fields):
        return _walk_rows(table, stream, where)
    if row == 0:
        raise DataError(f"{where}: the FIELDs take no bytes a row (arraysize 0?); "
                        "the STREAM cannot be read")
    if len(stream) % row:
        raise DataError(
            f"{where}: the FIELDs take {row} bytes a row, which does not divide the "
            f"{len(stream)} bytes of the STREAM; a FIELD's datatype or arraysize is wrong")
    return len(stream) // row


def _walk_rows(table: _Table, stream: bytes, where: str) -> int:
    """Rows of a stream with variable-length fields, found by following each value's count."""
    head = (len(table.fields) + 7) // 8 if table.serialization == "BINARY2" else 0
    rows, pos, end = 0, 0, len(stream)
    while pos < end:
        pos += head
        for f in table.fields:
            if f.variable:
                count = int.from_bytes(stream[pos:pos + 4], "big") if pos + 4 <= end else None
                pos += 4 + (f.stream_bytes(count) if count is not None else 0)
            else:
                pos += f.stream_bytes()
            if pos > end:
                raise DataError(
                    f"{where}: row {rows + 1} runs past the end of the {end}-byte STREAM at "
                    f"{f.describe()}; a FIELD's datatype or arraysize is wrong, or a cut file")
        rows += 1
    return rows


def _check_memory(table: _Table, rows: int, file_bytes: int, where: str) -> None:
    """What astropy would allocate for the table must be in proportion to the file."""
    budget = max(MIN_BUDGET, BUDGET_PER_BYTE * file_bytes)
    allocated = max(rows, table.nrows, FIRST_ROWS)
    row = sum(f.memory_bytes() for f in table.fields)
    if row * allocated <= budget:
        return
    if table.nrows > rows and row * table.nrows > budget:
        raise DataError(f"{where}: TABLE nrows={table.nrows} but its data holds {rows} rows; "
                        "a header that lies (not read)")
    worst = max(table.fields, key=lambda f: f.memory_bytes())
    gib = worst.memory_bytes() * allocated / 2**30  # a float: items < 10**18, rows < 10**18
    raise DataError(
        f"{where}: {worst.describe()} would take {gib:.3g} GiB for {allocated} rows, far more "
        f"than a {file_bytes}-byte file holds; a wrong arraysize?")


def check_votable(source, where: str) -> list[int]:
    """The row count of each TABLE of a VOTable (a path or a binary file object), once its
    header is found to agree with its data; otherwise a DataError naming `where`."""
    tables, file_bytes = _tables(source, where)
    counts = []
    for table in tables:
        if table.serialization in ("BINARY", "BINARY2"):
            rows = _binary_rows(table, where)
        else:
            rows = table.tr
        _check_memory(table, rows, file_bytes, where)
        counts.append(rows)
    return counts
