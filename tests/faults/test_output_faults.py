"""`rrlfeh predict`'s outputs as users break them (issue 24, items 7 and 8): a full disk or a kill
mid-write leaves the previous catalogue and rejects byte for byte; an output that is, or would be
read as, an input is refused before any work."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rrlfeh.errors import DataError
from rrlfeh.serving import catalogue as catalogue_io
from rrlfeh.serving.catalogue import rejects_path
from rrlfeh.serving.predict import run_predict
from rrlfeh.sources.files import discover
from tests.support.hostile import predict_cfg


@pytest.fixture(scope="module")
def inputs(catalogue):
    return catalogue[0]


def _pair(output: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (output, rejects_path(output))}


def _full_disk(real):
    """A writer that puts part of the file down, then finds the disk full (ENOSPC)."""
    def write(*args):
        path = next(a for a in args if isinstance(a, Path))
        real(*args)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return write


@pytest.mark.parametrize("suffix,writer", [(".parquet", "_write_parquet"), (".fits", "_write_fits")])
def test_a_full_disk_keeps_the_previous_catalogue_and_rejects(model_dir, inputs, tmp_path, suffix,
                                                              writer, monkeypatch):
    out = tmp_path / f"cat{suffix}"
    run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    before = _pair(out)
    monkeypatch.setattr(catalogue_io, writer, _full_disk(getattr(catalogue_io, writer)))
    with pytest.raises(DataError, match="No space left on device.*kept"):
        run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    assert _pair(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)  # no partial file left


def test_a_full_disk_on_the_rejects_keeps_both(model_dir, inputs, tmp_path, monkeypatch):
    from rrlfeh.core import schema

    out = tmp_path / "cat.ecsv"
    run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    before = _pair(out)

    def full(self, df):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
    monkeypatch.setattr(schema.TableWriter, "_append", full)
    with pytest.raises(DataError, match="No space left on device"):
        run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    assert _pair(out) == before


KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from rrlfeh.serving import catalogue
from rrlfeh.serving.predict import run_predict
from tests.support.model_fixture import tiny_params

def write_then_die(table, path, meta):
    Path(path).write_bytes(b"SIMPLE  =                    T" + b" " * 4000)  # the start of a FITS file
    os.kill(os.getpid(), signal.SIGKILL)

catalogue._write_fits = write_then_die
run_predict(tiny_params(n_jobs=1, chunk_stars=16).predict, {model!r}, [Path({inputs!r})],
            Path({out!r}), "local", progress=False)
"""


@pytest.mark.integration
def test_a_kill_mid_write_keeps_the_previous_catalogue_and_rejects(model_dir, inputs, tmp_path):
    out = tmp_path / "cat.fits"
    run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    before = _pair(out)
    script = KILLED_MID_WRITE.format(model=str(model_dir), inputs=str(inputs), out=str(out))
    root = str(Path(__file__).resolve().parents[2])  # where `tests.support` imports from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert _pair(out) == before
    # the next run replaces the killed run's hidden leftover and writes a good pair
    run_predict(predict_cfg(), str(model_dir), [inputs], out, "local", progress=False)
    assert _pair(out) == {**before, out.name: _pair(out)[out.name]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


@pytest.mark.parametrize("name", ["epoch_photometry.parquet", "vari_rrlyrae.fits", "labels.ecsv",
                                  "EPOCH_PHOTOMETRY_dr3.parquet"])
def test_an_output_an_input_folder_would_read_is_refused(model_dir, inputs, tmp_path, name):
    folder = tmp_path / "in"
    shutil.copytree(inputs, folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(DataError, match="input folder"):
        run_predict(predict_cfg(), str(model_dir), [folder], folder / name, "local", progress=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_an_output_over_an_input_file_is_refused(model_dir, inputs, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(inputs, folder)
    epochs = folder / "epoch_photometry.parquet"
    (folder / "datalink.zip").rename(tmp_path / "datalink.zip")
    from rrlfeh.core.epoch_stream import read_epoch_zip

    read_epoch_zip(tmp_path / "datalink.zip").to_parquet(epochs)
    link = tmp_path / "link.parquet"
    link.symlink_to(epochs)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    for out in (epochs, link):  # named directly, or through a symbolic link
        with pytest.raises(DataError, match="is the input file"):
            run_predict(predict_cfg(), str(model_dir), [folder / "vari_rrlyrae.csv", epochs], out, "local",
                        progress=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


# --- the property: any output path drawn from the input's own names -------------------------------

INPUT_NAMES = ("vari_rrlyrae.csv", "epoch_photometry.parquet", "datalink.zip", "labels.csv",
               "notes.txt", "catalogue.fits")


@st.composite
def output_paths(draw):
    """An output path built from the input folder's own names: the same name, other case, another
    suffix, a `_rejected` or `./` or `sub/..` spelling, a link to an input file."""
    base = draw(st.sampled_from(INPUT_NAMES))
    stem, suffix = base.split(".", 1)
    stem = draw(st.sampled_from([stem, stem.upper(), stem.capitalize(), stem + "_rejected",
                                 stem + "_v2", "x" + stem]))
    suffix = draw(st.sampled_from([suffix, "parquet", "fits", "ecsv"]))
    where = draw(st.sampled_from(["in", "in/.", "in/sub/..", "out", "link"]))
    return where, f"{stem}.{suffix}", base


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=output_paths())
def test_property_no_output_path_changes_what_the_input_reads(tmp_path_factory, drawn):
    """Whenever the check lets an output through, writing it and its rejects file (as predict
    does: replacing the path) leaves every input file's bytes and what `discover` reads unchanged."""
    from rrlfeh.sources.files import check_outputs_apart

    root = tmp_path_factory.mktemp("prop")
    folder = root / "in"
    (folder / "sub").mkdir(parents=True)
    (root / "out").mkdir()
    for i, name in enumerate(INPUT_NAMES):
        (folder / name).write_bytes(f"{i}".encode())
    where, name, base = drawn
    if where == "link":  # a link outside the folder, to the input file the name came from
        (root / "link").mkdir()
        (root / "link" / name).symlink_to(folder / base)
    out = root / where / name
    inputs = [folder]
    before = discover(inputs)
    read = [before.vari, *before.epochs, *([before.labels] if before.labels else [])]
    before_files = {p: p.read_bytes() for p in read}
    try:
        check_outputs_apart([out, rejects_path(out)], inputs, before)
    except DataError:
        return
    for path in (out, rejects_path(out)):
        tmp = path.with_name(".w")
        tmp.write_bytes(b"catalogue")
        os.replace(tmp, path)
    assert discover(inputs) == before
    assert {p: p.read_bytes() for p in before_files} == before_files
