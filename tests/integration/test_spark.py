"""`rrlfeh predict --engine spark`: the registered model through mlflow.pyfunc.spark_udf on a
local[2] Spark, from the same archive files as the local engine, with the same answers."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from rrlfeh.serving.catalogue import read_catalogue, rejects_path
from rrlfeh.serving.predict import run_predict
from tests.support.predict_inputs import ALL_FLAGGED, N_STARS, NO_EPOCHS, ORPHAN, RRD, URI, predict_config

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.integration  # a local Spark starts a JVM


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]").appName("rrlfeh-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.spark
def test_spark_and_local_engines_agree(spark, store, gaia_dir, predicted, tmp_path):
    local_counts, local_out = predicted
    cfg = predict_config(spark_master="local[2]", chunk_stars=9)
    out = tmp_path / "spark.parquet"
    counts = run_predict(cfg, URI, [gaia_dir], out, "spark", progress=False)

    for key in ("stars_in", "stars_predicted", "stars_rejected", "rejected_by_reason", "reconciled"):
        assert counts[key] == local_counts[key], key
    assert counts["engine"] == "spark" and counts["stars_predicted"] == N_STARS

    local, _, _ = read_catalogue(local_out)
    remote, meta, units = read_catalogue(out)
    pd.testing.assert_frame_equal(local, remote, check_dtype=False, atol=1e-5)
    assert units["feh"] == "dex" and meta["model_version"] == store["version"]

    def reasons(path):
        r = pd.read_parquet(rejects_path(path))
        return dict(zip(r["source_id"], r["reason"]))

    assert reasons(out) == reasons(local_out)
    assert {RRD, NO_EPOCHS, ALL_FLAGGED, ORPHAN} <= set(reasons(out))
