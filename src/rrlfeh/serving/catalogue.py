"""The predicted catalogue on disk: Parquet, ECSV or FITS, with units and provenance in the metadata.

One column spec (name -> unit, description) serves all three formats, so TOPCAT, astropy and
pandas users see the same units: Parquet field metadata + schema metadata, ECSV column units + meta,
FITS TUNITn/TCOMMn + header keywords. [Fe/H] is in dex, which the FITS standard does not list, so
it is written as the literal TUNITn = 'dex' (the Gaia archive's own convention).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.errors import DataError

# name -> (unit, description). The order is the catalogue's column order.
COLUMNS: dict[str, tuple[str | None, str]] = {
    "source_id": (None, "Gaia DR3 source_id"),
    "ra": ("deg", "Right ascension (ICRS), from vari_rrlyrae / gaia_source"),
    "dec": ("deg", "Declination (ICRS), from vari_rrlyrae / gaia_source"),
    "type": (None, "RR Lyrae type (best_classification)"),
    "period": ("d", "Period used for folding: pf for RRab, p1_o for RRc"),
    "n_epochs": (None, "Clean G-band epochs used"),
    "feh": ("dex", "Photometric [Fe/H]: mean of the GRU ensemble"),
    "feh_error": ("dex", "Calibrated 1-sigma uncertainty of [Fe/H] (68% interval: feh +- feh_error)"),
    "feh_std": ("dex", "Standard deviation of the ensemble members' [Fe/H]"),
    "out_of_range": (None, "True where the star lies outside the training stars (period, amplitude, "
                           "fold scatter, phase gap or curve shape): the estimate is less reliable"),
    "out_of_range_reason": (None, "Which of period, amplitude, scatter, phase_gap, shape are outside"),
    "feh_label": ("dex", "[Fe/H] of the input labels table (NaN where none)"),
    "feh_label_error": ("dex", "Uncertainty of feh_label"),
}
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".ecsv": "ecsv", ".fits": "fits", ".fit": "fits"}
# FITS header keywords (8 characters) for the provenance keys.
FITS_KEYS = {
    "model_uri": "MODELURI", "model_name": "MODEL", "model_version": "MODELVER",
    "model_alias": "MODALIAS", "model_run_id": "RUNID", "model_git_commit": "MODELGIT",
    "created_utc": "DATE", "rrlfeh_version": "SOFTVER", "inputs": "INPUTS",
}
PARQUET_META_KEY = b"rrlfeh.provenance"


def catalogue_format(path: Path) -> str:
    """'parquet', 'ecsv' or 'fits' from the file name; DataError otherwise (checked before any work)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: output must end in one of {sorted(set(FORMATS))}")
    return fmt


def check_writable(path: Path, folder: bool = False) -> None:
    """Fail now, with one line, when `path` (a file, or a folder with folder=True) cannot be
    written: a parent that is a file, a folder without write permission, a file where a folder
    should be. Nothing is created (the folders are made when the output is written)."""
    import os
    import tempfile

    path = Path(path)
    target = path if folder else path.parent
    if not folder and path.is_dir():
        raise DataError(f"{path}: is a folder, not a file name")
    if folder and path.exists() and not path.is_dir():
        raise DataError(f"{path}: is a file, not a folder")
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(f"{path}: cannot be written, {existing} is a file, not a folder")
    if existing == target:  # probe with a real file: permissions, read-only mounts, quotas
        try:
            with tempfile.NamedTemporaryFile(dir=target, prefix=".rrlfeh-probe-"):
                pass
        except OSError as exc:
            raise DataError(f"{path}: cannot write in {target} ({exc.strerror or exc})") from None
    elif not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"{path}: cannot create folders in {existing} (permission denied)")


def rejects_path(output: Path) -> Path:
    """Where the stars that got no [Fe/H] are written: beside the catalogue."""
    output = Path(output)
    return output.with_name(output.stem + "_rejected.parquet")


def write_catalogue(df: pd.DataFrame, path: Path, provenance: dict[str, str]) -> Path:
    """Write the catalogue (columns of COLUMNS present in df, in that order) with units and provenance."""
    path = Path(path)
    fmt = catalogue_format(path)
    cols = [c for c in COLUMNS if c in df.columns]
    df = df[cols].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: ("" if v is None else str(v)) for k, v in provenance.items()}
    if fmt == "parquet":
        _write_parquet(df, path, meta)
    else:
        ecsv = fmt == "ecsv"  # FITS gets its own short header keywords, not astropy's HIERARCH cards
        table = _astropy_table(df, meta if ecsv else {}, with_dex=ecsv)
        if ecsv:
            table.write(path, format="ascii.ecsv", overwrite=True)
        else:
            _write_fits(table, path, meta)
    return path


def _write_parquet(df: pd.DataFrame, path: Path, meta: dict[str, str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = []
    for field in table.schema:
        unit, desc = COLUMNS[field.name]
        fmeta = {"description": desc, **({"unit": unit} if unit else {})}
        fields.append(field.with_metadata(fmeta))
    schema_meta = {**(table.schema.metadata or {}), PARQUET_META_KEY: json.dumps(meta).encode()}
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    pq.write_table(table, path)


def _astropy_table(df: pd.DataFrame, meta: dict[str, str], with_dex: bool):
    import astropy.units as u
    from astropy.table import Table

    table = Table()
    for name in df.columns:
        values = df[name]
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            values = np.array(values.astype("string").fillna("").tolist(), dtype=str)
        else:
            values = values.to_numpy()
        table[name] = values
        unit, desc = COLUMNS[name]
        table[name].description = desc
        if unit and (unit != "dex" or with_dex):
            table[name].unit = u.Unit(unit)
    table.meta.update(meta)
    return table


def _write_fits(table, path: Path, meta: dict[str, str]) -> None:
    from astropy.io import fits

    hdu = fits.table_to_hdu(table)
    for i, name in enumerate(table.colnames, start=1):
        unit, desc = COLUMNS[name]
        if unit == "dex":
            hdu.header[f"TUNIT{i}"] = "dex"
        hdu.header[f"TCOMM{i}"] = desc[:68]
    for key, value in meta.items():
        hdu.header[FITS_KEYS.get(key, key[:8].upper())] = value
    hdu.name = "RRLFEH"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def read_catalogue(path: Path) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """A written catalogue back as (table, provenance, units by column), whatever its format."""
    path = Path(path)
    fmt = catalogue_format(path)
    if not path.exists():
        raise DataError(f"{path}: no such catalogue")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {}).get(PARQUET_META_KEY, b"{}"))
        units = {f.name: f.metadata[b"unit"].decode() for f in table.schema
                 if f.metadata and b"unit" in f.metadata}
        return table.to_pandas(), meta, units
    if fmt == "ecsv":
        from astropy.table import Table

        table = Table.read(path, format="ascii.ecsv")
        units = {c: str(table[c].unit) for c in table.colnames if table[c].unit is not None}
        return _to_pandas(table), {k: str(v) for k, v in table.meta.items()}, units
    from astropy.io import fits
    from astropy.table import Table

    with fits.open(path) as hdul:
        header = hdul[1].header
        data = Table(hdul[1].data)
    names = {v: k for k, v in FITS_KEYS.items()}
    meta = {names[k]: str(header[k]) for k in names if k in header}
    units = {header[f"TTYPE{i}"]: header[f"TUNIT{i}"].strip()
             for i in range(1, header["TFIELDS"] + 1) if f"TUNIT{i}" in header}
    return _to_pandas(data), meta, units


def _to_pandas(table) -> pd.DataFrame:
    out = {}
    for name in table.colnames:
        col = table[name]
        if getattr(col, "mask", None) is not None:  # ECSV reads empty strings back as masked
            col = col.filled("" if col.dtype.kind in "SU" else np.nan)
        col = np.asarray(col)
        if col.dtype.kind in "SU":
            col = col.astype(str)
        elif col.dtype.byteorder == ">":  # FITS is big-endian; pandas wants native order
            col = col.astype(col.dtype.newbyteorder("="))
        out[name] = col
    return pd.DataFrame(out)


def model_provenance(model_uri: str) -> tuple[str, dict[str, str]]:
    """(URI to load, provenance) for `model_uri`.

    A models:/name@alias URI is resolved to its version once, here, so the whole run (and every
    Spark executor) uses one version even if the alias moves meanwhile.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    prov = {"model_uri": model_uri, "model_name": "", "model_version": "", "model_alias": "",
            "model_run_id": "", "model_git_commit": ""}
    if not model_uri.startswith("models:/"):
        return model_uri, prov
    client = mlflow.MlflowClient()
    ref = model_uri[len("models:/"):]
    try:
        if "@" in ref and "/" not in ref:
            name, alias = ref.rsplit("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
            prov["model_alias"] = alias
        elif ref.count("/") == 1 and ref.split("/")[1].isdigit():
            name, version = ref.split("/")
            mv = client.get_model_version(name, version)
        else:  # stages, 'latest', model ids: let MLflow resolve them at load time
            return model_uri, prov
        prov.update(model_name=mv.name, model_version=str(mv.version), model_run_id=mv.run_id or "")
        if mv.run_id:
            prov["model_git_commit"] = client.get_run(mv.run_id).data.tags.get("git_commit", "")
    except MlflowException as exc:
        from rrlfeh.redact import redact

        where = redact(mlflow.get_registry_uri())
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise DataError(f"model {model_uri!r} not found in the registry at {where}: "
                            f"{redact(exc.message)}") from None
        # anything else (connection refused, time-out, 401/403, 5xx): the registry, not the model
        first = redact(exc.message).strip().splitlines()[0][:300] if exc.message else exc.error_code
        raise DataError(f"cannot ask the model registry at {where} for {model_uri!r} "
                        f"({exc.error_code}): {first}") from None
    return f"models:/{mv.name}/{mv.version}", prov
