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
        timeout=150,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 150
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    items = [row.split("|")[1].strip() for row in rows[1:]]
    assert sorted(set(items)) == ["1", "2", "3", "4", "5", "6", "7", "8", "9"], (
        done.stdout
    )
    table = "\n".join(rows)
    # Items 1, 2, 7 and 8 measured requests/s side by side, with a ratio.
    assert len(re.findall(r"[\d,]+/s p50 [\d.]+ p99 [\d.]+ ms", table)) >= 14, table
    assert len(re.findall(r"\d+\.\d\d x", table)) >= 7, table
    # Item 2: a cache hit and a pinned path against the plain route.
    assert re.search(r"\| 2 .*cache hit .*ms\s*\| \d+\.\d\d x", table), table
    assert re.search(r"\| 2 .*pinned path .*ms\s*\| \d+\.\d\d x", table), table
    # Item 9: the access log's write calls, and every line there at the stop.
    assert re.search(r"\| 9 .*write calls per request .*\| [+-]\d\.\d{3} ", table), (
        table
    )
    assert re.search(r"\| 9 .*lines written by the stop .*\| yes", table), table
    # Item 1: owt and the plain Flask route answered from the same front.
    assert len(re.findall(r"\| 1 .*echo by (GET|POST).*\(both on \w+\)", table)) == 2
    # Item 8: owt serve's front beside the old one, new/old, by GET and POST.
    for method in ("GET", "POST"):
        old_front = (
            rf"\| 8 .*echo by {method}: owt serve \(\w+\) vs old front \(cheroot\)"
        )
        assert re.search(old_front + r" .*ms\s*\| \d+\.\d\d x", table), table
    assert re.search(r"\| 3 .* ms .* ms .* [+-]\d+\.\d\d ms", table), table
    assert re.search(r"\| 4 .*own work, 1 KB \s*\| \d+ us", table), table
    assert re.search(r"\| 5 .* s first, [\d.]+ ms warm", table), table
    assert re.search(r"\| 6 .*MB at start", table), table
    # Every server the run started has been stopped.
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_executor_benchmark_prints_every_executor_and_cache():
    # A real Ray head and redis-server are started and stopped by the script.
    done = subprocess.run(
        [sys.executable, "bench/executors.py", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = re.findall(
        r"^\| (executor \w+|cache hit, \w+)[^|]* \| ([\d,]+)/s \| ([\d.]+) \| "
        r"([\d.]+) \| (\d+\.\d\d) x \|$",
        done.stdout,
        re.MULTILINE,
    )
    cases = [row[0] for row in rows]
    assert cases == [
        "executor inline",
        "executor process",
        "executor ray",
        "cache hit, memory",
        "cache hit, Redis",
    ], done.stdout
    assert all(int(row[1].replace(",", "")) > 0 for row in rows)


def test_peer_benchmark_lists_its_peers_and_installs_nothing(tmp_path):
    # --list only: the peers' environments are made by bench/peers.py itself
    # when run for real, never by the test command.
    envs = tmp_path / "envs"
    done = subprocess.run(
        [sys.executable, "bench/peers.py", "--list", "--envs", str(envs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for name, pin in (
        ("litserve", "litserve==0.2.19"),
        ("bentoml", "bentoml==1.4.40"),
        ("rayserve", "'ray[serve]==2.60.0'"),
        ("gradio", "gradio==6.31.0"),
    ):
        assert re.search(rf"^  {name}: .* \(not installed\)$", out, re.MULTILINE), out
        # torch pinned in the same pip command, so that a CUDA build can't win.
        pip = f"{envs / name}/bin/python -m pip install {pin} torch==2.13.0 "
        assert pip in out, out
    assert "owt serve --address 127.0.0.1" in out
    assert not envs.exists()
