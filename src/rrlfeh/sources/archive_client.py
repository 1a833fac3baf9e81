"""Talk to the Gaia archive: TAP+ queries and DataLink downloads through astroquery, with retries.

astroquery's `astroquery.gaia` module builds a `Gaia = GaiaClass()` object on import, and that
constructor contacts gea.esac.esa.int. So the client here is astroquery's `TapPlus` (the class
GaiaClass extends) set up exactly as GaiaClass sets itself up (tap-server/tap, data-server/data),
and DataLink requests carry the parameters `GaiaClass.load_data` sends. Connections get a socket
time-out (astroquery's own have none), and every request is retried with exponential backoff.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

import pandas as pd

from rrlfeh.config.data import GaiaConfig
from rrlfeh.core.formats import astropy_to_frame
from rrlfeh.core.schema import SchemaError
from rrlfeh.errors import DataError

log = logging.getLogger(__name__)
T = TypeVar("T")
_CLIENT_ERROR = re.compile(r"^Error (4\d\d)\b")  # astroquery's HTTPError text for a 4xx answer


class PermanentError(DataError):
    """A failure that a retry cannot fix (a bad query, a failed TAP job)."""


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


@dataclass
class Retry:
    """Call a function up to 1 + retries times, waiting backoff_s * 2**k after the k-th failure."""

    retries: int
    backoff_s: float
    sleep: Callable[[float], None] = time.sleep
    failures: int = 0  # transient failures seen (reported)

    def __call__(self, fn: Callable[[], T], what: str) -> T:
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except (PermanentError, SchemaError):
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised if unknown
                if not _transient(exc):
                    raise
                last = exc
                self.failures += 1
                if attempt < self.retries:
                    wait = self.backoff_s * 2**attempt
                    log.warning("%s failed (%s); retrying in %.1f s", what, one_line(exc), wait)
                    self.sleep(wait)
        raise DataError(f"{what} failed after {self.retries + 1} tries; last: {one_line(last)}")


def _transient(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.exceptions.HTTPError):
        m = _CLIENT_ERROR.match(str(exc))
        return not m or m.group(1) in ("408", "429")
    return isinstance(
        exc, (OSError, http.client.HTTPException, requests.exceptions.RequestException,
              DataError, ValueError, ExpatError, EOFError)
    )


class _TimeoutConnections:
    """astroquery's connection factory, with a socket time-out."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout

    def get_connection(self, ishttps=False, cookie=None, verbose=False):
        if ishttps or cookie is not None:
            return self.get_connection_secure(verbose)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def get_connection_secure(self, verbose=False):
        return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout)


def _tap_plus(url: str, context: str, timeout: float):
    from astroquery.utils.tap.conn.tapconn import TapConn
    from astroquery.utils.tap.core import TapPlus

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataError(f"archive server {url!r} is not an http(s) URL")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    server_context = f"{parts.path.rstrip('/')}/{context}"
    contexts = dict(server_context=server_context, tap_context="tap", upload_context="Upload",
                    table_edit_context="TableTool", data_context="data",
                    datalink_context="datalink")
    conn = TapConn(https, parts.hostname, port=port, sslport=port,
                   connhandler=_TimeoutConnections(parts.hostname, port, timeout), **contexts)
    return TapPlus(url=url, connhandler=conn, use_names_over_ids=True, **contexts)


class ArchiveClient:
    """The TAP+ and DataLink services of one archive (built lazily: no traffic until used)."""

    def __init__(self, cfg: GaiaConfig):
        self.cfg = cfg
        self.tap = _tap_plus(cfg.tap_server, "tap-server", cfg.timeout_s)
        self.data = _tap_plus(cfg.data_server, "data-server", cfg.timeout_s)

    def query(self, adql: str) -> pd.DataFrame:
        """Run an ADQL query (sync or async job) and return its table."""
        with contextlib.redirect_stdout(io.StringIO()):  # astroquery prints what it raises
            if self.cfg.tap_mode == "sync":
                job = self.tap.launch_job(adql, output_format="votable_gzip")
            else:
                job = self.tap.launch_job_async(adql, output_format="votable_gzip", background=True)
                self._wait(job)
            table = job.get_results()
        return astropy_to_frame(table, f"TAP answer to {adql[:60]}...")

    def _wait(self, job) -> None:
        start, delay = time.monotonic(), 0.2
        while True:
            phase = str(job.get_phase(update=True)).strip().upper()
            if phase == "COMPLETED":
                return
            if phase in ("ERROR", "ABORTED"):
                detail = " ".join(str(job.get_error()).split())[:300] if phase == "ERROR" else ""
                raise PermanentError(f"TAP job {job.jobid} ended {phase} {detail}".strip())
            if time.monotonic() - start > self.cfg.query_timeout_s:
                raise PermanentError(
                    f"TAP job {job.jobid} still {phase} after {self.cfg.query_timeout_s:.0f} s "
                    "(extract.gaia.query_timeout_s)"
                )
            time.sleep(delay)
            delay = min(2 * delay, 10.0)

    def fetch_epoch_zip(self, ids, dest: Path) -> None:
        """DataLink EPOCH_PHOTOMETRY for `ids` (<= 5000), saved as the archive's zip at `dest`."""
        params = {
            "VALID_DATA": "true" if self.cfg.valid_data else "false",
            "ID": ",".join(str(int(i)) for i in ids),
            "RELEASE": self.cfg.data_release,
            "DATA_STRUCTURE": "INDIVIDUAL",
            "FORMAT": self.cfg.datalink_format,
            "RETRIEVAL_TYPE": "EPOCH_PHOTOMETRY",
            "USE_ZIP_ALWAYS": "true",
        }
        with contextlib.redirect_stdout(io.StringIO()):
            self.data.load_data(params_dict=params, output_file=str(dest))


def download(url: str, dest: Path, timeout: float) -> None:
    """Save the document at `url` (a labels catalogue) to `dest`."""
    part = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    part.replace(dest)
