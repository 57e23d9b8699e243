"""Drive load with ``wrk`` and read back its figures.

``wrk`` (Debian package ``wrk``) keeps connections alive and measures
latency itself; ``load.lua`` turns a run into a POST when given a body file
and prints a JSON summary that :func:`wrk` parses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA = Path(__file__).resolve().parent / "load.lua"


class WrkMissing(RuntimeError):
    """wrk is not installed."""


class LoadFailed(RuntimeError):
    """The load run saw errors: the figures would be meaningless."""


@dataclasses.dataclass
class LoadResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk")
    return path


def wrk(
    url: str,
    seconds: float,
    connections: int = 8,
    threads: int = 1,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> LoadResult:
    """Load ``url`` for ``seconds`` (GET, or POST of ``body``)."""
    env = dict(os.environ)
    body_path = None
    if body is not None:
        fd, body_path = tempfile.mkstemp(prefix="owt-bench-body-")
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        env["BENCH_BODY_FILE"] = body_path
        env["BENCH_CONTENT_TYPE"] = content_type
    argv = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60
        )
    finally:
        if body_path:
            os.unlink(body_path)
    line = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None
    )
    if done.returncode != 0 or line is None:
        raise LoadFailed(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(
        data[k]
        for k in (
            "status_errors",
            "connect_errors",
            "read_errors",
            "write_errors",
            "timeouts",
        )
    )
    secs = data["duration_us"] / 1e6
    return LoadResult(
        requests=data["requests"],
        seconds=secs,
        rps=data["requests"] / secs if secs else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
    )
