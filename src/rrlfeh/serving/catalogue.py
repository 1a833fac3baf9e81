"""The predicted catalogue on disk: Parquet, ECSV or FITS, with units and provenance in the metadata.

One column spec (name -> unit, description) serves all three formats, so TOPCAT, astropy and
pandas users see the same units: Parquet field metadata + schema metadata, ECSV column units + meta,
FITS TUNITn/TCOMMn + header keywords. Each also carries astropy's own column header (Parquet's
`table_meta_yaml`, FITS's serialized-columns comment), so `astropy.table.Table.read` finds every
unit, description and the provenance, without a warning. [Fe/H] is in dex, which the FITS standard
does not list: a TUNITn = 'dex' card (the Gaia archive's habit) makes astropy warn, so a dex column
has no TUNITn; astropy reads its unit from the serialized header, other readers from its TCOMMn,
which starts with "[dex]".
"""

from __future__ import annotations

import json
import warnings
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
                           "fold scatter or curve shape): the estimate is less reliable"),
    "out_of_range_reason": (None, "Which of period, amplitude, scatter, shape are outside"),
    "feh_label": ("dex", "[Fe/H] of the input labels table (NaN where none)"),
    "feh_label_error": ("dex", "Uncertainty of feh_label"),
}
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".ecsv": "ecsv", ".fits": "fits", ".fit": "fits"}
# FITS header keywords (8 characters) for the provenance keys.
FITS_KEYS = {
    "model_uri": "MODELURI", "model_name": "MODEL", "model_version": "MODELVER",
    "model_alias": "MODALIAS", "model_run_id": "RUNID", "model_git_commit": "MODELGIT",
    "created_utc": "DATE", "rrlfeh_version": "SOFTVER", "inputs": "INPUTS",
    "model_config": "MODELCFG", "model_config_overrides": "MODELSET",
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
    elif fmt == "ecsv":
        _astropy_table(df, meta).write(path, format="ascii.ecsv", overwrite=True)
    else:  # FITS gets its own short header keywords, not astropy's HIERARCH cards
        _write_fits(_astropy_table(df, {}, quantities=True), path, meta)
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
    schema_meta = {**(table.schema.metadata or {}), PARQUET_META_KEY: json.dumps(meta).encode(),
                   **_astropy_parquet_meta(df, meta)}
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    pq.write_table(table, path)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _astropy_parquet_meta(df: pd.DataFrame, meta: dict[str, str]) -> dict[bytes, bytes]:
    """The metadata astropy's Parquet reader takes units, descriptions and provenance from (what
    its own writer stores), and the string lengths it would otherwise guess with a warning."""
    from astropy.table.meta import get_yaml_from_table

    out = {"table_meta_yaml": "\n".join(get_yaml_from_table(_astropy_table(df.iloc[:0], meta)))}
    for name in df.columns:
        if _is_text(df[name]):
            longest = df[name].astype("string").fillna("").str.len().max()
            out[f"table::len::{name}"] = str(max(1, 0 if pd.isna(longest) else int(longest)))
    return {k.encode(): v.encode() for k, v in out.items()}


def _astropy_table(df: pd.DataFrame, meta: dict[str, str], quantities: bool = False):
    """The catalogue as an astropy table with units and descriptions; with `quantities`, a QTable
    whose dex columns are Dex quantities (astropy then serializes their unit in a FITS header)."""
    import astropy.units as u
    from astropy.table import QTable, Table

    table = QTable() if quantities else Table()
    for name in df.columns:
        values = df[name]
        if _is_text(values):
            values = np.array(values.astype("string").fillna("").tolist(), dtype=str)
        else:
            values = values.to_numpy()
        unit, desc = COLUMNS[name]
        if quantities and unit:
            table[name] = u.Dex(values) if unit == "dex" else values * u.Unit(unit)
        else:
            table[name] = values
            if unit:
                table[name].unit = u.Unit(unit)
        table[name].info.description = desc
    table.meta.update(meta)
    return table


def _write_fits(table, path: Path, meta: dict[str, str]) -> None:
    from astropy.io import fits

    with warnings.catch_warnings():  # "dex cannot be saved in native FITS": TCOMM says it
        warnings.filterwarnings("ignore", message=".*could not be saved in native FITS.*")
        table.write(path, format="fits", overwrite=True)  # astropy serializes the Dex columns
    with fits.open(path, mode="update") as hdul:
        header = hdul[1].header
        for i, name in enumerate(table.colnames, start=1):
            unit, desc = COLUMNS[name]
            header[f"TCOMM{i}"] = (f"[{unit}] {desc}" if unit == "dex" else desc)[:68]
        for key, value in meta.items():
            header[FITS_KEYS.get(key, key[:8].upper())] = value
        header["EXTNAME"] = "RRLFEH"


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
    data = Table.read(path, hdu=1)  # units from TUNITn and astropy's serialized header (dex)
    names = {v: k for k, v in FITS_KEYS.items()}
    meta = {names[k]: str(header[k]) for k in names if k in header}
    units = {c: str(getattr(data[c].unit, "function_unit", data[c].unit))  # dex(1) -> dex
             for c in data.colnames if data[c].unit is not None}
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
    if not model_uri.startswith("models:/"):  # a folder names its version if register exported it
        from rrlfeh.serving.model_files import registered_identity

        return model_uri, prov | (registered_identity(model_uri) if Path(model_uri).is_dir() else {})
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
