"""``bench/workers.py --quick`` still runs, so the benchmark never rots."""

from __future__ import annotations

import subprocess
import sys

from tests.owtserver import REPO


def test_workers_benchmark_smoke_run_prints_its_table():
    result = subprocess.run(
        [sys.executable, "bench/workers.py", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "process/inline" in result.stdout
    for measure in ("requests/s", "one at a time", "10 MB response"):
        assert measure in result.stdout
