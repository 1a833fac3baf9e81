"""What an archive extract has finished so far, on disk, so an interrupted run resumes.

Layout of the work folder (data/raw/_archive_batches, not a DVC output):
  state.json                 signature of the request (query, release, format, batch size)
  vari_rrlyrae.parquet       the TAP answer: the list of stars, fixed for the whole run
  epochs_00000.parquet/.json one DataLink batch: its rows, then its record (ids, issues)
  labels-<hash>.<ext>        a labels catalogue downloaded from a URL
A batch counts as done once its .json exists; files are written under a temporary name and
renamed, so a run killed mid-write leaves no half batch. A changed request starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from rrlfeh.core import schema

_OURS = ("state.json", "vari_rrlyrae.parquet", "epochs_*.parquet", "epochs_*.json",
         "epochs_*.zip", "*.tmp")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


class BatchStore:
    def __init__(self, root: Path, signature: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()
        state = self.root / "state.json"
        previous = json.loads(state.read_text()).get("signature") if state.exists() else None
        self.reset = previous is not None and previous != digest
        if previous != digest:
            for pattern in _OURS:
                for f in self.root.glob(pattern):
                    f.unlink()
            _atomic_write(state, lambda p: p.write_text(
                json.dumps({"signature": digest, "request": signature}, indent=1) + "\n"))

    def load_vari(self) -> pd.DataFrame | None:
        path = self.root / "vari_rrlyrae.parquet"
        return schema.read_table(path, "vari_rrlyrae") if path.exists() else None

    def save_vari(self, vari: pd.DataFrame) -> None:
        _atomic_write(self.root / "vari_rrlyrae.parquet",
                      lambda p: schema.conform(vari, "vari_rrlyrae").to_parquet(p, index=False))

    def zip_path(self, k: int) -> Path:
        return self.root / f"epochs_{k:05d}.zip"

    def record(self, k: int) -> dict | None:
        path = self.root / f"epochs_{k:05d}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def rows(self, k: int) -> pd.DataFrame:
        return schema.read_table(self.root / f"epochs_{k:05d}.parquet", "epoch_photometry")

    def save_batch(self, k: int, rows: pd.DataFrame, record: dict) -> None:
        _atomic_write(self.root / f"epochs_{k:05d}.parquet",
                      lambda p: schema.conform(rows, "epoch_photometry").to_parquet(p, index=False))
        _atomic_write(self.root / f"epochs_{k:05d}.json",
                      lambda p: p.write_text(json.dumps(record) + "\n"))
        self.zip_path(k).unlink(missing_ok=True)
