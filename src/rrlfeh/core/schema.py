"""The three tables in the Gaia DR3 archive layouts, plus the rejects table.

Every reader (simulator, Gaia archive, user files) ends with `conform`, so everything downstream
sees the same columns and dtypes whatever the source. Times are BJD(TCB) - 2455197.5 in days.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rrlfeh.errors import DataError

# name -> (dtype, required). Optional columns absent from an input are added as missing values.
VARI_RRLYRAE: dict[str, tuple[str, bool]] = {
    "source_id": ("int64", True),
    "ra": ("float64", False),
    "dec": ("float64", False),
    "pf": ("float64", True),
    "p1_o": ("float64", True),
    "epoch_g": ("float64", True),
    "peak_to_peak_g": ("float64", False),
    "num_clean_epochs_g": ("float64", False),
    "phi31_g": ("float64", False),
    "phi31_g_error": ("float64", False),
    "best_classification": ("string", True),
    "int_average_g": ("float64", False),
}
EPOCH_PHOTOMETRY: dict[str, tuple[str, bool]] = {
    "source_id": ("int64", True),
    "transit_id": ("int64", False),
    "band": ("string", True),
    "time": ("float64", True),
    "mag": ("float64", True),
    "flux": ("float64", False),
    "flux_error": ("float64", False),
    "flux_over_error": ("float64", False),
    "rejected_by_photometry": ("bool", False),
    "rejected_by_variability": ("bool", False),
    "other_flags": ("int64", False),
    "solution_id": ("int64", False),
}
LABELS: dict[str, tuple[str, bool]] = {
    "source_id": ("int64", True),
    "feh": ("float64", True),
    "feh_error": ("float64", True),
}
REJECTED: dict[str, tuple[str, bool]] = {
    "source_id": ("int64", True),
    "stage": ("string", True),
    "reason": ("string", True),
    "detail": ("string", False),
}
# Simulation only: what the simulator knows that a real catalogue does not (empty for real data).
# feh_true: the star's [Fe/H]; feh_relation: the photometric relation at noise-free parameters;
# feh_oracle: the relation applied to a Fourier fit of the noisy epochs at the true period
# (the simulator's noise floor, reported beside the model's error).
TRUTH: dict[str, tuple[str, bool]] = {
    "source_id": ("int64", True),
    "feh_true": ("float64", True),
    "feh_relation": ("float64", True),
    "feh_oracle": ("float64", True),
}
TABLES = {
    "vari_rrlyrae": VARI_RRLYRAE,
    "epoch_photometry": EPOCH_PHOTOMETRY,
    "labels": LABELS,
    "rejected": REJECTED,
    "truth": TRUTH,
}
RAW_TABLES = ("vari_rrlyrae", "epoch_photometry", "labels")
TYPES = ("RRab", "RRc", "RRd")
BANDS = ("G", "BP", "RP")
# Period column per type: fundamental for RRab, first overtone for RRc.
PERIOD_COLUMN = {"RRab": "pf", "RRc": "p1_o"}
_MISSING = {"int64": -1, "bool": False}


class SchemaError(DataError):
    """A table does not have the columns or types of its Gaia DR3 layout."""


def _spelling(names: tuple[str, ...]):
    """A function giving a value of a categorical column its archive spelling (one of `names`)
    whatever its case and spacing; any other value comes back unchanged."""
    known = {name.lower(): name for name in names}

    def spell(value):
        if not isinstance(value, str):
            return value
        return known.get("".join(value.split()).lower(), value)

    return spell


# Users and archives write 'RRAB', ' rrab ', 'g': the one place those become the archive's
# spelling, so every reader (clean, predict, the served model) sees the same categories. An
# unknown type stays as it was written (the model answers it `unknown_type`).
canonical_type = _spelling(TYPES)
canonical_band = _spelling(BANDS)
CATEGORIES = {"best_classification": canonical_type, "band": canonical_band}


def _spell_column(s: pd.Series, spell) -> pd.Series:
    # each distinct value once: a chunk of 10^6 epoch rows holds a handful of bands
    fix = {v: spell(v) for v in s.dropna().unique() if spell(v) != v}
    return s.replace(fix) if fix else s


def _examples(df: pd.DataFrame, bad: pd.Series, column: str, n: int = 5) -> str:
    rows = df.loc[bad]
    ids = rows["source_id"].head(n).tolist() if "source_id" in df.columns else rows.index[:n].tolist()
    vals = rows[column].head(n).tolist()
    return f"e.g. source_id {_one_line(ids)} with values {_one_line(vals)}"


def _one_line(values: list) -> str:
    """Values as one short line: a cell may hold an array, whose repr spans lines."""
    return "[" + ", ".join(" ".join(str(v).split())[:40] for v in values) + "]"


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return `df` with exactly the columns of `table`, in order, with their dtypes.

    Raises SchemaError naming the table, the column and example source_ids when a required column
    is missing or a value cannot be converted. Extra columns are dropped.
    """
    spec = TABLES[table]
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"{table}: expected a table, got {type(df).__name__}")
    df = df.rename(columns={c: c.lower() for c in df.columns if isinstance(c, str)})
    missing = [c for c, (_, req) in spec.items() if req and c not in df.columns]
    if missing:
        raise SchemaError(
            f"{table}: missing required column(s) {missing}; found {list(df.columns)[:20]}"
        )
    out = {}
    for col, (dtype, _) in spec.items():
        if col not in df.columns:
            out[col] = _missing_column(dtype, len(df), df.index)
            continue
        try:
            out[col] = _convert_column(df, table, col, dtype)
        except SchemaError:
            raise
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{table}.{col}: cannot convert to {dtype}: {exc}") from exc
    return pd.DataFrame(out).reset_index(drop=True)


def _convert_column(df: pd.DataFrame, table: str, col: str, dtype: str) -> pd.Series:
    """Column `col` of `df` as `dtype`; SchemaError naming example source_ids for bad values."""
    s = df[col]
    if dtype == "string":
        s = s.astype("string").str.strip()
        return _spell_column(s, CATEGORIES[col]) if col in CATEGORIES else s
    if dtype == "bool":
        return _to_bool(s)
    num = pd.to_numeric(s, errors="coerce")
    if dtype == "int64":
        bad = num.isna() | (num != np.floor(num))
        if col != "source_id":
            num = num.where(~num.isna(), _MISSING["int64"])
            bad = num != np.floor(num)
        if bad.any():
            raise SchemaError(f"{table}.{col}: {int(bad.sum())} value(s) are not integers; "
                              + _examples(df, bad, col))
        return num.astype("int64")
    # Empty cells and the archive's null spellings are missing values, not errors; only the
    # cells that failed to parse are looked at as text (fast on 10^7 rows).
    bad = num.isna() & s.notna()
    if bad.any():
        text = s[bad].astype("string").str.strip().str.lower()
        bad.loc[bad] = ~text.isin(["", "nan", "null", "--"]).fillna(True).to_numpy()
    if bad.any():
        raise SchemaError(f"{table}.{col}: {int(bad.sum())} value(s) are not numbers; "
                          + _examples(df, bad, col))
    return num.astype("float64")


def _missing_column(dtype: str, n: int, index) -> pd.Series:
    """An optional column the input lacks: missing values of its dtype."""
    if dtype == "string":
        return pd.Series([pd.NA] * n, dtype="string", index=index)
    if dtype in _MISSING:
        return pd.Series(np.full(n, _MISSING[dtype]), dtype=dtype, index=index)
    return pd.Series(np.full(n, np.nan), dtype=dtype, index=index)


def _to_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    text = s.astype("string").str.strip().str.lower()
    mapping = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False}
    mapped = text.map(mapping)
    bad = mapped.isna() & text.notna()
    if bad.any():
        raise SchemaError(f"boolean column has values {sorted(set(text[bad].head(5)))}")
    return mapped.fillna(False).astype(bool)


def empty(table: str) -> pd.DataFrame:
    """An empty table with the right columns and dtypes."""
    return conform(pd.DataFrame({c: [] for c in TABLES[table]}), table)


def rejects(source_ids, stage: str, reason: str, detail: str | None = None) -> pd.DataFrame:
    """Rows of the rejects table: every star a stage drops keeps its reason."""
    ids = np.asarray(source_ids, dtype="int64")
    return conform(
        pd.DataFrame(
            {"source_id": ids, "stage": stage, "reason": reason, "detail": detail or pd.NA}
        ),
        "rejected",
    )


def _read_parquet_part(path: str | Path, table: str, reader):
    """reader(path), with a missing or unreadable file reported as a SchemaError naming the table."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{table}: file {path} does not exist")
    try:
        return reader(path)
    except Exception as exc:  # pyarrow raises several types for truncated/corrupt files
        raise SchemaError(f"{table}: {path} is not a readable Parquet file ({exc})") from exc


def read_table(path: str | Path, table: str) -> pd.DataFrame:
    """Read one of our Parquet tables back, conformed."""
    return conform(_read_parquet_part(path, table, pd.read_parquet), table)


def check_layout(path: str | Path, table: str) -> None:
    """Raise what read_table would for a missing file, an unreadable footer or a missing column,
    reading the footer only (for a table read in chunks)."""
    found = _read_parquet_part(path, table, pq.read_schema)
    conform(found.empty_table().to_pandas(), table)


def write_table(df: pd.DataFrame, path: str | Path, table: str) -> Path:
    """Conform and write a table as Parquet (creates the parent folder)."""
    with TableWriter(path, table) as out:
        out.write(df)
    return out.path


class TableWriter:
    """Write a table that arrives in parts, one part in memory at a time: each part is conformed
    and appended as Parquet row groups. The file appears at `path` only when the writer closes
    without an error (a failed run leaves no partial table behind).

    One part gives the same bytes as pandas' `to_parquet`; a table without rows gets the one empty
    row group pandas writes.
    """

    def __init__(self, path: str | Path, table: str):
        self.path, self.table, self.rows = Path(path), table, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._schema = pa.Schema.from_pandas(empty(table), preserve_index=False)
        self._writer = pq.ParquetWriter(self._partial, self._schema)

    def write(self, df: pd.DataFrame) -> None:
        if len(df):
            self._append(conform(df, self.table))

    def _append(self, df: pd.DataFrame) -> None:
        self._writer.write_table(pa.Table.from_pandas(df, schema=self._schema, preserve_index=False))
        self.rows += len(df)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, error_type, *_) -> None:
        if error_type is None and not self.rows:
            self._append(empty(self.table))
        self._writer.close()
        if error_type is None:
            os.replace(self._partial, self.path)
        else:
            self._partial.unlink(missing_ok=True)


def period_of(vari: pd.DataFrame) -> pd.Series:
    """The pulsation period used for folding: pf for RRab, p1_o for RRc (NaN otherwise), of a
    conformed table (its types spelled as the archive does)."""
    cls = vari["best_classification"].astype("string")
    # a missing class is neither type (a bare `cls == "RRab"` holds <NA>, which np.where refuses)
    is_ab = cls.eq("RRab").fillna(False).to_numpy(dtype=bool)
    is_c = cls.eq("RRc").fillna(False).to_numpy(dtype=bool)
    return pd.Series(
        np.where(is_ab, vari["pf"], np.where(is_c, vari["p1_o"], np.nan)),
        index=vari.index,
        dtype="float64",
    )
