"""Corrupt members and zip bombs in the archive's per-source zips: one star's reason, bounded memory.
Files of other DataLink products are not read, but said so: counted in a warning, and named in
the reason of a star that has no epoch photometry file."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import MAX_MEMBER_BYTES, iter_epoch_batches
from rrlfeh.errors import DataError
from rrlfeh.serving.catalogue import rejects_path
from rrlfeh.serving.predict import run_predict
from tests.support.hostile import corrupt_one_member, per_source_zip
from tests.support.model_fixture import simulate, tiny_params


def test_a_corrupt_member_is_one_stars_reason(tmp_path):
    epochs = simulate(4, seed=1)["epoch_photometry"]
    path = corrupt_one_member(per_source_zip(tmp_path / "e.zip", epochs)) and tmp_path / "e.zip"
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


def _with_other_products(path: Path, epochs, only_other: int, both: int) -> Path:
    """A per-source zip in which star `only_other` has only a file of another DataLink product
    and star `both` has one beside its epoch photometry (how a request for two products comes)."""
    per_source_zip(path, epochs[epochs["source_id"] != only_other])
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(f"MCMC_GSPPHOT-Gaia DR3 {only_other}.xml", "<VOTABLE/>")
        zf.writestr(f"XP_SAMPLED-Gaia DR3 {both}.xml", "<VOTABLE/>")
    return path


def test_members_of_other_products_are_counted_and_their_stars_told(tmp_path, caplog):
    epochs = simulate(3, seed=2)["epoch_photometry"]
    ids = sorted(epochs["source_id"].unique())
    path = _with_other_products(tmp_path / "e.zip", epochs, ids[0], ids[1])
    issues = []
    with caplog.at_level(logging.WARNING, logger="rrlfeh.core.epoch_stream"):
        rows = list(iter_epoch_batches([path], 100, issues))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and str(path) in warned[0], warned
    assert "2 member" in warned[0] and "MCMC_GSPPHOT" in warned[0] and "XP_SAMPLED" in warned[0]
    assert sum(r["source_id"].nunique() for r in rows) == len(ids) - 1
    # only the star left without epochs is told about, and it is not an unreadable file
    assert [(i.source_id, i.kind) for i in issues] == [(ids[0], "other_product")]
    assert f"MCMC_GSPPHOT-Gaia DR3 {ids[0]}.xml" in issues[0].reason


def test_predict_says_which_product_a_star_without_epochs_had(model_dir, tmp_path):
    data = simulate(3, seed=8)
    epochs = data["epoch_photometry"]
    ids = sorted(epochs["source_id"].unique())
    root = tmp_path / "in"
    root.mkdir()
    data["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    _with_other_products(root / "datalink.zip", epochs, ids[0], ids[1])
    out = tmp_path / "cat.parquet"
    counts = run_predict(tiny_params(n_jobs=1, chunk_stars=16).predict, str(model_dir), [root],
                         out, "local", progress=False)
    rej = schema.read_table(rejects_path(out), "rejected").set_index("source_id")
    assert rej.loc[ids[0], "reason"] == "no_epochs"
    assert "MCMC_GSPPHOT" in rej.loc[ids[0], "detail"] and "datalink.zip" in rej.loc[ids[0], "detail"]
    assert counts["reconciled"] and ids[1] not in rej.index
