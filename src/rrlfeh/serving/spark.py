"""`rrlfeh predict --engine spark`: the same registered model through mlflow.pyfunc.spark_udf.

The epoch files are first streamed through the project's readers (the same conforming and checks
as the local engine and `extract`) into a Parquet staging folder, whatever their format (CSV,
VOTable, zips of per-source files: formats Spark cannot read). Spark then builds one input row per
star (G transits not rejected_by_variability with a finite magnitude, in time order; period pf for
RRab, p1_o for RRc) and applies the model on its executors. pyspark is an optional extra
(`pip install rrlfeh[spark]`); an active SparkSession is reused, else one is started on
`predict.spark_master`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.serving import PredictConfig
from rrlfeh.core import curve
from rrlfeh.errors import DataError
from rrlfeh.serving import star_rows

RESULT_TYPE = curve.spark_type(curve.OUTPUT)
STAGED_COLUMNS = list(curve.EPOCH_COLUMNS)


def spark_session(master: str):
    """The active SparkSession, or a new one on `master` whose Python workers use this interpreter."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise DataError("--engine spark needs pyspark: pip install 'rrlfeh[spark]'") from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors must see rrlfeh and mlflow
    return (
        SparkSession.builder.master(master).appName("rrlfeh-predict")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def stage_epochs(epoch_paths: list[Path], chunk_stars: int, out_dir: Path, issues: list) -> Path:
    """Conformed epoch photometry (the columns Spark needs) as Parquet parts under out_dir;
    per-source files that cannot be read are appended to `issues`."""
    from rrlfeh.sources.files import iter_epoch_batches

    out_dir.mkdir(parents=True, exist_ok=True)
    for i, epochs in enumerate(iter_epoch_batches(epoch_paths, chunk_stars, issues)):
        epochs[STAGED_COLUMNS].to_parquet(out_dir / f"part-{i:05d}.parquet", index=False)
    return out_dir


def predict_spark(cfg: PredictConfig, model_path: str, config: dict, epoch_paths: list[Path],
                  stars: pd.DataFrame, issues: list | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(predicted rows, rejects, every source_id seen), as serving.predict.predict_local returns;
    the model computes with `config` (its own, with the user's overrides); `issues` gets the epoch
    readers' issues."""
    import mlflow
    from pyspark.sql import functions as F

    spark = spark_session(cfg.spark_master)
    with tempfile.TemporaryDirectory(prefix="rrlfeh-spark-") as tmp:
        issues = [] if issues is None else issues
        staged = stage_epochs(epoch_paths, cfg.chunk_stars, Path(tmp) / "epochs", issues)
        unreadable, unreadable_ids = star_rows.issue_rejects(issues)
        if not any(staged.iterdir()):
            return star_rows.empty_predicted(), unreadable, unreadable_ids
        epochs = spark.read.parquet(str(staged))
        per_star = epochs.groupBy("source_id").count().toPandas()
        seen = per_star["source_id"].to_numpy(dtype="int64")

        clean_g = epochs.filter(curve.usable_epochs_spark(F)).withColumn(
            "mag_error", curve.mag_error_spark(F))
        curves = (
            clean_g.groupBy("source_id")
            .agg(F.sort_array(F.collect_list(F.struct("time", "mag", "mag_error"))).alias("pts"))
            .select("source_id", F.col("pts.time").alias("time"), F.col("pts.mag").alias("mag"),
                    F.col("pts.mag_error").alias("mag_error"))
        )
        catalogue = spark.createDataFrame(stars[["source_id", "type", "period", "epoch_g"]])
        rows = curves.join(catalogue, on="source_id", how="inner").select(*star_rows.MODEL_INPUT)
        model = mlflow.pyfunc.spark_udf(spark, model_path, result_type=RESULT_TYPE,
                                        env_manager="local", model_config=config)
        out = (rows.withColumn("pred", model(*star_rows.MODEL_INPUT))
               .select(F.col("source_id").alias("input_id"), "pred.*")
               .toPandas())

    sent = pd.DataFrame({"source_id": out.pop("input_id").to_numpy(dtype="int64")})
    predicted, model_rejects = star_rows.split_output(sent, out)
    before_model = star_rows.join_rejects(seen, per_star["count"].to_numpy(),
                                          sent["source_id"].to_numpy(), stars)
    return (predicted, star_rows.concat_rejects([before_model, model_rejects, unreadable]),
            np.concatenate([seen, unreadable_ids]))
