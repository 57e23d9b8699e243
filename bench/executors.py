"""Where adaptors run and where the cache lives, side by side, in one run.

Starts a real local Ray head (token auth, no dashboard) and a real
``redis-server`` on loopback, then one ``owt serve`` after another (never two
at once, so they don't share the CPU) and measures on each:

1. executors: ``inline``, ``process`` (one worker) and ``ray`` (one slot),
   an echo by GET: requests/s under load (``wrk``, 8 connections) and the
   p50/p99 latency of one client calling one request at a time;
2. the response cache: a hit from this process's memory vs from Redis
   (``--cache-url``), the same two figures.

Usage::

    python bench/executors.py            # 5 s per load run
    python bench/executors.py --quick    # a smoke run

It needs owt[ray], owt[redis], ``redis-server`` and ``wrk``.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
import typing as t
from pathlib import Path
from urllib.parse import urlencode

import requests

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from load import wrk  # noqa: E402
from procs import owt_argv  # noqa: E402
from procs import running  # noqa: E402

from tests.rayhead import running_ray_head  # noqa: E402
from tests.redisserver import running_redis  # noqa: E402

ECHO = "def run(name):\n    return f'Hello, {name}!'\n"


def echo_url(base: str, **fields: str) -> str:
    query = {
        "code_b64": base64.b64encode(ECHO.encode()).decode(),
        "kwargs_b64": base64.b64encode(b'{"name": "owt"}').decode(),
        **fields,
    }
    return f"{base}/echo?{urlencode(query)}"


def one_at_a_time(url: str, count: int) -> tuple[float, float]:
    """p50 and p99 in ms of ``count`` sequential GETs of ``url``."""
    timings = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            answer = session.get(url, timeout=30)
            timings.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return statistics.median(timings) * 1000, p99 * 1000


def measure(
    label: str,
    args: t.Sequence[str],
    env: dict[str, str],
    s: argparse.Namespace,
    **fields: str,
) -> dict[str, t.Any]:
    with running(
        owt_argv(*args), probe="/_owt/health", env=env, start_seconds=90
    ) as owt:
        url = echo_url(owt.url, **fields)
        one_at_a_time(url, 20)  # load the code, fill the cache
        p50, p99 = one_at_a_time(url, s.calls)
        load = wrk(url, s.seconds, connections=8)
    return {"case": label, "rps": load.rps, "p50": p50, "p99": p99}


def print_table(rows: list[dict[str, t.Any]], base: dict[str, float]) -> None:
    print("| case | requests/s (8 connections) | one client p50 ms | p99 ms | vs |")
    print("|---|---|---|---|---|")
    for row in rows:
        ratio = row["rps"] / base[row["group"]]
        print(
            f"| {row['case']} | {row['rps']:,.0f}/s | {row['p50']:.2f} | "
            f"{row['p99']:.2f} | {ratio:.2f} x |"
        )


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    s = parser.parse_args(argv)
    if s.quick:
        s.seconds, s.calls = 1.0, 50
    rows = []
    with running_ray_head() as ray_env, running_redis(Path("/tmp")) as redis_server:
        process = ("--executor", "process", "--workers", "1")
        for label, args, env in (
            ("executor inline", (), {}),
            ("executor process (1 worker)", process, {}),
            ("executor ray (1 slot)", ("--executor", "ray", "--slots", "1"), ray_env),
        ):
            rows.append({**measure(label, args, env, s), "group": "executor"})
        for label, args in (
            ("cache hit, memory", ()),
            ("cache hit, Redis", ("--cache-url", redis_server.url)),
        ):
            row = measure(label, args, {}, s, use_cache="1")
            rows.append({**row, "group": "cache"})
    base = {"executor": rows[0]["rps"], "cache": rows[3]["rps"]}
    print(f"owt executors and caches, {time.strftime('%Y-%m-%d')}, one run:")
    print_table(rows, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
