"""What a test starts outside its own process: the evidence behind the `integration` marker.

`integration` (pyproject) means the test starts another process (the `rrlfeh` CLI, DVC, MLflow,
a server, Spark's JVM) or a server socket. tests/conftest.py installs this watch once per session
and fails a test that starts one of them without the marker. `git`, which tracking runs to read
the commit of every MLflow run, does not count: it would mark every tracked stage test; nor
does `uname`, which Python's platform module runs when MLflow's system metrics describe the host.
Worker pools (multiprocessing) are not counted either: they are the stage's own processes.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
from pathlib import Path

EXEMPT = {"git", "uname"}
_started: list[str] = []


def _program(args) -> str:
    """The program's file name from Popen's first argument (a command line, a path or an argv)."""
    if isinstance(args, (str, bytes)):
        words = os.fsdecode(args).split()
        first = words[0] if words else ""
    else:
        first = os.fsdecode(args) if isinstance(args, os.PathLike) else os.fsdecode((list(args) or [""])[0])
    return Path(first).name


def _describe(args) -> str:
    words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    return " ".join(os.fsdecode(w) for w in words)[:160]


def install() -> None:
    """Record every subprocess and socket server started from now on (idempotent)."""
    if getattr(subprocess.Popen.__init__, "_watched", False):
        return
    popen_init, server_init = subprocess.Popen.__init__, socketserver.BaseServer.__init__

    def watched_popen(self, args, *a, **kw):
        if _program(args) not in EXEMPT:
            _started.append(f"process: {_describe(args)}")
        return popen_init(self, args, *a, **kw)

    def watched_server(self, server_address, *a, **kw):
        _started.append(f"server: {type(self).__name__} on {server_address}")
        return server_init(self, server_address, *a, **kw)

    watched_popen._watched = True
    subprocess.Popen.__init__ = watched_popen
    socketserver.BaseServer.__init__ = watched_server


def reset() -> None:
    _started.clear()


def started() -> list[str]:
    return list(_started)
