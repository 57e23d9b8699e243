"""Choose owt's default WSGI server by measurement.

``python bench/servers.py [--seconds 4] [--rounds 2] [--servers a,b]``

For each candidate server (see ``candidates.py``) this runs the reference
Flask route and owt's echo adaptor on that server, alternately, ``--rounds``
times, by GET and by POST JSON, with ``wrk``; and it checks what owt's
default must do: stream server-sent events one by one, serve 40 requests in
flight at once, drop a client that never finishes its request headers, and
listen on ``::1``, and refuse a body over the size limit with owt's own 413
before reading it. It prints one table; requests/s are medians over rounds.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import statistics
import sys
import time
import typing as t

import requests
import workloads as w
from load import wrk
from procs import candidate_argv
from procs import running

CONNECTIONS = 8


def measure(server: str, app: str, seconds: float) -> dict[str, float]:
    """GET and POST requests/s (and server CPU per request) of one app."""
    import psutil

    probe = "/_owt/health" if app == "owt" else w.REFERENCE_GET
    with running(candidate_argv(app, server), probe) as proc:
        if app == "owt":
            get_path, post_path, body = w.ECHO_GET, "/hello", w.ECHO_POST
        else:
            get_path, post_path, body = w.REFERENCE_GET, "/hello", w.REFERENCE_POST
        check = requests.get(proc.url + get_path, timeout=10)
        assert check.text == w.EXPECTED, check.text
        check = requests.post(
            proc.url + post_path,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert check.text == w.EXPECTED, check.text
        wrk(proc.url + get_path, 1, CONNECTIONS)  # warm up
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in tree)
        got = wrk(proc.url + get_path, seconds, CONNECTIONS)
        cpu1 = sum(sum(p.cpu_times()[:2]) for p in tree)
        posted = wrk(proc.url + post_path, seconds, CONNECTIONS, body=body)
        if got.errors or posted.errors:
            raise RuntimeError(f"{server}/{app}: errors under load")
        return {
            "get": got.rps,
            "post": posted.rps,
            "cpu_us": (cpu1 - cpu0) / got.requests * 1e6,
        }


def streams_one_by_one(url: str) -> bool:
    """The first SSE event arrives long before the second (0.5 s later)."""
    started = time.perf_counter()
    with requests.get(
        url + w.owt_get_path(w.STREAM, {"pause": 0.5}), stream=True, timeout=10
    ) as r:
        chunks = r.iter_content(chunk_size=None)
        first = next(chunks)
        first_at = time.perf_counter() - started
        rest = b"".join(chunks)
        end_at = time.perf_counter() - started
    return (
        b"first" in first
        and b"second" not in first
        and b"second" in rest
        and first_at < 0.3
        and end_at >= 0.45
    )


def serves_in_parallel(url: str, n: int = 40, seconds: float = 1.0) -> bool:
    """``n`` requests that each sleep ``seconds`` finish in well under n x that."""
    path = w.owt_get_path(w.SLEEPY, {"seconds": seconds})
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        answers = list(
            pool.map(lambda _: requests.get(url + path, timeout=30).text, range(n))
        )
    elapsed = time.perf_counter() - started
    return all(a == "slept" for a in answers) and elapsed < seconds * 3


def drops_silent_client(host: str, port: int, timeout: float) -> bool:
    """A client that sends half a request line is disconnected in time."""
    with socket.create_connection((host, port), timeout=timeout * 4) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.perf_counter()
        try:
            while sock.recv(1024):
                pass
        except (TimeoutError, ConnectionResetError):
            return False
        return time.perf_counter() - started < timeout * 3


def refuses_big_body_unread(host: str, port: int) -> bool:
    """A body announced over the 32 MB limit gets owt's JSON 413 before it is
    sent (a server that buffers bodies first would wait for all of it)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 67108864\r\n\r\n" + b" " * 1024
        )
        try:
            answer = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return False
    return answer.startswith(b"HTTP/1.1 413") and b'"error"' in answer


def check_behaviour(server: str) -> dict[str, bool]:
    """The functional requirements for owt's default server."""
    timeout = 2.0
    env = {"BENCH_HEADER_TIMEOUT": str(timeout)}
    result: dict[str, bool] = {}
    with running(candidate_argv("owt", server), "/_owt/health", env=env) as proc:
        result["streams"] = streams_one_by_one(proc.url)
        result["40 in flight"] = serves_in_parallel(proc.url)
        result["header timeout"] = drops_silent_client("127.0.0.1", proc.port, timeout)
        result["413 unread"] = refuses_big_body_unread("127.0.0.1", proc.port)
    argv = [*candidate_argv("owt", server), "--address", "::1"]
    try:
        with running(argv, "/_owt/health", host="::1", start_seconds=15) as proc:
            result["::1"] = requests.get(proc.url + "/_owt/health").ok
    except RuntimeError:
        result["::1"] = False
    return result


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--servers", default="werkzeug,waitress,cheroot,gunicorn")
    opts = parser.parse_args(argv)
    servers = opts.servers.split(",")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(opts.rounds):
        for server in servers:
            for app in ("reference", "owt"):
                figures = measure(server, app, opts.seconds)
                runs.setdefault((server, app), []).append(figures)
                print(f"round {r + 1} {server:9} {app:9} {figures}", file=sys.stderr)
    header = (
        f"{'server':9} | {'ref GET':>7} | {'owt GET':>7} | {'ratio':>5} | "
        f"{'ref POST':>8} | {'owt POST':>8} | {'ratio':>5} | "
        f"{'ref CPU':>8} | {'owt CPU':>8} | behaviour"
    )
    print(header)
    print("-" * len(header))
    for server in servers:
        ref, own = runs[(server, "reference")], runs[(server, "owt")]

        def med(rows: list[dict[str, float]], key: str) -> float:
            return statistics.median(row[key] for row in rows)

        checks = check_behaviour(server)
        failed = [name for name, ok in checks.items() if not ok]
        print(
            f"{server:9} | {med(ref, 'get'):7.0f} | {med(own, 'get'):7.0f} | "
            f"{med(own, 'get') / med(ref, 'get'):5.2f} | "
            f"{med(ref, 'post'):8.0f} | {med(own, 'post'):8.0f} | "
            f"{med(own, 'post') / med(ref, 'post'):5.2f} | "
            f"{med(ref, 'cpu_us'):6.0f}us | {med(own, 'cpu_us'):6.0f}us | "
            + ("all OK" if not failed else "FAILS " + ", ".join(failed)),
            flush=True,
        )
    print(
        f"\nrequests/s: median of {opts.rounds} rounds of {opts.seconds:g} s, wrk "
        f"{CONNECTIONS} connections; CPU: server CPU time per GET request."
    )


if __name__ == "__main__":
    main()
