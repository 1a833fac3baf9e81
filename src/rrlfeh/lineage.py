"""A stage's inputs as MLflow datasets that carry DVC's own identity of each input.

The digest of each dataset is the md5 DVC records in dvc.lock for that path (`<md5>.dir` for a
folder), computed with DVC's hashing (dvc-data, with the repository's .dvcignore), so a run's
inputs can be matched with a pipeline's lock. Arrays (`.npz`) and tables (`.parquet`) are logged
with their schema and size; anything else (a folder of models, a JSON file) as metadata only.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from rrlfeh.runtime import project_root

# MLflow's dataset context for an input of this name; every other input keeps its own name
CONTEXTS = {"data": "training"}


def dvc_md5(path: str | Path, root: Path | None = None) -> str:
    """The md5 DVC records for `path` in dvc.lock: a file's md5, or `<md5>.dir` for a folder."""
    from dvc.fs import LocalFileSystem
    from dvc.ignore import DvcIgnoreFilter
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.memory import MemoryFileSystem

    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such input to hash")
    fs = LocalFileSystem()
    ignore = DvcIgnoreFilter(fs, str(project_root(root)))
    # dry_run: hashes only, nothing is written (the staging database is in memory)
    _, _, obj = build(HashFileDB(MemoryFileSystem(), "/staging"), str(path), fs, "md5",
                      dry_run=True, ignore=ignore)
    return obj.hash_info.value


def source_path(path: str | Path, root: Path | None = None) -> str:
    """`path` as the repository names it (relative to its root), or absolute outside it."""
    path, base = Path(path).resolve(), project_root(root).resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def input_dataset(path: str | Path, digest: str, root: Path | None = None) -> Any:
    """An MLflow dataset for `path` named by its repository path, with `digest` as its digest."""
    import mlflow.data
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    path = Path(path)
    name = source_path(path, root)
    with warnings.catch_warnings():  # 'file://' matches MLflow's local source class twice
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        source = resolve_dataset_source(path.resolve().as_uri())
    if path.is_file() and path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        targets = arrays.pop("y", None)
        return mlflow.data.from_numpy(arrays, source=source, targets=targets, name=name, digest=digest)
    if path.is_file() and path.suffix == ".parquet":
        import pandas as pd

        return mlflow.data.from_pandas(pd.read_parquet(path), source=source, name=name, digest=digest)
    return MetaDataset(source, name=name, digest=digest)


def log_inputs(inputs: dict[str, str | Path], root: Path | None = None) -> dict[str, str]:
    """Log each existing input of `inputs` (context name -> path) in the active run as a dataset
    whose digest is DVC's md5; returns the digests by context name."""
    import mlflow

    digests, datasets, contexts = {}, [], []
    for key, path in inputs.items():
        if not Path(path).exists():
            continue
        digests[key] = dvc_md5(path, root)
        datasets.append(input_dataset(path, digests[key], root))
        contexts.append(CONTEXTS.get(key, key))
    if datasets:
        mlflow.log_inputs(datasets, contexts=contexts, tags_list=[None] * len(datasets))
    return digests
