"""Start and stop the servers the benchmarks measure.

Every server runs in a process group of its own on 127.0.0.1 and is stopped
(SIGTERM, then SIGKILL) when its ``with`` block ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """A server subprocess listening on ``url``."""

    def __init__(
        self, popen: subprocess.Popen[bytes], port: int, log: Path, host: str
    ) -> None:
        self.popen = popen
        self.port = port
        self.host = host
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self, children: bool = False) -> float:
        """Resident memory of the server process (and its children), in MiB."""
        import psutil

        proc = psutil.Process(self.pid)
        procs = [proc, *proc.children(recursive=True)] if children else [proc]
        return sum(p.memory_info().rss for p in procs) / 2**20

    def write_calls(self) -> int:
        """Write system calls made so far by the server process and its
        children (Linux's ``/proc/PID/io`` ``syscw``, through psutil)."""
        import psutil

        proc = psutil.Process(self.pid)
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.io_counters().write_count
        return total

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (gunicorn workers...) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@contextlib.contextmanager
def running(
    argv: list[str],
    probe: str = "/",
    start_seconds: float = 30.0,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    repo: Path = REPO,
) -> t.Iterator[Proc]:
    """Run ``argv`` (which gets ``--port P`` appended) until the block ends.

    Ready once ``probe`` answers with any HTTP status. ``host`` is where the
    server listens (``argv`` says so itself); ``env`` adds variables;
    ``repo`` is the owt checkout it runs from (another commit's worktree).
    """
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="owt-bench-", suffix=".log")[1])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(BENCH), str(repo), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    for name in ("OWT_ADDRESS", "OWT_PORT", "OWT_AUTH"):
        env.pop(name, None)
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=str(repo),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc = Proc(popen, port, log, host)
    try:
        _wait_until_up(proc, probe, start_seconds)
        yield proc
    finally:
        proc.stop()
        with contextlib.suppress(OSError):
            log.unlink()


def _wait_until_up(proc: Proc, probe: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"server exited early ({proc.popen.returncode}):\n{proc.output()}"
            )
        try:
            requests.get(proc.url + probe, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer within {seconds} s:\n{proc.output()}")


def owt_argv(*extra: str) -> list[str]:
    """``owt serve`` on loopback, with ``extra`` options."""
    return [PYTHON, "-m", "owt", "serve", "--address", "127.0.0.1", *extra]


def reference_argv() -> list[str]:
    """The reference Flask app on the same server as owt."""
    return [PYTHON, str(BENCH / "reference.py")]


def candidate_argv(app: str, server: str, workers: int = 1) -> list[str]:
    """``app`` (owt or reference) on candidate server ``server``."""
    return [
        PYTHON,
        str(BENCH / "candidates.py"),
        "--app",
        app,
        "--server",
        server,
        "--workers",
        str(workers),
    ]
