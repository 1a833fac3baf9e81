"""Secrets never reach a message: credentials in URIs, tokens in query strings or headers, and
the values of secret environment variables are masked in every error line and log record."""

from __future__ import annotations

import logging
import os
import re

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://)(?P<userinfo>[^/\s@'\"]+)@")
_QUERY = re.compile(r"(?i)(?P<key>[?&;](?:access_?token|token|password|passwd|pwd|secret|api_?key|"
                    r"key|sig|signature|x-amz-signature|x-amz-credential|sas)=)[^&\s'\"]+")
_BEARER = re.compile(r"(?i)\b(?P<key>(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}")
_SECRET_ENV = re.compile(r"(?i)(token|password|passwd|secret|_key$|access_key|credential)")


def _secret_values() -> list[str]:
    """Values of secret-looking environment variables (long enough to be worth masking)."""
    vals = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 6}
    return sorted(vals, key=len, reverse=True)


def redact(text: object) -> str:
    """`text` with every credential it holds replaced by ***."""
    s = str(text)
    for value in _secret_values():
        s = s.replace(value, MASK)
    s = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", s)
    s = _QUERY.sub(lambda m: f"{m['key']}{MASK}", s)
    return _BEARER.sub(lambda m: f"{m['key']}{MASK}", s)


def install_log_redaction() -> None:
    """Every log record of every logger is redacted when it is made (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_rrlfeh_redacts", False):
        return

    def make(*args, **kwargs):
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  a bad format string is logging's own business
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return record

    make._rrlfeh_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
