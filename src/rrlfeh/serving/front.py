"""`rrlfeh serve`: MLflow's own scoring server behind a thin front that keeps the HTTP contract.

The app is `mlflow.pyfunc.scoring_server.init(model)`, what `mlflow models serve` runs, wrapped
in one ASGI middleware on POST /invocations that
  - answers 415 when the Content-Type is missing or not one MLflow reads (MLflow: a 500);
  - answers 413 for a body over `max_body_bytes`, read no further;
  - answers 400 for a body that is not JSON, in one line that never echoes the body (MLflow
    echoes it whole), for JSON nested deeper than `MAX_JSON_DEPTH` (json.loads, ours and
    MLflow's, would raise RecursionError: a plain-text 500), and for a source_id that is not an
    exact integer in 1 .. 2**63-1 (MLflow converts 1.5 to 1 and 2**63 to -2**63 before the model
    sees them);
  - cuts any other error message to `max_error_chars`;
  - writes the bare NaN / Infinity that Python's json module emits for rejected stars' `feh` and
    `feh_std` as JSON null, so every answer parses with a strict JSON parser.
Everything else (the model, /ping, /health, /version, CSV and Parquet bodies) is MLflow's.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rrlfeh.errors import describe
from rrlfeh.redact import redact
from rrlfeh.serving.sanity import SOURCE_ID_MAX

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
# MLflow 3.17 reads only application/vnd.apache.parquet (scoring_server.CONTENT_TYPE_PARQUET);
# clients and older docs also send application/x-parquet, which it answers with a 415
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
# the types MLflow reads, and no other (application/octet-stream, say, is its 415)
ACCEPTED = (*JSON_TYPES, "text/csv", *PARQUET_TYPES)
# a request is ~4 levels deep ({"dataframe_records": [{"time": [...]}]}); far below the ~1000 at
# which json.loads overflows
MAX_JSON_DEPTH = 64
# +1 for an opening bracket, -1 for a closing one, 0 for any other byte
_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]], _STEP[[ord("]"), ord("}")]] = 1, -1
_CHUNK = 1 << 22  # bytes per cumulative sum: bounded memory for a 64 MiB body
# a bare non-finite number after a key (our answers hold no such text inside strings)
_NON_FINITE = re.compile(rb'(?<=": )(?:NaN|-?Infinity)(?=[,}\]])')


def _error(status: int, message: str, code: str = "BAD_REQUEST") -> tuple[int, bytes]:
    return status, json.dumps({"error_code": code, "message": message}).encode()


def _too_deep() -> tuple[int, bytes]:
    return _error(400, f"the body's JSON is nested deeper than {MAX_JSON_DEPTH} levels "
                       "(a request needs at most 4)")


def _records(payload) -> list:
    """The rows of a request in any of MLflow's JSON layouts, as dicts or lists with columns."""
    if not isinstance(payload, dict):
        return []
    if isinstance(payload.get("dataframe_records"), list):
        return [r.get("source_id") for r in payload["dataframe_records"] if isinstance(r, dict)]
    split = payload.get("dataframe_split")
    if isinstance(split, dict) and isinstance(split.get("columns"), list) and "source_id" in split["columns"]:
        k = split["columns"].index("source_id")
        return [r[k] for r in split.get("data") or [] if isinstance(r, list) and len(r) > k]
    for key in ("inputs", "instances"):
        value = payload.get(key)
        if isinstance(value, dict) and isinstance(value.get("source_id"), list):
            return value["source_id"]
        if isinstance(value, list):
            return [r.get("source_id") for r in value if isinstance(r, dict)]
    return []


def bad_source_ids(payload) -> list:
    """source_id values an int64 column cannot hold exactly (what MLflow would silently change)."""
    def ok(v) -> bool:
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v.strip())
        return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v <= SOURCE_ID_MAX
    return [v for v in _records(payload) if v is not None and not ok(v)]


def json_depth(body: bytes) -> int:
    """How deep a JSON text nests arrays and objects (0 for a scalar), without parsing it.

    The most brackets open at once outside string literals: linear numpy work, no recursion and
    no per-byte Python loop, so it runs on a 64 MiB body before any parser can overflow its stack.
    """
    encoding = json.detect_encoding(body)
    if not encoding.startswith("utf-8"):  # UTF-16/32, which json.loads also reads: bytes as UTF-8
        try:
            body = body.decode(encoding).encode()
        except UnicodeError:
            return 0  # not text in that encoding; json.loads refuses it
    # escapes only occur in strings: drop the escaped backslashes (pairwise, left to right, as a
    # lexer does), then the escaped quotes; every quote left opens or closes a string
    codes = np.frombuffer(body.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    deepest = level = quotes = 0
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start:start + _CHUNK]
        inside = np.cumsum(chunk == ord('"'), dtype=np.int64) + quotes  # odd: inside a string
        run = np.cumsum(np.where(inside & 1, 0, _STEP[chunk]), dtype=np.int64) + level
        deepest, level, quotes = max(deepest, int(run.max())), int(run[-1]), int(inside[-1])
    return deepest


def mlflow_content_type(content_type: str) -> str:
    """The Content-Type as MLflow compares it: the media type lower-case (MLflow matches it
    exactly), Parquet in MLflow's spelling, the parameters (charset) kept."""
    mime, sep, params = content_type.partition(";")
    mime = mime.strip().lower()
    return (PARQUET_TYPES[0] if mime in PARQUET_TYPES else mime) + sep + params


def check_request(content_type: str | None, body: bytes, max_body: int) -> tuple[int, bytes] | None:
    """An error answer for a request the front refuses, or None to pass it to MLflow."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in ACCEPTED:
        return _error(415, f"Content-Type must be application/json (or text/csv, "
                           f"{' or '.join(PARQUET_TYPES)}), got {content_type!r}"[:300])
    if len(body) > max_body:
        return _error(413, f"request body over {max_body // 2**20} MiB; send fewer stars per request")
    if mime in JSON_TYPES:
        if json_depth(body) > MAX_JSON_DEPTH:
            return _too_deep()
        try:
            payload = json.loads(body)
        except RecursionError:  # json_depth should have caught it; never a plain-text 500
            return _too_deep()
        except (ValueError, UnicodeDecodeError) as exc:
            where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
            return _error(400, f"the body is not valid JSON{where}: "
                               f"{getattr(exc, 'msg', type(exc).__name__)}")
        bad = bad_source_ids(payload)
        if bad:
            shown = ", ".join(repr(v)[:30] for v in bad[:5])
            return _error(400, f"source_id must be integers in 1 .. 2**63-1; {len(bad)} are not, "
                               f"e.g. {shown}")
    return None


class Front:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app, max_body_bytes: int = 64 * 2**20, max_error_chars: int = 2000):
        self.app, self.max_body, self.max_error = app, int(max_body_bytes), int(max_error_chars)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/invocations" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        try:
            return await self._invocation(scope, receive, send)
        except Exception as exc:  # the front's boundary: one JSON line, never a plain-text 500
            log.exception("request failed in the front")
            line = describe(exc) or (f"the server failed on this request ({type(exc).__name__}); "
                                     "its log has the details")
            return await _answer(send, *_error(500, redact(line)[: self.max_error], "INTERNAL_ERROR"))

    async def _invocation(self, scope, receive, send):
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        ctype = headers.get(b"content-type", b"").decode("latin-1") or None
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            return await _answer(send, *_error(413, f"request body over {self.max_body // 2**20} "
                                                    "MiB; send fewer stars per request"))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return await _answer(send, *_error(413, f"request body over "
                                                        f"{self.max_body // 2**20} MiB"))
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        refused = check_request(ctype, body, self.max_body)
        if refused:
            return await _answer(send, *refused)

        # MLflow reads the type from the scope's headers: hand it the spelling it knows
        scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", [])
                                      if k.lower() != b"content-type"]
                 + [(b"content-type", mlflow_content_type(ctype).encode("latin-1"))]}
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        start, parts = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        status, out = start.get("status", 500), b"".join(parts)
        if status == 200:
            out = _NON_FINITE.sub(b"null", out)
        elif status >= 400:
            out = self._short_error(status, out)
        hdrs = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        hdrs.append((b"content-length", str(len(out)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": out})

    def _short_error(self, status: int, out: bytes) -> bytes:
        """MLflow's error answer with its message cut (it may quote the whole input)."""
        try:
            err = json.loads(out)
            message = str(err.get("message", ""))
            code = str(err.get("error_code", "BAD_REQUEST"))
        except (ValueError, AttributeError, RecursionError):
            message, code = out.decode("utf-8", "replace"), "BAD_REQUEST"
        if len(message) > self.max_error:
            message = message[: self.max_error] + f"... ({len(message)} characters, cut)"
        return json.dumps({"error_code": code, "message": message}).encode()


async def _answer(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def build_app(model_uri: str, max_body_bytes: int, timeout_s: int):
    """The wrapped scoring app for `model_uri` (models:/ URIs resolve against the project store)."""
    import os

    os.environ["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = str(int(timeout_s))
    from mlflow.pyfunc import scoring_server

    from rrlfeh.serving.model_files import fetch_model
    from rrlfeh.tracking import use_store_for_model

    use_store_for_model(model_uri)
    tmp = tempfile.mkdtemp(prefix="rrlfeh-serve-")  # the fetched copy lives as long as the server
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    local = fetch_model(model_uri, Path(tmp))
    model = scoring_server.load_model_with_mlflow_config(local)
    return Front(scoring_server.init(model), max_body_bytes)


def serve(model_uri: str, host: str, port: int, max_body_mb: int = 64, timeout_s: int = 60) -> None:
    import uvicorn

    uvicorn.run(build_app(model_uri, max_body_mb * 2**20, timeout_s), host=host, port=port,
                log_level="info")
