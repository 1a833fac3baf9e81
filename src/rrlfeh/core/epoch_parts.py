"""What an extract from files has read so far, on disk, so that a killed run resumes.

Reading a large input (a 300 MB zip of per-source files) is mostly inflating and parsing. This
store keeps what has been read, part by part, in a work folder (data/raw/_files_parts, not a DVC
output):
  state.json             the signature of the input: each epoch file's path, size and mtime, and
                         the part size; a changed input starts afresh
  f00003_p00012.parquet  the conformed frames of part 12 of input file 3, one after the other
  f00003_p00012.json     its record: each frame's origin and row count, the file's read position
                         after the part (zip member or row chunk), the issues met, whether the
                         file ends there
A part counts once its .json exists; both are written under a temporary name and renamed, so a
kill mid-write leaves no half part. A resumed run replays the finished parts in order, then reads
on from where they end: the frames, hence every output built from them, are those of an
uninterrupted run. The folder is emptied once the whole input has been read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from rrlfeh.core import schema
from rrlfeh.core.ragged import offsets_of

FORMAT = 1  # bump when what a part holds changes: old parts are then not reused
_OURS = ("state.json", "f*_p*.parquet", "f*_p*.json", "*.tmp")
# (frame, where it was read, whether its first star may go on from the frame before, position)
Frame = tuple[pd.DataFrame, str, bool, int]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def input_signature(paths: Sequence[Path], rows_per_part: int, rows_per_chunk: int) -> dict:
    """What the parts depend on: the files' identities and the sizes that cut them."""
    files = []
    for p in paths:
        st = Path(p).stat()
        files.append([str(Path(p).resolve()), st.st_size, st.st_mtime_ns])
    return {"format": FORMAT, "files": files, "rows_per_part": rows_per_part,
            "rows_per_chunk": rows_per_chunk}


class PartStore:
    """The finished parts of one input, in `root`; parts of another input are removed."""

    def __init__(self, root: Path, signature: dict, rows_per_part: int):
        if rows_per_part < 1:
            raise ValueError(f"rows_per_part must be >= 1, got {rows_per_part}")
        self.root = Path(root)
        self.rows_per_part = rows_per_part
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()
        state = self.root / "state.json"
        previous = json.loads(state.read_text()).get("signature") if state.exists() else None
        self.resumed_parts = 0  # parts replayed instead of read (reported)
        if previous != digest:
            self._remove_ours()
            _atomic_write(state, lambda p: p.write_text(
                json.dumps({"signature": digest}, indent=1) + "\n"))

    def _stem(self, f: int, k: int) -> str:
        return f"f{f:05d}_p{k:05d}"

    def _records(self, f: int) -> Iterator[dict]:
        k = 0
        while (path := self.root / f"{self._stem(f, k)}.json").exists():
            yield json.loads(path.read_text())
            k += 1

    def _replay(self, f: int, k: int, record: dict) -> Iterator[tuple[pd.DataFrame, str, bool]]:
        sizes = [n for _, _, n in record["frames"]]
        rows = (schema.read_table(self.root / f"{self._stem(f, k)}.parquet", "epoch_photometry")
                if sum(sizes) else schema.empty("epoch_photometry"))
        bounds = offsets_of(sizes)
        for (where, goes_on, _), a, b in zip(record["frames"], bounds[:-1], bounds[1:]):
            yield rows.iloc[a:b].reset_index(drop=True), where, goes_on

    def _save(self, f: int, k: int, frames: list, end: int, issues: list, complete: bool) -> None:
        stem = self._stem(f, k)
        if any(len(fr) for fr, _, _ in frames):
            rows = pd.concat([fr for fr, _, _ in frames], ignore_index=True)
            _atomic_write(self.root / f"{stem}.parquet",
                          lambda p: schema.conform(rows, "epoch_photometry").to_parquet(p, index=False))
        record = {"frames": [[w, g, len(fr)] for fr, w, g in frames], "end": end,
                  "complete": complete, "issues": [list(dataclasses.astuple(i)) for i in issues]}
        _atomic_write(self.root / f"{stem}.json", lambda p: p.write_text(json.dumps(record) + "\n"))

    def frames(self, f: int, read_from: Callable[[int], Iterator[Frame]], issues: list,
               issue: Callable[..., object]) -> Iterator[tuple[pd.DataFrame, str, bool]]:
        """The frames of input file `f`: its finished parts replayed, then `read_from(position)`
        read on and saved a part at a time. The reader appends its issues (dataclasses) to
        `issues`; replayed ones are rebuilt with `issue(*fields)`, in the same order."""
        k, pos = 0, 0
        for k, record in enumerate(self._records(f), start=1):
            issues.extend(issue(*i) for i in record["issues"])
            yield from self._replay(f, k - 1, record)
            self.resumed_parts += 1
            pos = record["end"]
            if record["complete"]:
                return
        part: list = []
        rows, first = 0, len(issues)
        for frame, where, goes_on, pos in read_from(pos):
            part.append((frame, where, goes_on))
            rows += len(frame)
            yield frame, where, goes_on
            if rows >= self.rows_per_part:
                self._save(f, k, part, pos, issues[first:], complete=False)
                k, part, rows, first = k + 1, [], 0, len(issues)
        self._save(f, k, part, pos, issues[first:], complete=True)

    def _remove_ours(self) -> None:
        for pattern in _OURS:
            for path in self.root.glob(pattern):
                path.unlink()

    def finish(self) -> None:
        """The whole input has been read: its parts are no longer needed."""
        self._remove_ours()
        try:
            self.root.rmdir()
        except OSError:  # something else is in it (not ours): leave it
            pass
