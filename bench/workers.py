"""What running adaptors in worker processes costs: ``--executor process`` vs inline.

Starts ``owt serve`` twice on free loopback ports, one after the other (never
both at once, so they don't share the CPU), and measures on each:

1. echo by GET under load: requests/s and p50 latency from ``wrk``
   (Debian package ``wrk``; without it a bounded Python load loop is used);
2. echo by GET one request at a time: p50 latency of a single client;
3. a 10 MB response: p50 time for the whole body, and MB/s.

Usage::

    python bench/workers.py                 # 5 s per load run
    python bench/workers.py --seconds 2 --workers 2
    python bench/workers.py --quick         # a smoke run for CI

It prints one table with both executors side by side and their ratio.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path
from urllib.parse import urlencode

import requests

REPO = Path(__file__).resolve().parent.parent

ECHO = "def run(name):\n    return f'Hello, {name}!'\n"
TEN_MB = "def run():\n    return b'x' * (10 * 1024 * 1024)\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def owt_serve(*args: str) -> t.Iterator[str]:
    """Run ``owt serve ARGS`` on a free port; yield its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "owt", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/_owt/health", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"owt serve {args} did not start") from None
                time.sleep(0.05)
        if "process" in args:
            wait_for_workers(url)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_workers(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = requests.get(url + "/_owt/workers", timeout=5).json()["workers"]
        if all(w["state"] == "ready" for w in listed):
            return
        time.sleep(0.05)
    raise RuntimeError("workers did not become ready")


def echo_url(base: str) -> str:
    query = urlencode({"code_b64": b64(ECHO), "kwargs_b64": b64('{"name": "owt"}')})
    return f"{base}/hello?{query}"


def load_with_wrk(url: str, seconds: float, connections: int) -> dict[str, float]:
    """requests/s and p50 (ms) from one wrk run."""
    out = subprocess.run(
        [
            "wrk",
            "--latency",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    assert p50 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return {"rps": rps, "p50_ms": float(p50.group(1)) * scale}


def load_with_python(url: str, seconds: float, connections: int) -> dict[str, float]:
    """The same figures from a bounded thread pool of keep-alive clients."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []

    def client() -> list[float]:
        mine = []
        with requests.Session() as session:
            while time.monotonic() < deadline and len(mine) < 100_000:
                started = time.perf_counter()
                response = session.get(url, timeout=30)
                response.raise_for_status()
                mine.append(time.perf_counter() - started)
        return mine

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        for result in pool.map(lambda _: client(), range(connections)):
            latencies.extend(result)
    elapsed = time.monotonic() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
    }


def sequential_p50_ms(url: str, count: int) -> float:
    """Median latency of ``count`` requests sent one at a time."""
    times = []
    with requests.Session() as session:
        session.get(url, timeout=30).raise_for_status()  # warm
        for _ in range(count):
            started = time.perf_counter()
            session.get(url, timeout=30).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def big_response(base: str, count: int) -> dict[str, float]:
    """p50 seconds for a whole 10 MB body, and the MB/s that gives."""
    url = f"{base}/big?{urlencode({'code_b64': b64(TEN_MB)})}"
    times = []
    with requests.Session() as session:
        first = session.get(url, timeout=60)
        assert len(first.content) == 10 * 1024 * 1024
        for _ in range(count):
            started = time.perf_counter()
            body = session.get(url, timeout=60).content
            times.append(time.perf_counter() - started)
            assert len(body) == 10 * 1024 * 1024
    p50 = statistics.median(times)
    return {"p50_ms": p50 * 1000, "mb_s": 10 / p50}


def measure(args: argparse.Namespace, *serve_args: str) -> dict[str, float]:
    with owt_serve(*serve_args) as base:
        url = echo_url(base)
        load = load_with_wrk if shutil.which("wrk") else load_with_python
        loaded = load(url, args.seconds, args.connections)
        single = sequential_p50_ms(url, args.requests)
        big = big_response(base, args.big)
    return {
        "echo_rps": loaded["rps"],
        "echo_p50_ms": loaded["p50_ms"],
        "echo_single_p50_ms": single,
        "ten_mb_p50_ms": big["p50_ms"],
        "ten_mb_mb_s": big["mb_s"],
    }


ROWS = [
    ("echo GET under load: requests/s", "echo_rps", "{:.0f}"),
    ("echo GET under load: p50 ms", "echo_p50_ms", "{:.2f}"),
    ("echo GET one at a time: p50 ms", "echo_single_p50_ms", "{:.2f}"),
    ("10 MB response: p50 ms", "ten_mb_p50_ms", "{:.1f}"),
    ("10 MB response: MB/s", "ten_mb_mb_s", "{:.0f}"),
]


def table(inline: dict[str, float], process: dict[str, float]) -> str:
    head = ("measure", "inline", "process", "process/inline")
    lines = [
        f"| {head[0]:<34} | {head[1]:>8} | {head[2]:>8} | {head[3]:>14} |",
        f"|{'-' * 36}+{'-' * 10}+{'-' * 10}+{'-' * 16}|",
    ]
    for label, key, fmt in ROWS:
        ratio = process[key] / inline[key] if inline[key] else float("nan")
        lines.append(
            f"| {label:<34} | {fmt.format(inline[key]):>8} | "
            f"{fmt.format(process[key]):>8} | {ratio:>14.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="per load run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300, help="one at a time")
    parser.add_argument("--big", type=int, default=15, help="10 MB responses")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", action="store_true", help="print JSON too")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.requests, args.big = 1, 30, 2
    inline = measure(args)
    process = measure(args, "--executor", "process", "--workers", str(args.workers))
    tool = "wrk" if shutil.which("wrk") else "python load loop"
    print(
        f"owt: --executor process (--workers {args.workers}) vs inline; "
        f"{tool}, {args.connections} connections, {args.seconds:g} s per load run, "
        f"{os.cpu_count()} CPUs"
    )
    print(table(inline, process))
    if args.json:
        print(json.dumps({"inline": inline, "process": process}, indent=2))


if __name__ == "__main__":
    main()
