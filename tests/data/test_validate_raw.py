"""Stage `validate`: the GX suites pass on good raw tables and stop on each kind of bad input with a
one-line message naming the expectation, the column and the offending source_ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrlfeh.config.data import ValidateConfig
from rrlfeh.core.schema import SchemaError
from rrlfeh.quality.validate import run_validate
from rrlfeh.errors import DataError, ValidationFailed

CFG = ValidateConfig()
ROOT = Path(__file__).resolve().parents[2]


def test_good_tables_pass_with_report_and_data_docs(raw_dir, tmp_path):
    out = tmp_path / "reports"
    summary = run_validate(CFG, raw_dir, out)
    assert summary["success"]
    report = json.loads((out / "raw.json").read_text())
    assert report == json.loads(json.dumps(summary))
    assert set(report["tables"]) == {"vari_rrlyrae", "epoch_photometry", "labels"}
    checks = {(t, e["expectation"], e["column"]) for t, r in report["tables"].items()
              for e in r["expectations"]}
    assert {("vari_rrlyrae", "expect_column_values_to_be_unique", "source_id"),
            ("vari_rrlyrae", "expect_column_values_to_be_between", "n_g_epochs"),
            ("epoch_photometry", "expect_column_values_to_be_in_set", "in_vari_rrlyrae"),
            ("labels", "expect_column_values_to_be_in_set", "in_vari_rrlyrae")} <= checks
    assert report["tables"]["epoch_photometry"]["rows"] > 500
    index = (out / "data_docs" / "index.html").read_text()
    assert "raw.epoch_photometry" in index
    assert len(list((out / "data_docs" / "validations").rglob("*.html"))) == 3


def test_report_is_deterministic(raw_dir, tmp_path):
    # clean depends on raw.json in dvc.yaml: an unchanged result must not change the file
    run_validate(CFG, raw_dir, tmp_path / "a")
    run_validate(CFG, raw_dir, tmp_path / "b")
    assert (tmp_path / "a" / "raw.json").read_bytes() == (tmp_path / "b" / "raw.json").read_bytes()


def test_empty_labels_and_missing_periods_are_valid(raw_tables, write_raw, tmp_path):
    raw_tables["labels"] = raw_tables["labels"].iloc[:0]
    raw_tables["vari_rrlyrae"].loc[0, "pf"] = np.nan  # "where set": clean rejects it per star
    summary = run_validate(CFG, write_raw(raw_tables), tmp_path / "out")
    assert summary["success"] and summary["tables"]["labels"]["rows"] == 0


def _append(df: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, rows], ignore_index=True)


def _set(table: str, sid: int, column: str, value, first_only: bool = True):
    def mutate(t):
        df = t[table]
        rows = df.index[df["source_id"] == sid]
        df.loc[rows[:1] if first_only else rows, column] = value
    return mutate


def _dup(table: str, sid: int):
    def mutate(t):
        df = t[table]
        t[table] = _append(df, df[df["source_id"] == sid].iloc[:1])
    return mutate


def _drop_epochs(sid: int, bands=("G", "BP", "RP")):
    def mutate(t):
        ep = t["epoch_photometry"]
        t["epoch_photometry"] = ep[~((ep["source_id"] == sid) & ep["band"].isin(bands))]
    return mutate


def _orphan(table: str, sid: int):
    def mutate(t):
        df = t[table]
        extra = df[df["source_id"] == 101].copy()
        extra["source_id"] = sid
        t[table] = _append(df, extra)
    return mutate


BETWEEN, IN_SET = "expect_column_values_to_be_between", "expect_column_values_to_be_in_set"
BAD_INPUTS = {
    "duplicate source_id": (_dup("vari_rrlyrae", 102), "expect_column_values_to_be_unique", "source_id", 102),
    "duplicate label": (_dup("labels", 201), "expect_column_values_to_be_unique", "source_id", 201),
    "star without epochs": (_drop_epochs(202), BETWEEN, "n_g_epochs", 202),
    "star without G epochs": (_drop_epochs(104, ("G",)), BETWEEN, "n_g_epochs", 104),
    "negative period": (_set("vari_rrlyrae", 104, "pf", -0.5), BETWEEN, "pf", 104),
    "period too long": (_set("vari_rrlyrae", 201, "p1_o", 1.5), BETWEEN, "p1_o", 201),
    "unknown band": (_set("epoch_photometry", 101, "band", "Z"), IN_SET, "band", 101),
    "missing band": (_set("epoch_photometry", 102, "band", pd.NA), "expect_column_values_to_not_be_null",
                     "band", 102),
    "label of a star not in vari": (_orphan("labels", 999), IN_SET, "in_vari_rrlyrae", 999),
    "epochs of a star not in vari": (_orphan("epoch_photometry", 998), IN_SET, "in_vari_rrlyrae", 998),
    "time outside DR3": (_set("epoch_photometry", 102, "time", 1200.0), BETWEEN, "time", 102),
    "magnitude out of range": (_set("epoch_photometry", 103, "mag", 35.0), BETWEEN, "mag", 103),
    "non-positive flux error": (_set("epoch_photometry", 103, "flux_error", -1.0), BETWEEN,
                                "flux_error", 103),
    "unphysical [Fe/H]": (_set("labels", 203, "feh", -7.0), BETWEEN, "feh", 203),
    "zero [Fe/H] error": (_set("labels", 101, "feh_error", 0.0), BETWEEN, "feh_error", 101),
    "unknown classification": (_set("vari_rrlyrae", 301, "best_classification", "CEP"), IN_SET,
                               "best_classification", 301),
    "missing classification": (_set("vari_rrlyrae", 301, "best_classification", pd.NA),
                               "expect_column_values_to_not_be_null", "best_classification", 301),
    "negative amplitude": (_set("vari_rrlyrae", 202, "peak_to_peak_g", -0.1), BETWEEN,
                           "peak_to_peak_g", 202),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_fails_with_a_clear_message(case, raw_tables, write_raw, tmp_path):
    mutate, expectation, column, sid = BAD_INPUTS[case]
    mutate(raw_tables)
    out = tmp_path / "out"
    with pytest.raises(ValidationFailed) as err:
        run_validate(CFG, write_raw(raw_tables), out)
    message = str(err.value)
    assert "\n" not in message
    assert expectation in message and f"'{column}'" in message and f"source_id [{sid}]" in message
    assert str(out / "raw.json") in message
    # the report is written before raising, with the same offender
    report = json.loads((out / "raw.json").read_text())
    failed = [e for r in report["tables"].values() for e in r["expectations"] if not e["success"]]
    assert report["success"] is False
    assert [(e["expectation"], e["column"]) for e in failed] == [(expectation, column)]
    assert failed[0]["example_source_ids"] == [sid]


def test_message_names_at_most_five_stars(raw_tables, write_raw, tmp_path):
    raw_tables["vari_rrlyrae"]["ra"] = 400.0
    with pytest.raises(ValidationFailed, match=r"'ra'.*failed for 9 of 9 rows") as err:
        run_validate(CFG, write_raw(raw_tables), tmp_path / "out")
    assert "source_id [101, 102, 103, 104, 201]" in str(err.value)


def test_ranges_come_from_params(raw_tables, write_raw, tmp_path):
    raw_dir = write_raw(raw_tables)
    narrow = ValidateConfig(period_min=0.2, period_max=0.5)
    with pytest.raises(ValidationFailed, match=r"'pf'.*source_id \[101, 102, 103\]"):
        run_validate(narrow, raw_dir, tmp_path / "out")


def test_unreadable_parquet_is_a_clear_data_error(raw_tables, write_raw, tmp_path):
    truncated = write_raw(raw_tables, "truncated") / "epoch_photometry.parquet"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    with pytest.raises(SchemaError, match=r"epoch_photometry: .*not a readable Parquet file"):
        run_validate(CFG, truncated.parent, tmp_path / "out")
    malformed = write_raw(raw_tables, "malformed") / "labels.parquet"
    malformed.write_text("source_id,feh\n1,-1.5\n")  # CSV under a .parquet name
    with pytest.raises(DataError, match=r"labels: .*not a readable Parquet file"):
        run_validate(CFG, malformed.parent, tmp_path / "out")


def test_missing_file_and_missing_column(raw_tables, write_raw, tmp_path):
    raw_dir = write_raw(raw_tables)
    (raw_dir / "labels.parquet").unlink()
    with pytest.raises(SchemaError, match=r"labels: file .*labels.parquet does not exist"):
        run_validate(CFG, raw_dir, tmp_path / "out")
    raw_tables["epoch_photometry"].drop(columns="band").to_parquet(raw_dir / "epoch_photometry.parquet")
    with pytest.raises(SchemaError, match=r"epoch_photometry: missing required column\(s\) \['band'\]"):
        run_validate(CFG, raw_dir, tmp_path / "out")


# Runs the real CLI in a fresh interpreter with every non-loopback connection and DNS lookup
# refused and recorded, GX analytics explicitly requested by the environment. It runs from a file:
# under `python -c`, importing GX imports pyspark, which then exits 0 thinking it runs doctests.
GUARD = """
import json, socket, sys
attempts = []
LOCAL = ("127.0.0.1", "::1", "localhost")
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, address):
    if self.family != socket.AF_UNIX and address[0] not in LOCAL:
        attempts.append(repr(address)); raise OSError("network blocked by test")
    return _connect(self, address)
def getaddrinfo(host, *args, **kw):
    if host not in LOCAL and host is not None:
        attempts.append(repr(host)); raise OSError("dns blocked by test")
    return _getaddrinfo(host, *args, **kw)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
import atexit
atexit.register(lambda: print("NETWORK_ATTEMPTS=" + json.dumps(attempts), file=sys.stderr))
sys.argv = ["rrlfeh"] + sys.argv[1:]
from rrlfeh.cli import main
main()
"""


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "guarded_cli.py"
    script.write_text(GUARD)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "true"}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.mark.integration
def test_cli_fails_with_one_line_and_nothing_leaves_the_machine(raw_tables, write_raw, tmp_path):
    good = _cli(tmp_path, "validate", "--raw", str(write_raw(raw_tables, "good")),
                "--out", str(tmp_path / "ok"))
    assert good.returncode == 0, good.stderr
    assert "NETWORK_ATTEMPTS=[]" in good.stderr
    assert (tmp_path / "ok" / "data_docs" / "index.html").exists()

    _dup("vari_rrlyrae", 102)(raw_tables)
    bad = _cli(tmp_path, "validate", "--raw", str(write_raw(raw_tables, "bad")),
               "--out", str(tmp_path / "ko"))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and "NETWORK_ATTEMPTS=[]" in bad.stderr
    errors = [line for line in bad.stderr.splitlines() if line.startswith("rrlfeh: error:")]
    assert len(errors) == 1
    assert "expect_column_values_to_be_unique on 'source_id'" in errors[0]
    assert "source_id [102]" in errors[0]


def test_an_empty_catalogue_fails(raw_tables, write_raw, tmp_path):
    empty = {name: df.iloc[:0] for name, df in raw_tables.items()}
    with pytest.raises(ValidationFailed,
                       match=r"vari_rrlyrae: expect_table_row_count_to_be_between .*at least one star"
                             r"\) failed: observed 0"):
        run_validate(CFG, write_raw(empty), tmp_path / "out")


def test_stars_without_epochs_can_be_tolerated_by_params(raw_tables, write_raw, tmp_path):
    _drop_epochs(202)(raw_tables)
    raw_dir = write_raw(raw_tables)
    with pytest.raises(ValidationFailed, match=r"'n_g_epochs'.*source_id \[202\]"):
        run_validate(CFG, raw_dir, tmp_path / "strict")
    tolerant = ValidateConfig(min_fraction_with_g_epochs=0.8)  # 8 of 9 stars have epochs
    assert run_validate(tolerant, raw_dir, tmp_path / "tolerant")["success"]


def test_a_stars_duplicated_transits_are_left_to_clean(raw_tables, write_raw, tmp_path):
    """A repeated or conflicting transit is one star's problem: clean drops the exact repeat and
    rejects the conflicting star with its reason (duplicate_transits); the table passes."""
    _dup("epoch_photometry", 203)(raw_tables)
    assert run_validate(CFG, write_raw(raw_tables), tmp_path / "out")["success"]
