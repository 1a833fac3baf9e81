"""Errors the CLI reports as one clear line (no traceback): bad input, bad config, failed checks."""


class RRLFehError(Exception):
    """Base of every error caused by the user's data, params or environment."""


class DataError(RRLFehError, ValueError):
    """Input data that cannot be used (malformed file, archive error page, wrong layout)."""


class ValidationFailed(RRLFehError):
    """A Great Expectations suite failed; the message names expectation, column and source_ids."""
