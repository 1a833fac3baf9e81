"""The serving front's own error boundary: whatever fails behind it, the client gets one line of
strict JSON (a store or disk failure described as the CLI describes it), never uvicorn's
plain-text 500."""

from __future__ import annotations

import asyncio
import errno
import json

import pytest

from rrlfeh.serving.front import Front


def _call(app) -> tuple[int, dict]:
    sent: list[dict] = []
    body = json.dumps({"dataframe_records": [{"source_id": 1}]}).encode()
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/invocations", "method": "POST",
             "headers": [(b"content-type", b"application/json")]}
    asyncio.run(Front(app)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], json.loads(b"".join(m.get("body", b"") for m in sent
                                                if m["type"] == "http.response.body"))


@pytest.mark.parametrize("error,words", [
    (RuntimeError("boom"), "the server failed on this request (RuntimeError)"),
    (OSError(errno.ENOSPC, "No space left on device", "/tmp/x"), "/tmp/x: No space left on device"),
])
def test_a_failure_behind_the_front_is_one_json_line(error, words):
    async def app(scope, receive, send):
        raise error

    status, answer = _call(app)
    assert status == 500 and answer["error_code"] == "INTERNAL_ERROR"
    assert words in answer["message"] and "\n" not in answer["message"]
