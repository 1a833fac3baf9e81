"""Errors the CLI reports as one clear line (no traceback): bad input, bad config, failed checks,
and the one boundary that turns store, disk and I/O failures from libraries into such a line."""

from __future__ import annotations

import errno


class RRLFehError(Exception):
    """Base of every error caused by the user's data, params or environment."""


class DataError(RRLFehError, ValueError):
    """Input data that cannot be used (malformed file, archive error page, wrong layout)."""


class ValidationFailed(RRLFehError):
    """A Great Expectations suite failed; the message names expectation, column and source_ids."""


class StoreError(RRLFehError):
    """The MLflow store cannot be used: missing, read-only, damaged or unreachable."""


# What to do about an OS error, by errno: the line names the file and this.
_OS_HINTS = {
    errno.ENOSPC: "free some space and run again (outputs already there are kept)",
    errno.EDQUOT: "free some space and run again (outputs already there are kept)",
    errno.EACCES: "check the permissions, or choose another place",
    errno.EPERM: "check the permissions, or choose another place",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.ENOENT: "check the path",
    errno.EIO: "the disk or network file system failed: check it and run again",
}
# What to do about a store error, by what SQLite or the server said.
_STORE_HINTS = (
    ("readonly", "the store is read-only: make the database file and its folder writable, or set "
                 "MLFLOW_TRACKING_URI to a store you can write"),
    ("malformed", "the database file is damaged: restore it from a backup, or move it away "
                  "('dvc repro' then starts a new store)"),
    ("not a database", "the database file is damaged or not an MLflow store: restore it from a "
                       "backup, or move it away ('dvc repro' then starts a new store)"),
    ("unable to open", "the database file cannot be opened: check the path and its permissions"),
    ("locked", "another process holds the store: wait for it and run again"),
    ("disk i/o", "the disk failed while reading the store: check it and run again"),
    ("database or disk is full", "free some space and run again"),
)


def describe(exc: BaseException) -> str | None:
    """One line for a library's store, disk or I/O failure (naming the file or URI and what to do),
    or None for an exception this boundary does not know (a bug: its traceback is kept)."""
    if isinstance(exc, RRLFehError):
        return str(exc)
    module = type(exc).__module__ or ""
    if module.startswith(("mlflow", "sqlalchemy", "alembic")) or _is_sqlite_error(exc):
        return _store_line(exc, _store_uri())
    if isinstance(exc, OSError):
        return _os_line(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: give the command less at once (smaller files or chunks)"
    return None


def _store_uri() -> str:
    """The store MLflow was pointed at (the command set it before the store failed)."""
    try:
        import mlflow

        return mlflow.get_tracking_uri()
    except Exception:  # noqa: BLE001  the line is still useful without it
        return ""


def _is_sqlite_error(exc: BaseException) -> bool:
    import sqlite3

    return isinstance(exc, sqlite3.Error)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _store_line(exc: BaseException, store_uri: str) -> str:
    # SQLAlchemy may put a remark before the database's own words: find the line that has them
    lines = str(getattr(exc, "message", None) or exc).splitlines()
    match = next(((hint, line) for line in lines for key, hint in _STORE_HINTS
                  if key in line.lower()), None)
    where = f"the MLflow store at {store_uri}" if store_uri else "the MLflow store"
    if match is None:
        return f"{where}: {_first_line(exc)}"
    hint, line = match
    return f"{where} cannot be used ({line.strip()[:200]}): {hint}"


def _os_line(exc: OSError) -> str:
    what = exc.strerror or _first_line(exc)
    name = exc.filename if exc.filename is not None else ""
    hint = _OS_HINTS.get(exc.errno or -1)
    line = f"{name}: {what}" if name else what
    return f"{line}: {hint}" if hint else line
