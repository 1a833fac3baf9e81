"""Outputs that appear together or not at all: a failed or killed run leaves the previous files.

Each output is written to a hidden sibling (same folder, so the final rename stays on one file
system and is atomic), and the siblings replace the outputs only after every one was written.
A kill between two renames can still pair a new file with an old one; the window is two
rename(2) calls, not the write.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


def partial_path(path: Path) -> Path:
    """The hidden sibling `path` is written to first. It keeps the suffix (writers pick the format
    from it) and starts with a dot, so no reader of the folder takes it for data; a killed run's
    leftover is overwritten by the next run."""
    path = Path(path)
    return path.with_name(f".{path.stem}.rrlfeh-partial{path.suffix}")


@contextlib.contextmanager
def replaced_together(paths: list[Path]) -> Iterator[list[Path]]:
    """Yield the partial paths to write; on a clean exit they replace `paths`, on any error they
    are removed and `paths` stay as they were."""
    paths = [Path(p) for p in paths]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    partials = [partial_path(p) for p in paths]
    try:
        for tmp in partials:
            tmp.unlink(missing_ok=True)  # a killed run's leftover
        yield partials
        for tmp in partials:
            if not tmp.is_file():
                raise FileNotFoundError(2, "the writer did not write this output", str(tmp))
        for tmp, final in zip(partials, paths):
            os.replace(tmp, final)
    finally:
        for tmp in partials:
            tmp.unlink(missing_ok=True)
