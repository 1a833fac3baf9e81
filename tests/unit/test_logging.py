"""Logging is configured once, by the CLI: the package's INFO lines (e.g. the Gaia archive's
progress) reach stderr at the default level, `--log-level` changes it, and errors stay one line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rrlfeh.cli import app
from rrlfeh.runtime import configure_logging

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


@pytest.fixture(autouse=True)
def _restore_level():
    logger = logging.getLogger("rrlfeh")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_info_lines_of_the_package_show(capsys):
    configure_logging("INFO")
    configure_logging("INFO")  # idempotent: one handler, one line per record
    logging.getLogger("rrlfeh.sources.gaia_archive").info("DataLink batch %d/%d (5000 ids): %d rows", 1, 3, 812)
    logging.getLogger("rrlfeh.sources.gaia_archive").debug("not shown")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("INFO rrlfeh.sources.gaia_archive: DataLink batch 1/3 (5000 ids): 812 rows")


def test_log_level_flag(capsys):
    res = CliRunner().invoke(app, ["--log-level", "warning", "rollback", "--help"])
    assert res.exit_code == 0
    assert logging.getLogger("rrlfeh").level == logging.WARNING
    bad = CliRunner().invoke(app, ["--log-level", "loud", "rollback", "--help"])
    assert bad.exit_code == 2 and "log level" in bad.output


@pytest.mark.integration
def test_an_error_is_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "rrlfeh.cli", "validate", "--raw", str(tmp_path / "missing"),
                          "--out", str(tmp_path / "out"), "--params", str(PARAMS)], capture_output=True, text=True, cwd=tmp_path.parent)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rrlfeh: error: ") and "does not exist" in lines[0], res.stderr
