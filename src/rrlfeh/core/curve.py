"""The one curve contract: what a usable epoch is, and the columns of a star going into the model and
coming out of it. Training (clean, preprocess), batch prediction (local and Spark engines), the gate
and the served model all read these definitions; the pyfunc signature and the Spark result type are
derived from INPUT and OUTPUT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BAND = "G"  # the model is trained on Gaia G-band curves only
FLAG = "rejected_by_variability"  # the archive's own flag of a transit unfit for variability work
ERROR = "flux_over_error"  # the archive's per-transit S/N: the epoch's magnitude error (mag_error)
# what every engine reads of the epoch photometry table (ERROR where the file has it)
EPOCH_COLUMNS = ("source_id", "band", "time", "mag", FLAG, ERROR)
_MAG_PER_FLUX = 2.5 / np.log(10)  # d(mag) = 1.0857 d(flux) / flux

# column -> Spark SQL type (the MLflow signature uses the same names: long, double, string, boolean)
INPUT = {
    "source_id": "long", "type": "string", "period": "double", "epoch_g": "double",
    "time": "array<double>", "mag": "array<double>", "mag_error": "array<double>",
}
# may be left out of a request: without magnitude errors a star's epochs weigh alike
OPTIONAL_INPUT = ("mag_error",)
OUTPUT = {
    "source_id": "long", "feh": "double", "feh_error": "double", "feh_std": "double",
    "n_epochs": "long", "status": "string", "reason": "string", "out_of_range": "boolean",
    "out_of_range_reason": "string",
}
INPUT_COLUMNS = tuple(INPUT)
REQUIRED_INPUT = tuple(c for c in INPUT if c not in OPTIONAL_INPUT)
OUTPUT_COLUMNS = tuple(OUTPUT)


def spark_type(columns: dict[str, str]) -> str:
    """A Spark DDL struct string, e.g. for mlflow.pyfunc.spark_udf's result_type."""
    return ", ".join(f"{name} {kind}" for name, kind in columns.items())


def in_band(band) -> np.ndarray:
    """Rows in the model's band; a missing band is not in it."""
    return pd.Series(band, dtype="string").eq(BAND).fillna(False).to_numpy(dtype=bool)


def mag_error(flux_over_error) -> np.ndarray:
    """Each epoch's magnitude error from the archive's flux_over_error (1.0857 / S/N); NaN where
    the S/N is missing, not positive or not finite (the epoch then weighs like its star's median)."""
    foe = pd.to_numeric(pd.Series(flux_over_error), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(foe) & (foe > 0), _MAG_PER_FLUX / foe, np.nan)


def epoch_errors(epochs: pd.DataFrame) -> np.ndarray:
    """mag_error of every row of an epoch table; NaN throughout when it has no ERROR column."""
    if ERROR not in epochs.columns:
        return np.full(len(epochs), np.nan)
    return mag_error(epochs[ERROR].to_numpy())


def usable_epochs(epochs: pd.DataFrame) -> np.ndarray:
    """The usable epochs of an epoch table: in the G band, not flagged by the archive, with a time and
    a magnitude (NaN is missing). An infinite value is usable here and judged downstream with a
    reason of its own (an impossible star), never dropped silently."""
    return (in_band(epochs["band"]) & ~epochs[FLAG].to_numpy(dtype=bool)
            & ~np.isnan(epochs["time"].to_numpy(dtype=float))
            & ~np.isnan(epochs["mag"].to_numpy(dtype=float)))


def mag_error_spark(functions):
    """mag_error as a Spark column expression (NaN where flux_over_error is unusable)."""
    col = functions.col
    foe = col(ERROR).cast("double")
    return (functions.when(foe.isNotNull() & ~functions.isnan(foe) & (foe > 0) & (foe < float("inf")),
                           functions.lit(float(_MAG_PER_FLUX)) / foe)
            .otherwise(functions.lit(float("nan"))))


def usable_epochs_spark(functions):
    """usable_epochs as a Spark column expression (`functions` is pyspark.sql.functions)."""
    col = functions.col
    return ((col("band") == BAND) & ~col(FLAG)
            & col("time").isNotNull() & ~functions.isnan("time")
            & col("mag").isNotNull() & ~functions.isnan("mag"))
