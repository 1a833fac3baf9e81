"""A fake Gaia archive on 127.0.0.1 that the real astroquery TAP+ client talks to.

It speaks what astroquery 0.4.11 uses (astroquery/utils/tap/core.py, model/job.py, conn/tapconn.py):
  POST /tap-server/tap/sync                 ADQL -> 200 VOTable (gzip, as the archive sends it)
  POST /tap-server/tap/async                ADQL, PHASE=RUN -> 303 Location: .../async/<jobid>
  GET  /tap-server/tap/async/<id>/phase     EXECUTING for a few polls, then COMPLETED
  GET  /tap-server/tap/async/<id>/results/result   the VOTable
  GET  /tap-server/tap/async/<id>/error     the error text of a failed job
  POST /data-server/data                    DataLink: ID=..., RETRIEVAL_TYPE=EPOCH_PHOTOMETRY,
                                            FORMAT=csv|votable -> zip of per-source files named
                                            "EPOCH_PHOTOMETRY-Gaia DR3 <source_id>.<csv|xml>"
  GET  /files/<name>                        a static file (a labels catalogue)
It evaluates only the ADQL our query builder writes (TOP, source_id IN, best_classification).

Faults, each for a number of upcoming requests (`fault(name, times, after)`; every DataLink
request counts towards each DataLink fault's `after`):
  tap_html          the TAP result is an HTML error page
  datalink_html     the DataLink answer is an HTML error page (status 200, as proxies do)
  datalink_missing  the zip lacks the file of the last id asked for
  datalink_bad_type the first star's file stores source_id as a double
  datalink_truncated the zip is cut in half (Content-Length promises the whole)
  datalink_stall    half the zip is sent, then the server stalls (a client time-out)
"""

from __future__ import annotations

import gzip
import io
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd
from astropy.io.votable import from_table
from astropy.table import Table

EPOCH_COLUMNS = ["solution_id", "source_id", "transit_id", "band", "time", "mag", "flux",
                 "flux_error", "flux_over_error", "rejected_by_photometry",
                 "rejected_by_variability", "other_flags"]
HTML_ERROR = (b"<!DOCTYPE html><html><head><title>Gaia Archive - Service Unavailable</title>"
              b"</head><body><h1>The archive is under maintenance</h1></body></html>")


def votable_bytes(df: pd.DataFrame, binary2: bool = False) -> bytes:
    buf = io.BytesIO()
    from_table(Table.from_pandas(df)).to_xml(buf, tabledata_format="binary2" if binary2 else None)
    return buf.getvalue()


def product_bytes(df: pd.DataFrame, ext: str) -> bytes:
    """One per-source DataLink file, as the archive writes it in each format."""
    if ext == "xml":
        return votable_bytes(df, binary2=True)
    if ext == "csv":
        return df.to_csv(index=False).encode()
    buf = io.BytesIO() if ext == "fits" else io.StringIO()
    Table.from_pandas(df.astype({"band": object})).write(
        buf, format="fits" if ext == "fits" else "ascii.ecsv")
    value = buf.getvalue()
    return value if isinstance(value, bytes) else value.encode()


class FakeGaiaArchive:
    def __init__(self, vari: pd.DataFrame, epochs: pd.DataFrame,
                 files: dict[str, bytes] | None = None, async_polls: int = 2):
        self.vari = vari.sort_values("source_id").reset_index(drop=True)
        self.epochs = epochs
        self.files = files or {}
        self.async_polls = async_polls
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.datalink_ids: list[list[int]] = []  # ids of each DataLink request
        self.queries: list[str] = []
        self._faults: list[list] = []  # [name, times_left, skip_first]
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> "FakeGaiaArchive":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()  # free stalled handlers
        self._server.shutdown()
        self._server.server_close()

    def fault(self, name: str, times: int = 1, after: int = 0) -> None:
        """Inject `name` into `times` matching requests (-1: all), after letting `after` pass."""
        with self._lock:
            self._faults.append([name, times, after])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, prefix: str) -> str | None:
        with self._lock:
            for f in self._faults:
                name, times, after = f
                if not name.startswith(prefix) or times == 0:
                    continue
                if after > 0:
                    f[2] -= 1
                    continue
                f[1] = times - 1 if times > 0 else times
                return name
        return None

    # --- what the archive answers -------------------------------------------------------
    def run_adql(self, query: str) -> pd.DataFrame:
        q = " ".join(query.split())
        m = re.match(r"SELECT (?:TOP (\d+) )?(.*?) FROM .*?(?: WHERE (.*?))?(?: ORDER BY .*)?$", q,
                     re.IGNORECASE)
        if not m:
            raise ValueError(f"fake archive cannot parse: {q[:120]}")
        rows = self.vari
        for cond in re.split(r"\s+AND\s+", m.group(3) or "") if m.group(3) else []:
            cond = cond.strip().strip("()").strip()
            ids = re.match(r"(?:\w+\.)?source_id IN \(([\d, ]+)", cond)
            cls = re.match(r"(?:\w+\.)?best_classification\s*(?:=|IN)\s*\(?([^)]*)\)?", cond)
            if ids:
                rows = rows[rows["source_id"].isin([int(x) for x in ids.group(1).split(",")])]
            elif cls:
                rows = rows[rows["best_classification"].isin(re.findall(r"'(\w+)'", cls.group(1)))]
            else:
                raise ValueError(f"fake archive does not know the condition {cond!r}")
        if m.group(1):
            rows = rows.head(int(m.group(1)))
        columns = [c.split(".")[-1].strip() for c in m.group(2).split(",")]
        return rows[columns].reset_index(drop=True)

    def datalink_zip(self, ids: list[int], fmt: str) -> bytes:
        missing, bad_type = self._take("datalink_missing"), self._take("datalink_bad_type")
        if missing:
            ids = ids[:-1]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, sid in enumerate(ids):
                rows = self.epochs[self.epochs["source_id"] == sid][EPOCH_COLUMNS]
                if not len(rows):
                    continue  # the archive simply has no file for an unknown id
                if bad_type and n == 0:
                    rows = rows.astype({"source_id": "float64"})
                ext = "xml" if fmt.startswith("votable") else fmt
                zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.{ext}",
                            product_bytes(rows.reset_index(drop=True), ext))
        return buf.getvalue()

    def _handler(self):
        archive = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain",
                      headers: dict | None = None, cut: float | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if cut is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: int(len(body) * cut)])
                self.wfile.flush()

            def _form(self) -> dict[str, str]:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n).decode()
                return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

            def _votable(self, df: pd.DataFrame) -> None:
                if archive._take("tap_html"):
                    self._send(200, HTML_ERROR, "text/html")
                    return
                self._send(200, gzip.compress(votable_bytes(df)), "application/x-votable+xml",
                           {"Content-Encoding": "gzip"})

            def do_POST(self):
                path = urlsplit(self.path).path
                archive.requests.append(("POST", path))
                form = self._form()
                if path.endswith("/tap/sync") or path.endswith("/tap/async"):
                    archive.queries.append(form.get("QUERY", ""))
                    try:
                        result = archive.run_adql(form["QUERY"])
                    except (KeyError, ValueError) as exc:
                        self._send(400, f"Error: {exc}".encode())
                        return
                    if path.endswith("/sync"):
                        self._votable(result)
                        return
                    with archive._lock:
                        jobid = f"{1000 + len(archive._jobs)}O"
                        archive._jobs[jobid] = {"result": result, "polls": 0}
                    host, port = self.server.server_address[:2]
                    loc = f"http://{host}:{port}/tap-server/tap/async/{jobid}"
                    self._send(303, b"", headers={"Location": loc})
                elif path.endswith("/data-server/data"):
                    ids = [int(x) for x in form.get("ID", "").split(",") if x.strip()]
                    archive.datalink_ids.append(ids)
                    self._datalink(ids, form.get("FORMAT", "votable"))
                else:
                    self._send(404, b"not found")

            def _datalink(self, ids: list[int], fmt: str) -> None:
                html = archive._take("datalink_html")
                truncated = archive._take("datalink_truncated")
                stall = archive._take("datalink_stall")
                body = archive.datalink_zip(ids, fmt)
                if html:
                    self._send(200, HTML_ERROR, "text/html")
                    return
                headers = {"Content-Disposition": 'attachment;filename="datalink.zip"'}
                if not (truncated or stall):
                    self._send(200, body, "application/zip", headers)
                    return
                self._send(200, body, "application/zip", headers, cut=0.5)
                if stall:
                    archive._release.wait(30)  # the client times out long before

            def do_GET(self):
                path = urlsplit(self.path).path
                archive.requests.append(("GET", path))
                m = re.search(r"/tap/async/([^/]+)(/.*)?$", path)
                if path.startswith("/files/"):
                    name = path[len("/files/"):]
                    if name in archive.files:
                        self._send(200, archive.files[name], "application/octet-stream")
                    else:
                        self._send(404, b"no such file")
                elif m and m.group(1) in archive._jobs:
                    job = archive._jobs[m.group(1)]
                    if m.group(2) == "/phase":
                        job["polls"] += 1
                        done = job["polls"] > archive.async_polls
                        self._send(200, b"COMPLETED" if done else b"EXECUTING")
                    elif m.group(2) == "/results/result":
                        self._votable(job["result"])
                    elif m.group(2) == "/error":
                        self._send(200, b"no error")
                    else:
                        self._send(404, b"unknown job resource")
                elif "notification" in path:
                    self._send(200, b"")
                else:
                    self._send(404, b"not found")

        return Handler

