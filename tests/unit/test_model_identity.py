"""A model folder exported by `register` names its registered version in the catalogue's
provenance; any other folder names none; a damaged identity file is one clear line."""

from __future__ import annotations

import json

import pytest

from rrlfeh.errors import DataError
from rrlfeh.serving.catalogue import model_provenance
from rrlfeh.serving.model_files import REGISTERED_FILE


def test_an_exported_folder_names_its_version(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    load, prov = model_provenance(str(tmp_path))
    assert load == str(tmp_path) and prov["model_version"] == "" and prov["model_name"] == ""
    identity = {"model_name": "rrl-feh", "model_version": "3", "model_run_id": "abc",
                "model_git_commit": "0123", "exported_from": "models:/rrl-feh/3"}
    (tmp_path / REGISTERED_FILE).write_text(json.dumps(identity))
    _, prov = model_provenance(str(tmp_path))
    assert (prov["model_name"], prov["model_version"], prov["model_run_id"], prov["model_git_commit"]) == (
        "rrl-feh", "3", "abc", "0123")
    assert prov["model_uri"] == str(tmp_path) and "exported_from" not in prov


def test_a_damaged_identity_file_is_one_line(tmp_path):
    (tmp_path / REGISTERED_FILE).write_text("{not json")
    with pytest.raises(DataError, match=REGISTERED_FILE):
        model_provenance(str(tmp_path))
