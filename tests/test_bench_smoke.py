"""A quick run of the benchmarks (``python bench/run.py --quick``), so that
they never rot. It checks that every item ran and printed its figures, not
that targets were met: figures on a shared CI machine are not a gate."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psutil

from tests.owtserver import REPO


def test_quick_benchmark_prints_every_item():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 110
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    items = [row.split("|")[1].strip() for row in rows[1:]]
    assert sorted(set(items)) == ["1", "2", "3", "4", "5", "6", "7"], done.stdout
    table = "\n".join(rows)
    # Items 1, 2 and 7 measured requests/s side by side, with a ratio.
    assert len(re.findall(r"[\d,]+/s p50 [\d.]+ p99 [\d.]+ ms", table)) >= 8, table
    assert len(re.findall(r"\d+\.\d\d x", table)) >= 4, table
    assert re.search(r"\| 3 .* ms .* ms .* [+-]\d+\.\d\d ms", table), table
    assert re.search(r"\| 4 .*own work, 1 KB \s*\| \d+ us", table), table
    assert re.search(r"\| 5 .* s first, [\d.]+ ms warm", table), table
    assert re.search(r"\| 6 .*MB at start", table), table
    # Every server the run started has been stopped.
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before
