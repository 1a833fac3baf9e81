"""A registered version as a plain model folder (`register --export`): the DVC artifact that
`dvc pull`, `dvc get` or `dvc artifacts get` brings to a machine without the tracking server.

The folder is what `models:/name/version` downloads (MLmodel, code, fold models), plus
model_files.REGISTERED_FILE naming the version, so `rrlfeh predict --model <folder>` computes what
the registry's version computes and records which version that was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from rrlfeh.serving.catalogue import model_provenance
from rrlfeh.serving.model_files import IDENTITY_KEYS, REGISTERED_FILE, fetch_model


def export_version(name: str, version: str, dst: Path) -> Path:
    """Write models:/name/version to the folder `dst`, replacing what was there only once the
    copy is complete (a failed download leaves the previous folder as it was)."""
    uri = f"models:/{name}/{version}"
    _, prov = model_provenance(uri)
    identity = {k: prov[k] for k in IDENTITY_KEYS} | {"exported_from": uri}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    try:
        local = Path(fetch_model(uri, staging))
        (local / REGISTERED_FILE).write_text(json.dumps(identity, indent=2) + "\n")
        if dst.exists():
            shutil.rmtree(dst)
        local.rename(dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dst
