"""VOTables whose header lies about their data: astropy sizes its arrays from the FIELDs and the
TABLE's nrows, so a lying arraysize asked for 191 GiB (a MemoryError traceback) and a wrong one
read a BINARY stream as 0 rows (every star `no_epochs`, the file never named). The header is now
checked against the bytes in the file first: one line naming the file (and the field), or that
star's reason in a per-source zip."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_epoch_batches
from rrlfeh.core.formats import read_table_file
from rrlfeh.errors import DataError
from rrlfeh.serving.catalogue import read_catalogue, rejects_path
from rrlfeh.serving.predict import run_predict
from tests.support.hostile import epoch_votable, set_field
from tests.support.model_fixture import simulate, tiny_params

BINARY = ["binary", "binary2"]


@pytest.fixture(scope="module")
def epochs():
    return simulate(2, seed=4)["epoch_photometry"]


def _refused(path: Path, *words: str) -> str:
    with pytest.raises(DataError) as err:
        read_table_file(path)
    line = str(err.value)
    assert "\n" not in line.strip() and str(path) in line, line
    for word in words:
        assert word in line, line
    return line


def _file(tmp_path: Path, xml: bytes) -> Path:
    path = tmp_path / "epoch_photometry.xml"
    path.write_bytes(xml)
    return path


@pytest.mark.parametrize("band_arraysize", [None, "*", "8*"])
@pytest.mark.parametrize("fmt", [*BINARY, "tabledata"])
def test_an_honest_votable_reads_whole(tmp_path, epochs, fmt, band_arraysize):
    df = read_table_file(_file(tmp_path, epoch_votable(epochs, fmt, band_arraysize)))
    assert len(df) == len(epochs)
    np.testing.assert_array_equal(df["time"], epochs["time"])
    assert df["band"].tolist() == epochs["band"].tolist()


@pytest.mark.parametrize("fmt", BINARY)
def test_a_lying_char_arraysize_is_one_line_not_a_memory_error(tmp_path, epochs, fmt):
    xml = set_field(epoch_votable(epochs, fmt), "band", arraysize="100000000")
    _refused(_file(tmp_path, xml), "band")


@pytest.mark.parametrize("fmt", BINARY)
def test_a_variable_arraysize_on_a_scalar_field_is_not_an_empty_table(tmp_path, epochs, fmt):
    xml = set_field(epoch_votable(epochs, fmt), "time", arraysize="*")
    _refused(_file(tmp_path, xml))


@pytest.mark.parametrize("fmt", BINARY)
def test_a_layout_that_does_not_divide_the_stream_is_refused(tmp_path, epochs, fmt):
    # double -> float: every row 4 bytes shorter, the stream read as more (garbage) rows
    xml = set_field(epoch_votable(epochs, fmt), "mag", datatype="float")
    _refused(_file(tmp_path, xml), "STREAM")  # the cause, not a decoding error of a later row


@pytest.mark.parametrize("fmt", [*BINARY, "tabledata"])
def test_a_lying_nrows_is_refused_before_allocating(tmp_path, epochs, fmt):
    xml = epoch_votable(epochs, fmt).replace(b"<TABLE>", b'<TABLE nrows="10000000000">', 1)
    _refused(_file(tmp_path, xml), "nrows")


def test_array_cells_are_one_line_naming_the_file(tmp_path, epochs):
    """Found by the fuzzer: source_id declared arraysize="*" in TABLEDATA reads as one array per
    cell, and the schema error printed their reprs over several lines."""
    xml = set_field(epoch_votable(epochs.head(3), "tabledata"), "source_id", arraysize="*")
    path = _file(tmp_path, xml)
    with pytest.raises(DataError) as err:
        list(iter_epoch_batches([path], 100))
    assert "\n" not in str(err.value).strip() and str(path) in str(err.value), str(err.value)
    assert "source_id" in str(err.value)


def test_a_lying_arraysize_in_tabledata_is_refused_before_allocating(tmp_path, epochs):
    xml = set_field(epoch_votable(epochs, "tabledata"), "band", arraysize="1000000000")
    _refused(_file(tmp_path, xml), "band")


@pytest.mark.parametrize("arraysize", ["9" * 400, "x".join(["999999999"] * 40), "1000000000x*"])
@pytest.mark.parametrize("fmt", ["binary", "tabledata"])
def test_an_absurd_arraysize_is_one_line(tmp_path, epochs, fmt, arraysize):
    """No arithmetic on it overflows, and the line quotes only its start."""
    xml = set_field(epoch_votable(epochs, fmt), "mag", arraysize=arraysize)
    line = _refused(_file(tmp_path, xml), "'mag'")
    assert len(line) < len(str(tmp_path)) + 300


def test_a_table_that_refers_to_anothers_fields_is_read(tmp_path, epochs):
    """TABLE ref="...": no FIELDs of its own, the referenced table's layout is its layout."""
    doc = epoch_votable(epochs, "binary").decode()
    head, _, rest = doc.partition("<TABLE>")
    table, _, tail = rest.partition("</TABLE>")
    data = table[table.index("<DATA>"):]
    xml = f'{head}<TABLE ID="t1">{table}</TABLE><TABLE ref="t1">{data}</TABLE>{tail}'
    assert len(read_table_file(_file(tmp_path, xml.encode()))) == len(epochs)


def test_data_outside_the_file_is_not_fetched(tmp_path, epochs):
    """A STREAM may point elsewhere (href=http://, file://): astropy would fetch it. Data that is
    not in the file is not read (nor can it be sized against the file)."""
    honest = epoch_votable(epochs, "binary")
    elsewhere = tmp_path / "elsewhere.bin"
    start = honest.index(b'<STREAM encoding="base64">') + len(b'<STREAM encoding="base64">')
    elsewhere.write_bytes(base64.b64decode(honest[start:honest.index(b"</STREAM>")]))
    xml = (honest[:start - len(b'<STREAM encoding="base64">')]
           + f'<STREAM href="{elsewhere.as_uri()}"></STREAM>'.encode()
           + honest[honest.index(b"</STREAM>") + len(b"</STREAM>"):])
    _refused(_file(tmp_path, xml), "href")


def test_a_lying_member_of_a_per_source_zip_is_that_stars_reason(tmp_path, epochs):
    ids = np.sort(epochs["source_id"].unique())
    path = tmp_path / "datalink.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid in ids:
            xml = epoch_votable(epochs[epochs["source_id"] == sid], "binary2")
            if sid == ids[1]:
                xml = set_field(xml, "band", arraysize="100000000")
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.xml", xml)
    issues = []
    rows = list(iter_epoch_batches([path], 100, issues))
    assert [i.source_id for i in issues] == [ids[1]]
    assert f"{path}:EPOCH_PHOTOMETRY-Gaia DR3 {ids[1]}.xml" in issues[0].reason
    assert "band" in issues[0].reason
    assert sorted(set().union(*(set(r["source_id"]) for r in rows))) == [*ids[:1], *ids[2:]]


def _datalink_votables(path: Path, epochs, liar: int, **lie: str) -> Path:
    """A DataLink zip of per-source BINARY2 VOTables; the header of `liar`'s file lies."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid, rows in epochs.groupby("source_id", sort=True):
            xml = epoch_votable(rows, "binary2")
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.xml",
                        set_field(xml, "band", **lie) if sid == liar else xml)
    return path


def test_predict_names_the_lying_file_and_reads_the_others(model_dir, tmp_path):
    data = simulate(4, seed=6)
    epochs, cfg = data["epoch_photometry"], tiny_params(n_jobs=1, chunk_stars=16).predict
    liar = int(np.sort(epochs["source_id"].unique())[2])
    root = tmp_path / "in"
    root.mkdir()
    data["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    _datalink_votables(root / "datalink.zip", epochs, liar, arraysize="100000000")
    out = tmp_path / "cat.parquet"
    counts = run_predict(cfg, str(model_dir), [root], out, "local", progress=False)
    rej = schema.read_table(rejects_path(out), "rejected").set_index("source_id")
    assert rej.loc[liar, "reason"] == "unreadable_epoch_file"
    assert f"EPOCH_PHOTOMETRY-Gaia DR3 {liar}.xml" in rej.loc[liar, "detail"]
    assert "'band'" in rej.loc[liar, "detail"]
    assert counts["reconciled"] and counts["stars_predicted"] == len(read_catalogue(out)[0]) > 0
    assert "no_epochs" not in counts["rejected_by_reason"]

    # one whole epoch file whose layout cannot be its data: one line naming it, not 0 stars read
    whole = tmp_path / "whole"
    whole.mkdir()
    data["vari_rrlyrae"].to_csv(whole / "vari_rrlyrae.csv", index=False)
    xml = set_field(epoch_votable(epochs, "binary"), "time", arraysize="*")
    (whole / "epoch_photometry.xml").write_bytes(xml)
    with pytest.raises(DataError, match=r"epoch_photometry\.xml: .*'time'"):
        run_predict(cfg, str(model_dir), [whole], tmp_path / "c2.parquet", "local", progress=False)
