"""Run generated Python code on test inputs in a sandboxed subprocess, never in-process.

:func:`run_program` starts a fresh interpreter (``python -I``: isolated mode, no user
site-packages, no ``PYTHON*`` variables) in an empty temporary folder, with POSIX resource
limits set before the code starts: address space (``memory_mb``), CPU seconds, no file
writes beyond 64 KiB, no new processes (``RLIMIT_NPROC``; not enforced for root, but a
forked child's report is ignored); a wall-clock
``timeout_s`` kills its whole process group. The code is defined once, then the
``entry_point`` function is called on each test input (a tuple of positional arguments);
each call's outcome is ``("ok", repr(return value))`` or ``("error", exception name)``,
and a program that fails to load, runs out of time or memory gives ``("error", why)`` for
every input. Outcomes travel back as JSON on stdout, after a random marker so that the
program's own prints cannot forge them.

This contains accidents (an infinite loop, a memory blow-up, ``os.remove`` in a scratch
folder) and keeps the code out of lmuq's process; it is not a security boundary against
hostile code (no network or filesystem namespace): run untrusted code in a container.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

__all__ = ["Outcome", "extract_code", "run_program"]

#: One call's result: ("ok", repr of the return value) or ("error", why).
Outcome = tuple[str, str]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)

_HARNESS = r"""
import json, os, resource, sys
marker, entry, mem, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
try:
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
except (AttributeError, ValueError, OSError):
    pass
pid = os.getpid()
payload = json.loads(sys.stdin.read())
out = []
ns = {"__name__": "__lmuq_candidate__"}
try:
    exec(compile(payload["code"], "<candidate>", "exec"), ns)
    fn = ns[entry]
except BaseException as exc:
    out = [["error", "load: " + type(exc).__name__]] * len(payload["inputs"])
else:
    for args in payload["inputs"]:
        try:
            out.append(["ok", repr(fn(*args))])
        except BaseException as exc:
            out.append(["error", type(exc).__name__])
if os.getpid() == pid:  # a forked child of the candidate reports nothing
    sys.stdout.write("\n" + marker + json.dumps(out))
    sys.stdout.flush()
"""


def extract_code(response: str, language: str = "python") -> str:
    """The code in a response: the first fenced block (```` ```python ```` or a bare
    fence), else the whole response."""
    for m in _FENCE.finditer(response):
        if m.group(1).lower() in ("", language.lower(), "py" if language == "python" else ""):
            return m.group(2)
    return response


def run_program(
    code: str,
    inputs: Sequence[Sequence[Any]],
    entry_point: str,
    *,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
) -> list[Outcome]:
    """Outcomes of ``entry_point(*args)`` for each ``args`` in ``inputs`` (JSON-ready
    values), the code run in a sandboxed subprocess (see the module docstring)."""
    if os.name != "posix":
        raise OSError("the code sandbox needs POSIX resource limits (Linux or macOS)")
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    if not entry_point.isidentifier():
        raise ValueError(f"entry_point must be a Python identifier, got {entry_point!r}")
    if timeout_s <= 0 or memory_mb < 16:
        raise ValueError("timeout_s must be > 0 and memory_mb >= 16")
    inputs = [list(a) for a in inputs]
    marker = "@@lmuq-" + secrets.token_hex(16) + "@@"
    payload = json.dumps({"code": code, "inputs": inputs})
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory(prefix="lmuq-sandbox-") as scratch:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _HARNESS,
                marker,
                entry_point,
                str(memory_mb * 1024 * 1024),
                str(max(1, int(timeout_s) + 1)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=scratch,
            env=env,
            start_new_session=True,  # its own process group, killed whole on timeout
            text=True,
        )
        try:
            stdout, _ = proc.communicate(payload, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return [("error", "timeout")] * len(inputs)
    if marker not in stdout:
        why = "killed" if proc.returncode and proc.returncode < 0 else "crashed"
        return [("error", f"{why} (exit {proc.returncode})")] * len(inputs)
    try:
        found = json.loads(stdout.rsplit(marker, 1)[1])
    except ValueError:
        return [("error", "unreadable outcome")] * len(inputs)
    return [(str(k), str(v)) for k, v in found]
