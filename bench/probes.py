"""Measurements that a load generator can't make: first bytes, warm-up, memory."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
import typing as t

import workloads as w


def time_to_first_event(host: str, port: int, path: str, samples: int) -> list[float]:
    """Seconds from sending a GET for ``path`` to receiving its first event.

    Each sample opens a connection, sends the request, reads until the
    stream's first event (``data: first``) has arrived, and hangs up.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    times = []
    for _ in range(samples):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            started = time.perf_counter()
            sock.sendall(request)
            received = b""
            while b"data: first" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError(f"the stream ended early: {received!r}")
                received += chunk
            times.append(time.perf_counter() - started)
            if b"data: second" in received:
                raise RuntimeError(
                    "both events arrived together: the stream is buffered"
                )
    return times


def warm_calls(
    url: str, code: str, kwargs: object, later: int
) -> tuple[float, list[float]]:
    """Seconds for the first call of ``code``, and for ``later`` calls after it."""
    body = json.dumps(w.owt_fields(code, kwargs))

    def call() -> float:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(url.split("//", 1)[1], timeout=600)
        try:
            conn.request("POST", "/embed", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(
                f"embedding call failed: {response.status} {data[:500]!r}"
            )
        return time.perf_counter() - started

    first = call()
    return first, [call() for _ in range(later)]


def distinct_code_rss(
    url: str,
    rss_mb: t.Callable[[], float],
    requests: int,
    checkpoints: int = 10,
) -> list[tuple[int, float]]:
    """Send ``requests`` calls, each with code of its own; RSS at checkpoints.

    Each adaptor carries a 2 KB constant, so that keeping them all would
    show: ``requests`` of them would take tens of megabytes.
    """
    host = url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    padding = "p" * 2048
    points = [(0, rss_mb())]
    step = max(1, requests // checkpoints)
    try:
        for i in range(1, requests + 1):
            code = f"PAD = {padding!r}\n\ndef run():\n    return {i} + len(PAD)\n"
            body = json.dumps({"code": code})
            conn.request("POST", "/rss", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            if response.status != 200 or int(data) != i + len(padding):
                raise RuntimeError(
                    f"request {i} failed: {response.status} {data[:200]!r}"
                )
            if i % step == 0:
                points.append((i, rss_mb()))
    finally:
        conn.close()
    return points


def median_ms(seconds: t.Sequence[float]) -> float:
    return statistics.median(seconds) * 1000
