"""A preprocessed npz cut short (a kill mid-write) is one line naming the file, and preprocess
never leaves one behind (written under a temporary name, then renamed)."""

from __future__ import annotations

import numpy as np
import pytest

from rrlfeh.errors import DataError
from rrlfeh.model.dataset import load_tensors


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_npz_is_one_line(tmp_path, keep):
    from tests.support.tiny_tensors import make_tensors

    path = tmp_path / "rrab.npz"
    make_tensors(path, n=40)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(DataError, match="not a readable npz file"):
        load_tensors(path)


def test_preprocess_writes_the_npz_atomically():
    import inspect

    from rrlfeh.features import preprocess as stage

    src = inspect.getsource(stage)
    assert "os.replace(tmp, final)" in src and "np.savez(out_dir" not in src
    assert np.__name__  # the stage's own test (tests/unit/test_features_preprocess.py) checks the content
