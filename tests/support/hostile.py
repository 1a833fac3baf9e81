"""Hostile inputs and the checks of the fault tier (tests/faults): archive zips and VOTables
built the way the Gaia archive writes them (then broken one way at a time), the one-line error
check, and what decides each star's answer before the GRU in `predict` and in the served model."""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import schema
from rrlfeh.core.reasons import of_stage
from rrlfeh.serving import payload, sanity, star_rows


def per_source_zip(path: Path, epochs: pd.DataFrame, ext: str = ".csv") -> Path:
    """The archive's DataLink zip: one `EPOCH_PHOTOMETRY-Gaia DR3 <id>` file per source."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid, rows in epochs.groupby("source_id", sort=True):
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}{ext}", rows.to_csv(index=False))
    return path


def predict_cfg():
    """predict's config for the tiny model: one process, small chunks."""
    from tests.support.model_fixture import tiny_params

    return tiny_params(n_jobs=1, chunk_stars=16).predict


def write_vari(root: Path, vari: pd.DataFrame) -> None:
    schema.conform(vari, "vari_rrlyrae").to_csv(root / "vari_rrlyrae.csv", index=False)


def unprivileged() -> list[str]:
    """A command prefix under which file permissions bind: none for a user, no capabilities for root."""
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"] if os.geteuid() == 0 else []


def one_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed with exactly one error line holding `words`, and no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rrlfeh: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


VOTABLE_COLUMNS = ["source_id", "transit_id", "band", "time", "mag", "rejected_by_variability"]


def epoch_votable(epochs: pd.DataFrame, serialization: str = "binary",
                  band_arraysize: str | None = None) -> bytes:
    """Epoch rows as astropy writes a VOTable (binary, binary2 or tabledata); band as `char`, the
    archive's datatype, of fixed length unless `band_arraysize` says otherwise ("*": each value
    with its length)."""
    from astropy.io.votable import from_table
    from astropy.table import Table

    table = Table.from_pandas(epochs[VOTABLE_COLUMNS].reset_index(drop=True))
    table["band"] = np.char.encode(np.asarray(epochs["band"], dtype=str), "ascii")
    vot = from_table(table)
    if band_arraysize is not None:
        vot.get_first_table().get_field_by_id("band").arraysize = band_arraysize
    buf = io.BytesIO()
    vot.to_xml(buf, tabledata_format=serialization)
    return buf.getvalue()


def set_field(xml: bytes, name: str, **attrs: str) -> bytes:
    """`xml` with the FIELD called `name` given these attribute values (the header lies; the data
    is left as it was written)."""
    def edit(m: re.Match) -> bytes:
        tag = m.group(0)
        for key, value in attrs.items():
            new = f'{key}="{value}"'.encode()
            tag, n = re.subn(rb"\b" + key.encode() + rb'="[^"]*"', new, tag)
            if not n:
                tag = tag.replace(b"<FIELD ", b"<FIELD " + new + b" ", 1)
        return tag

    out, n = re.subn(rb'<FIELD [^>]*\bname="' + name.encode() + rb'"[^>]*>', edit, xml)
    assert n == 1, f"no FIELD {name} in the VOTable"
    return out


def _request_outcome(req: payload.Request, rows_only: bool = False) -> dict:
    """Per star of a model request: its reason so far (or 'model'), type key, period (as text, so
    that NaN equals NaN) and number of epochs; the same request gives the same preprocessing."""
    return {int(sid): (req.reason[i] or "model", req.type_key[i] or "unknown_type",
                       f"{req.period[i]:.9g}", int(req.n_epochs[i]))
            for i, sid in enumerate(req.source_id) if not rows_only or req.n_epochs[i]}


def predict_outcome(vari: pd.DataFrame, epochs: pd.DataFrame) -> dict:
    """Per star, what decides its answer in `rrlfeh predict` before the GRU: its reject reason
    (star_rows), else the request the model is sent."""
    stars = star_rows.star_table(schema.conform(vari, "vari_rrlyrae"))
    rows, rejects, _ = star_rows.chunk_rows(schema.conform(epochs, "epoch_photometry"), stars,
                                            sanity.Bounds())
    out = {int(s): ("rejected", r) for s, r in zip(rejects["source_id"], rejects["reason"])}
    req = payload.parse_request(rows)
    assert set(rejects["reason"]) | set(req.reason) - {""} <= set(of_stage("predict"))  # registered
    return out | _request_outcome(req)


def served_outcome(vari: pd.DataFrame, epochs: pd.DataFrame) -> dict:
    """The same for the served model, sent the stars with epochs as payload builds them."""
    req = payload.parse_request(payload.model_input_from_tables(vari, epochs))
    return _request_outcome(req, rows_only=True)


def corrupt_one_member(path: Path) -> int:
    """Flip bytes inside the deflate stream of the second member; its source_id."""
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[1]
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + min(info.compress_size, 60)):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    return int(info.filename.split()[-1].split(".")[0])
