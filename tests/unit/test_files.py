"""`extract.source: files` and the archive-file readers: every format, the archive's zips of
per-source files, streaming in whole stars, and each kind of bad input with its clear message."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.table import Table

from rrlfeh.config import ConfigError, load_params
from rrlfeh.config.data import FilesConfig
from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_epoch_batches, whole_star_batches
from rrlfeh.sources.extract import run_extract
from rrlfeh.sources.files import discover, read_archive_files, read_vari_table
from rrlfeh.errors import DataError

ROOT = Path(__file__).resolve().parents[2]

FORMATS = {
    "csv": ".csv", "ecsv": ".ecsv", "votable": ".xml", "fits": ".fits", "parquet": ".parquet",
}


def _stars(n: int = 5, n_epochs: int = 8, seed: int = 0):
    """vari_rrlyrae, epoch_photometry (G and RP rows, stars together) and labels of n stars."""
    rng = np.random.default_rng(seed)
    ids = 4111834567779557376 + np.arange(n, dtype=np.int64) * 7_000_000_001  # 19 digits
    vari = pd.DataFrame({
        "source_id": ids, "pf": rng.uniform(0.45, 0.7, n), "p1_o": np.nan,
        "epoch_g": rng.uniform(1700, 1800, n), "peak_to_peak_g": rng.uniform(0.3, 1.0, n),
        "num_clean_epochs_g": float(n_epochs), "best_classification": "RRab",
        "int_average_g": rng.uniform(14, 18, n),
    })
    m = n * n_epochs
    g = pd.DataFrame({
        "source_id": np.repeat(ids, n_epochs), "transit_id": np.arange(m, dtype=np.int64) + 10**16,
        "band": "G", "time": np.sort(rng.uniform(1670, 2700, m)), "mag": rng.uniform(15, 17, m),
        "flux": rng.uniform(1000, 5000, m), "rejected_by_variability": rng.random(m) < 0.2,
    })
    epochs = pd.concat([g, g.assign(band="RP", mag=g["mag"] - 0.4)])
    epochs = epochs.sort_values(["source_id", "transit_id", "band"]).reset_index(drop=True)
    labels = pd.DataFrame({"source_id": ids, "feh": rng.uniform(-2.5, 0, n), "feh_error": 0.3})
    return vari, epochs, labels


def _write(df: pd.DataFrame, path: Path) -> Path:
    fmt = next(f for f, ext in FORMATS.items() if path.name.endswith(ext))
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        text = {c: object for c in df.columns if df[c].dtype == "str"}
        table = Table.from_pandas(df.astype(text))
        table.write(path, format={"ecsv": "ascii.ecsv"}.get(fmt, fmt), overwrite=True)
    return path


def _read(cfg: FilesConfig):
    """read_archive_files, with the epoch batches it writes gathered into one table."""
    batches: list[pd.DataFrame] = []
    tables, report = read_archive_files(cfg, batches.append)
    epochs = pd.concat(batches, ignore_index=True) if batches else schema.empty("epoch_photometry")
    return {**tables, "epoch_photometry": epochs}, report


def _same(a: pd.DataFrame, b: pd.DataFrame, table: str) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), schema.conform(b, table),
                                  check_dtype=False)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_round_trips(tmp_path, fmt):
    vari, epochs, labels = _stars()
    ext = FORMATS[fmt]
    cfg = FilesConfig(
        vari_rrlyrae=str(_write(vari, tmp_path / f"vari_rrlyrae{ext}")),
        epoch_photometry=[str(_write(epochs, tmp_path / f"epoch_photometry{ext}"))],
        labels=str(_write(labels, tmp_path / f"labels{ext}")),
    )
    tables, report = _read(cfg)
    _same(tables["vari_rrlyrae"], vari, "vari_rrlyrae")
    _same(tables["epoch_photometry"], epochs, "epoch_photometry")
    _same(tables["labels"], labels, "labels")
    assert (report["ids_requested"], report["ids_written"], report["n_ids_missing"]) == (5, 5, 0)


def _archive_zip(path: Path, epochs: pd.DataFrame, ext: str, skip: int | None = None) -> Path:
    """The archive's DataLink zip: one EPOCH_PHOTOMETRY file per source (plus another product)."""
    with zipfile.ZipFile(path, "w") as zf:
        for k, (sid, rows) in enumerate(epochs.groupby("source_id", sort=True)):
            if k == skip:
                continue
            member = _write(rows, path.parent / f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}{ext}")
            zf.write(member, member.name)
            member.unlink()
        zf.writestr("XP_SAMPLED-Gaia DR3 1.csv", "source_id,flux\n1,2\n")  # ignored product
    return path


@pytest.mark.parametrize("ext", [".csv", ".xml", ".ecsv", ".fits"])
def test_archive_zip_found_in_a_folder_and_a_missing_file_is_reported(tmp_path, ext):
    vari, epochs, _ = _stars()
    _write(vari, tmp_path / "vari_rrlyrae.parquet")
    _archive_zip(tmp_path / "datalink_output.zip", epochs, ext, skip=3)
    (tmp_path / "README.txt").write_text("not data")
    found = discover([tmp_path])
    assert found.vari.name == "vari_rrlyrae.parquet" and found.labels is None
    assert [p.name for p in found.epochs] == ["datalink_output.zip"]
    cfg = FilesConfig(vari_rrlyrae=str(found.vari), epoch_photometry=[str(p) for p in found.epochs])
    tables, report = _read(cfg)
    sid = int(vari["source_id"][3])
    _same(tables["epoch_photometry"], epochs[epochs["source_id"] != sid], "epoch_photometry")
    assert report["ids_missing"] == {str(sid): "no_epochs: no epoch rows in the files"}
    assert (report["ids_requested"], report["ids_received"], report["ids_written"]) == (5, 4, 4)
    assert len(tables["labels"]) == 0 and report["labels"] is None  # stars flow on unlabelled


def test_batches_hold_whole_stars_and_stream_in_order(tmp_path):
    vari, epochs, _ = _stars(n=23, n_epochs=7)
    path = _write(epochs, tmp_path / "epoch_photometry.csv")
    batches = list(iter_epoch_batches([path], stars_per_batch=4, rows_per_chunk=10))
    assert [b["source_id"].nunique() for b in batches] == [4, 4, 4, 4, 4, 3]
    seen = [set(b["source_id"]) for b in batches]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])  # no star split
    _same(pd.concat(batches, ignore_index=True), epochs, "epoch_photometry")


def test_a_star_in_two_places_or_scattered_is_an_error(tmp_path):
    _, epochs, _ = _stars()
    a = _write(epochs, tmp_path / "epoch_photometry_a.parquet")
    b = _write(epochs.head(4), tmp_path / "epoch_photometry_b.csv")
    with pytest.raises(DataError, match=r"epoch_photometry_b\.csv: source_id \d+ was already read"):
        list(iter_epoch_batches([a, b], stars_per_batch=100))
    shuffled = _write(epochs.sample(frac=1, random_state=1), tmp_path / "epoch_photometry_c.csv")
    with pytest.raises(DataError, match=r"_c\.csv: the rows of source_id \d+ are not together"):
        list(iter_epoch_batches([shuffled], stars_per_batch=100))
    # a file that starts with the star the one before ended with: not one star run on
    d = _write(epochs.tail(4), tmp_path / "epoch_photometry_d.csv")
    with pytest.raises(DataError, match=r"_d\.csv: source_id \d+ was already read from .*_a\.parquet"):
        list(iter_epoch_batches([a, d], stars_per_batch=100))
    # within one file read in row chunks, a star that comes back after another one
    back = _write(pd.concat([epochs, epochs.head(3)]), tmp_path / "epoch_photometry_e.csv")
    with pytest.raises(DataError, match=r"_e\.csv: source_id \d+ was already read"):
        list(iter_epoch_batches([back], stars_per_batch=100, rows_per_chunk=10))


@pytest.mark.parametrize("sizes", [[1] * 12, [5, 7], [12], [3, 0, 9]])
@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_whole_star_batches_recut_frames_whatever_their_boundaries(sizes, n):
    ids = np.repeat([7, 3, 9, 1, 8], [3, 2, 4, 1, 2])  # contiguous, not sorted
    df = pd.DataFrame({"source_id": ids, "row": np.arange(len(ids))})
    ends = np.cumsum(sizes)
    frames = [df.iloc[e - k : e] for k, e in zip(sizes, ends)]  # stars run on across frames
    batches = list(whole_star_batches(frames, n))
    assert [b["source_id"].nunique() for b in batches] == [n] * (5 // n) + [5 % n] * (5 % n > 0)
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), df)
    assert all(b.index.tolist() == list(range(len(b))) for b in batches)
    with pytest.raises(ValueError, match="stars_per_batch"):
        list(whole_star_batches(frames, 0))


def test_error_page_instead_of_data_names_the_file(tmp_path):
    page = tmp_path / "vari_rrlyrae.csv"
    page.write_text("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>")
    with pytest.raises(DataError, match=r"vari_rrlyrae\.csv: an HTML page \(502 Bad Gateway\)"):
        read_vari_table(page)


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".fits", ".xml", ".zip"])
def test_truncated_file_names_the_file(tmp_path, ext):
    _, epochs, _ = _stars(n=40)
    if ext == ".zip":
        full = _archive_zip(tmp_path / "full.zip", epochs, ".csv")
    else:
        full = _write(epochs, tmp_path / f"full{ext}")
    data = full.read_bytes()
    cut = tmp_path / f"epoch_photometry_cut{ext}"
    cut.write_bytes(data[: int(len(data) * 0.6) + 3])
    with pytest.raises(DataError, match=rf"epoch_photometry_cut\{ext}.*(truncated|cannot read)"):
        list(iter_epoch_batches([cut], stars_per_batch=1000))


def test_votable_with_unexpected_column_type(tmp_path):
    _, epochs, _ = _stars()
    bad = epochs.astype({"mag": str})
    bad.loc[3, "mag"] = "saturated"
    path = _write(bad, tmp_path / "epoch_photometry.xml")
    with pytest.raises(DataError, match=r"epoch_photometry\.xml: epoch_photometry\.mag: 1 value"):
        list(iter_epoch_batches([path], stars_per_batch=10))
    as_double = _write(epochs.astype({"source_id": "float64"}), tmp_path / "epoch_photometry2.xml")
    with pytest.raises(DataError, match=r"epoch_photometry2\.xml: source_id is stored as floating"):
        list(iter_epoch_batches([as_double], stars_per_batch=10))


def test_unreadable_per_source_file_becomes_that_stars_reason(tmp_path):
    vari, epochs, _ = _stars()
    sid = int(vari["source_id"][1])
    path = _archive_zip(tmp_path / "epochs.zip", epochs, ".csv", skip=1)
    with zipfile.ZipFile(path, "a") as zf:  # the star's file is an error page
        zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.csv", "<html><body>oops</body></html>")
    cfg = FilesConfig(vari_rrlyrae=str(_write(vari, tmp_path / "vari_rrlyrae.csv")),
                      epoch_photometry=[str(path)])
    tables, report = _read(cfg)
    assert tables["epoch_photometry"]["source_id"].nunique() == 4
    assert list(report["ids_missing"]) == [str(sid)]
    assert report["ids_missing"][str(sid)].startswith("unreadable_epoch_file: ")
    assert f"Gaia DR3 {sid}.csv: an HTML page" in report["ids_missing"][str(sid)]
    assert (report["ids_received"], report["ids_written"]) == (5, 4)
    with pytest.raises(DataError, match=f"Gaia DR3 {sid}.csv: an HTML page"):
        list(iter_epoch_batches([path], 100))  # without an issues list: strict
    with zipfile.ZipFile(path, "w") as zf:  # not one readable file: an error, not 5 reasons
        for s in vari["source_id"]:
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {s}.csv", "<html><body>oops</body></html>")
    with pytest.raises(DataError, match="no epoch file could be read, e.g. .*an HTML page"):
        _read(cfg)


def test_labels_with_missing_stars_duplicates_and_renamed_columns(tmp_path):
    vari, epochs, labels = _stars()
    ids = vari["source_id"].tolist()
    cat = pd.concat([labels.iloc[:3], labels.iloc[[0]], labels.iloc[[1]].assign(feh=0.1),
                     pd.DataFrame({"source_id": [99], "feh": [-1.0], "feh_error": [0.2]}),
                     labels.iloc[[2]].assign(feh=np.nan)])
    cat = cat.rename(columns={"source_id": "SOURCE_ID", "feh": "FeH", "feh_error": "e_FeH"})
    cfg = FilesConfig(
        vari_rrlyrae=str(_write(vari, tmp_path / "vari_rrlyrae.csv")),
        epoch_photometry=[str(_write(epochs, tmp_path / "epoch_photometry.csv"))],
        labels=str(_write(cat, tmp_path / "labels.ecsv")),
        labels_columns={"feh": "FeH", "feh_error": "e_FeH"},
    )
    tables, report = _read(cfg)
    assert tables["labels"]["source_id"].tolist() == [ids[0], ids[2]]
    lab = report["labels"]
    assert lab["conflicting_labels"].keys() == {str(ids[1])}
    assert (lab["rows_repeated"], lab["rows_not_in_catalogue"]) == (1, 1)
    assert lab["rows_without_feh"] == 1
    assert (lab["stars_labelled"], lab["stars_unlabelled"]) == (2, 3)
    unmapped = FilesConfig(**{**cfg.__dict__, "labels_columns": {}})
    # names match case-insensitively (FeH is feh); e_FeH needs the mapping
    with pytest.raises(DataError, match=r"labels\.ecsv: labels need columns.*\['feh_error'\] among"):
        _read(unmapped)


def test_catalogue_problems_and_config(tmp_path):
    vari, epochs, _ = _stars()
    clash = pd.concat([vari, vari.iloc[[2]].assign(pf=0.9)])
    with pytest.raises(DataError, match=r"vari_rrlyrae\.csv: 1 source_id\(s\) appear in rows that"):
        read_vari_table(_write(clash, tmp_path / "vari_rrlyrae.csv"))
    no_period = _write(vari.drop(columns="pf"), tmp_path / "vari_rrlyrae.parquet")
    with pytest.raises(DataError, match=r"vari_rrlyrae\.parquet: vari_rrlyrae: missing .*\['pf'\]"):
        read_vari_table(no_period)
    with pytest.raises(ConfigError, match="vari_rrlyrae and epoch_photometry are required"):
        _read(FilesConfig())
    with pytest.raises(DataError, match="expected one vari_rrlyrae"):
        discover([_write(epochs, tmp_path / "epoch_photometry.csv")])


def _files_params(tmp_path: Path, **files) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["extract"]["source"] = "files"
    data["extract"]["files"].update(files)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_extract_writes_the_epoch_files_batch_by_batch(tmp_path, monkeypatch):
    vari, epochs, labels = _stars(n=7)
    params = _files_params(
        tmp_path, vari_rrlyrae=str(_write(vari, tmp_path / "vari_rrlyrae.csv")),
        epoch_photometry=[str(_write(epochs, tmp_path / "epoch_photometry.csv"))],
        labels=str(_write(labels, tmp_path / "labels.csv")), stars_per_batch=2)
    parts: list[int] = []
    write = schema.TableWriter.write

    def spy(writer, df):
        if writer.table == "epoch_photometry":
            parts.append(df["source_id"].nunique())
        write(writer, df)

    monkeypatch.setattr(schema.TableWriter, "write", spy)
    report = run_extract(load_params(params), tmp_path / "raw", tmp_path / "extract.json")
    assert parts == [2, 2, 2, 1]  # the epoch table, one batch at a time
    _same(schema.read_table(tmp_path / "raw" / "epoch_photometry.parquet", "epoch_photometry"),
          epochs, "epoch_photometry")
    assert report["rows_epoch_photometry"] == len(epochs) and report["ids_written"] == 7


def test_failed_extract_leaves_no_epoch_table(tmp_path):
    vari, _, _ = _stars()
    path = tmp_path / "epochs.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for s in vari["source_id"]:
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {s}.csv", "<html><body>oops</body></html>")
    params = _files_params(tmp_path, vari_rrlyrae=str(_write(vari, tmp_path / "vari_rrlyrae.csv")),
                           epoch_photometry=[str(path)])
    with pytest.raises(DataError, match="no epoch file could be read"):
        run_extract(load_params(params), tmp_path / "raw", tmp_path / "extract.json")
    assert list((tmp_path / "raw").iterdir()) == []
