"""A real local Ray head for the tests and benchmarks of ``--executor ray``:
token auth on, no dashboard, stopped (with every Ray process) afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

from tests.owtserver import free_port


@contextlib.contextmanager
def running_ray_head() -> t.Iterator[dict[str, str]]:
    """Start a head; yield the environment an owt front end needs to reach it
    (``OWT_RAY_ADDRESS`` and the cluster's token)."""
    ray = Path(sys.executable).parent / "ray"
    binary = str(ray) if ray.exists() else shutil.which("ray")
    assert binary, "ray is not installed (scripts/test-all.sh installs owt[ray])"
    port = free_port()
    # Short: Ray's Unix sockets live below it, and their paths are bounded.
    workdir = tempfile.mkdtemp(prefix="owt-ray-", dir="/tmp")
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    start = [
        binary, "start", "--head",
        "--port", str(port),
        "--num-cpus", "2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--temp-dir", str(workdir),
    ]  # fmt: skip
    done = subprocess.run(start, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": env["RAY_AUTH_TOKEN"],
            "OWT_RAY_ADDRESS": f"127.0.0.1:{port}",
        }
    finally:
        subprocess.run(
            [binary, "stop", "--force"], env=env, capture_output=True, timeout=120
        )
        shutil.rmtree(workdir, ignore_errors=True)
