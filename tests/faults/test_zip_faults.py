"""Corrupt members and zip bombs in the archive's per-source zips: one star's reason, bounded memory."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import per_source_zip
from model_fixture import simulate

from rrlfeh.core.epoch_stream import MAX_MEMBER_BYTES, iter_epoch_batches
from rrlfeh.errors import DataError


def _corrupt_one_member(path: Path) -> int:
    """Flip bytes inside the deflate stream of the second member; its source_id."""
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[1]
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + min(info.compress_size, 60)):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    return int(info.filename.split()[-1].split(".")[0])


def test_a_corrupt_member_is_one_stars_reason(tmp_path):
    epochs = simulate(4, seed=1)["epoch_photometry"]
    path = _corrupt_one_member(per_source_zip(tmp_path / "e.zip", epochs)) and tmp_path / "e.zip"
    issues = []
    rows = list(iter_epoch_batches([path], 100, issues))
    assert len(issues) == 1 and "corrupt zip member" in issues[0].reason
    assert sum(r["source_id"].nunique() for r in rows) == epochs["source_id"].nunique() - 1
    with pytest.raises(DataError, match="corrupt zip member"):  # without an issues list: one line
        list(iter_epoch_batches([path], 100))


def bomb_zip(path: Path, epochs, size: int) -> tuple[Path, int]:
    """A per-source zip with one more member that decompresses to `size` bytes (a zip bomb)."""
    per_source_zip(path, epochs)
    sid = 999_000_000_000_000_001
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.csv", "w", force_zip64=True) as fh:
            fh.write(b"source_id,transit_id,band,time,mag,rejected_by_variability\n")
            block = b" " * 2**20
            for _ in range(size // len(block)):
                fh.write(block)
    return path, sid


def test_a_zip_bomb_member_is_refused_without_inflating_it(tmp_path):
    epochs = simulate(3, seed=2)["epoch_photometry"]
    path, sid = bomb_zip(tmp_path / "bomb.zip", epochs, MAX_MEMBER_BYTES + 2**20)
    assert path.stat().st_size < 2**20  # a few hundred kB that would inflate to 65 MB
    issues = []
    rows = list(iter_epoch_batches([path], 100, issues))
    assert [i.source_id for i in issues] == [sid] and "zip bomb" in issues[0].reason
    assert sum(r["source_id"].nunique() for r in rows) == epochs["source_id"].nunique()
