"""Choose owt's HTTP front by measurement.

``python bench/servers.py [--seconds 4] [--rounds 2] [--servers a,b]``

Rows: ``owt-serve`` (``owt serve`` itself, the shipped front: granian with
owt's ASGI bridge, ``owt.front``; its plain route is ``reference.py`` on
``owt.serving.serve``) and each candidate server of ``candidates.py``
(``granian``'s own WSGI interface, ``cheroot``, owt's previous front,
``waitress``, ``gunicorn``, ``werkzeug``). For each, this
runs the reference Flask route and owt's echo adaptor on that server,
alternately, ``--rounds`` times, by GET and by POST JSON, with ``wrk``, and
prints them side by side with the ratio owt/plain. Then it checks, on owt's
app:

- behaviour owt needs: stream server-sent events one by one, serve 40
  requests in flight at once, drop a client that never finishes its request
  headers, refuse a body over the size limit with owt's own 413 before
  reading it, listen on ``::1``;
- abuse: while 200 idle, 50 slow-header and 10 slow-body connections are
  held open, how many of 10 echo requests answer within 1 s each; what a
  50 MB header line gets (status) and how much the server's memory grows
  (peak RSS of its process tree); how long the server takes to exit on a
  SIGTERM sent to its main process while a 20 s stream is running.

It prints one table; requests/s are medians over rounds. A full run of the
six rows takes about 10 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import typing as t

import requests
import workloads as w
from load import wrk
from procs import PYTHON
from procs import Proc
from procs import candidate_argv
from procs import owt_argv
from procs import reference_argv
from procs import running

CONNECTIONS = 8
#: ``owt serve`` itself; every other row is a candidate of candidates.py.
SHIPPED = "owt-serve"
SERVERS = (SHIPPED, "granian", "cheroot", "waitress", "gunicorn", "werkzeug")

IDLE, SLOW_HEADER, SLOW_BODY, PROBES = 200, 50, 10, 10
PROBE_SECONDS = 1.0
BIG_HEADER_BYTES = 50 * 2**20
STREAM_SECONDS = 20.0
STOP_WAIT_SECONDS = 25.0


def server_argv(server: str, app: str, *extra: str) -> list[str]:
    """``app`` (owt or reference) on ``server`` (a candidate or owt-serve)."""
    if server != SHIPPED:
        return [*candidate_argv(app, server), *extra]
    if app == "owt":
        return owt_argv(*extra)
    return [*reference_argv(), *extra]


def header_timeout_argv(
    server: str, seconds: float
) -> tuple[list[str], dict[str, str]]:
    """Extra argv and environment giving ``server`` a header timeout."""
    if server == SHIPPED:
        return ["--header-timeout", f"{seconds:g}"], {}
    return [], {"BENCH_HEADER_TIMEOUT": f"{seconds:g}"}


def measure(server: str, app: str, seconds: float) -> dict[str, float]:
    """GET and POST requests/s (and server CPU per request) of one app."""
    import psutil

    probe = "/_owt/health" if app == "owt" else w.REFERENCE_GET
    with running(server_argv(server, app), probe) as proc:
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


def read_response(sock: socket.socket) -> bytes:
    """One response's head and its ``Content-Length`` body, or what came
    before the connection closed or went quiet (its timeout)."""
    received = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        received = head + b"\r\n\r\n" + body
    return received


def refuses_big_body_unread(host: str, port: int) -> bool:
    """A body announced over the 32 MB limit gets owt's JSON 413 before it is
    sent (a server that buffers bodies first would wait for all of it)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 67108864\r\n\r\n" + b" " * 1024
        )
        answer = read_response(sock)
    return answer.startswith(b"HTTP/1.1 413") and b'"error"' in answer


def check_behaviour(server: str) -> dict[str, bool]:
    """The functional requirements for owt's front."""
    timeout = 2.0
    extra, env = header_timeout_argv(server, timeout)
    result: dict[str, bool] = {}
    argv = server_argv(server, "owt", *extra)
    with running(argv, "/_owt/health", env=env) as proc:
        result["streams"] = streams_one_by_one(proc.url)
        result["40 in flight"] = serves_in_parallel(proc.url)
        result["header timeout"] = drops_silent_client("127.0.0.1", proc.port, timeout)
        result["413 unread"] = refuses_big_body_unread("127.0.0.1", proc.port)
    if server == SHIPPED:
        argv = [PYTHON, "-m", "owt", "serve", "--address", "::1"]
    else:
        argv = [*candidate_argv("owt", server), "--address", "::1"]
    try:
        with running(argv, "/_owt/health", host="::1", start_seconds=15) as proc:
            result["::1"] = requests.get(proc.url + "/_owt/health").ok
    except RuntimeError:
        result["::1"] = False
    return result


class HeldConnections:
    """Idle, slow-header and slow-body connections to ``port``, held open.

    Connections are opened without blocking (a server that accepts slowly
    leaves them in the kernel's queue); a thread sends each slow one a byte
    every half second, after its first part (a request line and part of the
    headers; or complete headers announcing a 1 MB JSON body, and ``{``).
    """

    TICK = 0.5

    def __init__(self, port: int, idle: int, slow_header: int, slow_body: int):
        header = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        body = (
            b"POST /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
        )
        self.port = port
        self.socks: list[tuple[socket.socket, bytes | None, bytes]] = []
        kinds = [(None, b"")] * idle
        kinds += [(header, b"a")] * slow_header + [(body, b" ")] * slow_body
        for first, trickle in kinds:
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            self.socks.append((sock, first, trickle))
        self._started: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def connected(self, seconds: float) -> int:
        """Wait up to ``seconds`` for connections to be established; how many."""
        pending = {sock for sock, _, _ in self.socks}
        with selectors.DefaultSelector() as sel:
            for sock in pending:
                sel.register(sock, selectors.EVENT_WRITE)
            deadline = time.monotonic() + seconds
            up = 0
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                    sock = t.cast(socket.socket, key.fileobj)
                    sel.unregister(sock)
                    pending.discard(sock)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        up += 1
        return up

    def _trickle(self) -> None:
        while not self._stop.is_set():
            for sock, first, trickle in self.socks:
                if first is None:
                    continue
                with contextlib.suppress(OSError):
                    if sock.fileno() not in self._started:
                        sock.send(first)
                        self._started.add(sock.fileno())
                    else:
                        sock.send(trickle)
            self._stop.wait(self.TICK)

    def __enter__(self) -> HeldConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock, _, _ in self.socks:
            sock.close()


def echo_within(port: int, seconds: float) -> bool:
    """A new connection's echo GET answers ``Hello, owt!`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    request = f"GET {w.ECHO_GET} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
            sock.sendall(request)
            received = b""
            while w.EXPECTED.encode() not in received:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    return False
                received += chunk
    except OSError:
        return False
    return time.monotonic() <= deadline and received.startswith(b"HTTP/1.1 200")


def echo_while_held(proc: Proc) -> tuple[int, int]:
    """Echo requests answered in time while abusive connections are held; and
    how many of those connections were established."""
    with HeldConnections(proc.port, IDLE, SLOW_HEADER, SLOW_BODY) as held:
        up = held.connected(3.0)
        time.sleep(1.0)  # every slow connection has sent its first part
        answered = sum(echo_within(proc.port, PROBE_SECONDS) for _ in range(PROBES))
    return answered, up


def big_header(proc: Proc) -> tuple[str, float]:
    """What a request with a 50 MB header line gets, and the server's peak RSS
    growth (MiB, its whole process tree) meanwhile."""
    before = proc.rss_mb(children=True)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(Exception):
                peak = max(peak, proc.rss_mb(children=True))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    request = (
        f"GET {w.ECHO_GET} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".encode()
        + b"a" * BIG_HEADER_BYTES
        + b"\r\n\r\n"
    )
    status = ""
    try:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as sock:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused part-way: its answer may be waiting
            except TimeoutError:
                status = "stalled"  # stopped reading, kept the connection
            try:
                answer = sock.recv(4096)
                line = answer.split(b"\r\n", 1)[0].decode("latin-1")
                parts = line.split(" ")
                status = parts[1] if len(parts) > 1 else status or "closed"
            except ConnectionResetError:
                status = status or "reset"
            except TimeoutError:
                status = status or "no answer"
    except OSError as e:
        status = f"error {e.errno}"
    time.sleep(0.5)  # let the sampler see what it settles at
    done.set()
    sampler.join()
    if proc.popen.poll() is not None:
        status += " (server died)"
    return status, peak - before


def stop_during_stream(server: str) -> str:
    """Seconds from SIGTERM (to the main process only) to its exit, sent once
    a 20 s stream has sent its first event."""
    path = w.owt_get_path(w.STREAM, {"pause": STREAM_SECONDS})
    with running(server_argv(server, "owt"), "/_owt/health") as proc:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            received = b""
            with contextlib.suppress(OSError):
                while b"data: first" not in received:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            started = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                return f"> {STOP_WAIT_SECONDS:g} s"
            return f"{time.monotonic() - started:.1f} s"


def check_abuse(server: str) -> dict[str, str]:
    """The abuse columns for owt's app on ``server`` (with its header timeout
    as set up for the load runs: 30 s for candidates, 10 s for owt serve)."""
    result: dict[str, str] = {}
    with running(server_argv(server, "owt"), "/_owt/health") as proc:
        answered, up = echo_while_held(proc)
        total = IDLE + SLOW_HEADER + SLOW_BODY
        result["held"] = f"{answered}/{PROBES}" + (
            f" ({up}/{total} held)" if up < total else ""
        )
        status, growth = big_header(proc)
        result["big"] = status
        result["rss"] = f"{growth:+.0f} MB"
    result["stop"] = stop_during_stream(server)
    return result


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"from {', '.join(SERVERS)}"
    )
    opts = parser.parse_args(argv)
    servers = opts.servers.split(",")
    unknown = set(servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(opts.rounds):
        for server in servers:
            for app in ("reference", "owt"):
                figures = measure(server, app, opts.seconds)
                runs.setdefault((server, app), []).append(figures)
                print(f"round {r + 1} {server:9} {app:9} {figures}", file=sys.stderr)
    header = (
        f"{'server':9} | {'plain GET':>9} | {'owt GET':>7} | {'owt/plain':>9} | "
        f"{'plain POST':>10} | {'owt POST':>8} | {'owt/plain':>9} | "
        f"{'plain CPU':>9} | {'owt CPU':>7} | "
        f"{'held: echo<1s':>13} | {'50MB header':>11} | {'RSS':>7} | "
        f"{'SIGTERM':>7} | behaviour"
    )
    print(header)
    print("-" * len(header))

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    for server in servers:
        ref, own = runs[(server, "reference")], runs[(server, "owt")]
        checks = check_behaviour(server)
        failed = [name for name, ok in checks.items() if not ok]
        abuse = check_abuse(server)
        print(
            f"{server.replace('-', ' '):9} | {med(ref, 'get'):9.0f} | "
            f"{med(own, 'get'):7.0f} | {med(own, 'get') / med(ref, 'get'):9.2f} | "
            f"{med(ref, 'post'):10.0f} | {med(own, 'post'):8.0f} | "
            f"{med(own, 'post') / med(ref, 'post'):9.2f} | "
            f"{med(ref, 'cpu_us'):7.0f}us | {med(own, 'cpu_us'):5.0f}us | "
            f"{abuse['held']:>13} | {abuse['big']:>11} | {abuse['rss']:>7} | "
            f"{abuse['stop']:>7} | "
            + ("all OK" if not failed else "FAILS " + ", ".join(failed)),
            flush=True,
        )
    print(
        f"\nrequests/s: median of {opts.rounds} rounds of {opts.seconds:g} s, wrk "
        f"{CONNECTIONS} connections; plain: the reference Flask route on the same "
        "server; CPU: server CPU time per GET request.\n"
        f"held: echo GETs of {PROBES} answered within {PROBE_SECONDS:g} s each "
        f"while {IDLE} idle, {SLOW_HEADER} slow-header and {SLOW_BODY} slow-body "
        "connections are open; 50MB header: the status a 50 MB header line gets; "
        "RSS: the server's peak memory growth meanwhile; SIGTERM: time for its "
        f"main process to exit when sent SIGTERM during a {STREAM_SECONDS:g} s "
        f"stream.\n({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
