"""Start a real ``owt serve`` on a free loopback port, for black-box tests.

Usage::

    with running_owt("--auth", "me:" + sha) as server:
        requests.get(server.url + "/_owt/health")

and the ``owt_server`` fixture in ``conftest.py`` for the default options.
Helpers to build requests live here too, so tests read as what a client sends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def fields(code: str, kwargs: t.Any = None, **extra: t.Any) -> dict[str, t.Any]:
    """Protocol fields for ``code`` and ``kwargs`` (JSON-encoded), plus extras."""
    out: dict[str, t.Any] = {"code_b64": b64(code)}
    if kwargs is not None:
        out["kwargs_b64"] = b64(json.dumps(kwargs))
    out.update(extra)
    return out


class OwtProcess:
    """A running ``owt serve`` subprocess."""

    def __init__(self, proc: subprocess.Popen[str], port: int, host: str) -> None:
        self.proc = proc
        self.port = port
        self.host = host
        self.url = f"http://{host}:{port}"
        self._log_path: Path | None = None

    def post(self, code: str, kwargs: t.Any = None, path: str = "/", **kw: t.Any):
        """POST JSON with ``code`` and ``kwargs`` (plus extra fields)."""
        return self._send("POST", "json", code, kwargs, path, kw)

    def get(self, code: str, kwargs: t.Any = None, path: str = "/", **kw: t.Any):
        """GET with ``code`` and ``kwargs`` in the query string."""
        return self._send("GET", "params", code, kwargs, path, kw)

    def _send(self, method, where, code, kwargs, path, kw):
        """Send the protocol fields; ``timeout``, ``headers`` and ``stream``
        in ``kw`` go to requests, everything else is a field."""
        options = {
            "timeout": kw.pop("timeout", 30),
            "headers": kw.pop("headers", None),
            "stream": kw.pop("stream", False),
        }
        payload = {where: fields(code, kwargs, **kw)}
        return requests.request(method, self.url + path, **payload, **options)

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        if self._log_path is None:
            return ""
        return self._log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, seconds: float = 5) -> str:
        """The output once it holds ``text`` (or after ``seconds``): access
        log lines are written a moment after their response, in batches."""
        deadline = time.monotonic() + seconds
        output = self.output()
        while text not in output and time.monotonic() < deadline:
            time.sleep(0.02)
            output = self.output()
        return output

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Stop the server and every process it started."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def wait_until_up(url: str, proc: subprocess.Popen[str] | None, seconds: float) -> None:
    """Poll ``/_owt/health`` until it answers (any status) or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"owt exited early with code {proc.returncode}")
        try:
            requests.get(url + "/_owt/health", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"owt did not answer at {url} within {seconds} s")


@contextlib.contextmanager
def running_owt(
    *args: str,
    port: int | None = None,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_dir: Path | None = None,
    start_seconds: float = 20,
) -> t.Iterator[OwtProcess]:
    """Run ``python -m owt serve`` with ``args`` until the block ends."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    for name in ("OWT_ADDRESS", "OWT_PORT", "OWT_AUTH"):
        if env is None or name not in env:
            full_env.pop(name, None)
    log_dir = log_dir or Path(os.environ.get("OWT_TEST_LOGS", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"owt-test-{port}.log"
    log = log_path.open("w")
    cmd = [sys.executable, "-m", "owt", "serve", "--port", str(port)]
    if "--address" not in args:
        cmd += ["--address", host]
    proc = subprocess.Popen(
        [*cmd, *args],
        cwd=str(cwd or REPO),
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = OwtProcess(proc, port, "[::1]" if host == "::1" else host)
    server._log_path = log_path
    try:
        wait_until_up(server.url, proc, start_seconds)
        yield server
    finally:
        server.stop()
        log.close()
