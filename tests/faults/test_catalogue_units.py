"""The written catalogue as astropy users read it: every unit and the provenance, no warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from rrlfeh.serving.catalogue import COLUMNS, read_catalogue, write_catalogue

PROVENANCE = {"model_uri": "models:/rrl-feh/3", "model_version": "3"}


def _catalogue() -> pd.DataFrame:
    return pd.DataFrame({
        "source_id": [4111834567779557376, 2], "type": ["RRab", "RRc"], "period": [0.55, 0.31],
        "n_epochs": [44, 61], "feh": [-1.5, np.nan], "feh_error": [0.2, np.nan],
        "feh_std": [0.05, np.nan], "out_of_range": [False, True],
        "out_of_range_reason": ["", "shape"],
    })


@pytest.mark.parametrize("suffix", [".fits", ".parquet", ".ecsv"])
def test_astropy_reads_units_descriptions_and_provenance_without_a_warning(tmp_path, suffix):
    path = write_catalogue(_catalogue(), tmp_path / f"cat{suffix}", PROVENANCE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a UnitsWarning for 'dex' (FITS) fails here
        table = Table.read(path)
        _, meta, units = read_catalogue(path)
    assert table["feh"].unit.is_equivalent("dex") and table["feh_error"].unit.is_equivalent("dex")
    assert str(table["period"].unit) == "d"
    assert table["feh"].description == COLUMNS["feh"][1]
    assert table["source_id"][0] == 4111834567779557376  # 19 digits intact
    assert units == {"period": "d", "feh": "dex", "feh_error": "dex", "feh_std": "dex"}
    assert meta == PROVENANCE
    if suffix != ".fits":  # FITS provenance is in short header keywords (read_catalogue maps them)
        assert {k: table.meta[k] for k in PROVENANCE} == PROVENANCE


def test_fits_has_no_nonstandard_unit_card_and_says_dex_in_the_comment(tmp_path):
    path = write_catalogue(_catalogue(), tmp_path / "cat.fits", PROVENANCE)
    header = fits.getheader(path, 1)
    names = {header[f"TTYPE{i}"]: i for i in range(1, header["TFIELDS"] + 1)}
    assert f"TUNIT{names['feh']}" not in header  # the FITS standard has no dex
    assert header[f"TCOMM{names['feh']}"].startswith("[dex] Photometric [Fe/H]")
    assert header[f"TUNIT{names['period']}"] == "d"
