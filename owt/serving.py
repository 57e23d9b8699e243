"""Serve the owt WSGI app: a threaded HTTP/1.1 server that streams unbuffered.

owt runs on cheroot (CherryPy's pure-Python WSGI server), chosen by
measurement over Werkzeug's development server, waitress and gunicorn's
gthread worker (``bench/servers.py``; README "Performance"): it answers
plain requests about three times as fast as Werkzeug's, reads request
bodies only as the app asks (so a body over ``--max-request-mb`` gets owt's
own 413 without being read), and writes each chunk a stream yields at once.

A pool of worker threads runs requests; it starts with
:data:`MIN_THREADS` and grows while requests wait for a thread, so a slow
adaptor never blocks the others. Idle keep-alive connections wait in a
selector, not in a thread. A client slow to send its request line and
headers is dropped after ``--header-timeout`` seconds, however it trickles.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import sys
import threading
import time
import typing as t

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.workers import threadpool

from owt.runtime import ServeOptions
from owt.runtime import Server
from owt.security import is_loopback
from owt.watchdog import HeaderDeadlines

#: Worker threads started with the server: 32+ requests in flight at once.
MIN_THREADS = 40
#: The pool grows up to this many threads while requests queue for one.
MAX_THREADS = 1024
#: Threads added each time requests are seen waiting for one.
GROW_STEP = 8
GROW_CHECK_SECONDS = 0.05
#: Connections the kernel may hold for owt before it accepts them.
BACKLOG = 1024
#: Seconds ``owt`` waits for running requests when it is stopped.
SHUTDOWN_SECONDS = 2

_header_deadlines = HeaderDeadlines()
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close with a reset

#: The server this process runs, with the pid that started it, so that a
#: forked child (the spec's meta example) can close the parent's socket.
_running: tuple[int, wsgi.Server] | None = None


def _request_class(header_timeout: float) -> type[cheroot_server.HTTPRequest]:
    class Request(cheroot_server.HTTPRequest):
        """Bounds the request line and headers as a whole (a socket timeout
        alone bounds each read, which a trickling client never trips), and
        takes a path such as ``//x`` as a path, as every other path is."""

        #: Slashes taken off the front of the path for cheroot's parser.
        owt_extra_slashes = 0

        def parse_request(self) -> None:
            token = _header_deadlines.arm(self.conn.socket, header_timeout)
            try:
                super().parse_request()
            finally:
                if not _header_deadlines.disarm(token):
                    self.ready = False  # too slow: its socket was shut down
                    self.close_connection = True

        def read_request_line(self) -> bool:
            rfile = self.rfile
            self.rfile = _PathSlashes(rfile, self)
            try:
                return bool(super().read_request_line())  # type: ignore[no-untyped-call]
            finally:
                self.rfile = rfile

    return Request


class _PathSlashes:
    """Reads a request line, passing ``GET //x`` on as ``GET /x``.

    cheroot parses a target starting with ``//`` as an authority (a host)
    and refuses it; owt serves every path, so the extra slashes are taken
    off here and put back into ``PATH_INFO`` by :class:`_Gateway`.
    """

    def __init__(self, rfile: t.Any, request: t.Any) -> None:
        self._rfile = rfile
        self._request = request

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self._rfile.readline(size)
        method, sep, rest = line.partition(b" ")
        if sep and rest.startswith(b"//"):
            target = rest.lstrip(b"/")
            self._request.owt_extra_slashes = len(rest) - len(target) - 1
            line = method + b" /" + target
        return line

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._rfile, name)


class _Gateway(wsgi.Gateway_10):
    def get_environ(self) -> t.Any:
        environ = super().get_environ()  # type: ignore[no-untyped-call]
        extra = getattr(self.req, "owt_extra_slashes", 0)
        if extra:
            environ["PATH_INFO"] = "/" * extra + environ["PATH_INFO"]
        return environ


def _connection_class(header_timeout: float) -> type[cheroot_server.HTTPConnection]:
    class Connection(cheroot_server.HTTPConnection):
        RequestHandlerClass = _request_class(header_timeout)

        def close(self) -> None:
            if not self.server.ready:
                # Stopping: reset idle keep-alive connections, so that the
                # port is free at once rather than held in TIME_WAIT.
                with contextlib.suppress(OSError):
                    self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            super().close()

    return Connection


class _GrowingPool(threadpool.ThreadPool):
    """cheroot's thread pool, grown while requests wait for a thread.

    (cheroot's own pool keeps its starting size.) A watcher thread looks
    every :data:`GROW_CHECK_SECONDS`; starting workers there keeps the
    accepting thread, and each request, free of the cost.
    """

    _stopping: threading.Event
    _watcher: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = threading.Event()
        super().start()
        self._watcher = threading.Thread(
            target=self._grow_while_needed, name="owt-pool-grower", daemon=True
        )
        self._watcher.start()

    def _grow_while_needed(self) -> None:
        while self.server.ready and not self._stopping.wait(GROW_CHECK_SECONDS):
            threads = len(self._threads)  # type: ignore[attr-defined]
            if self.qsize and self.idle == 0 and threads < self.max:
                self.grow(GROW_STEP)

    def _spawn_worker(self) -> threadpool.WorkerThread:
        worker = threadpool.WorkerThread(self.server)  # type: ignore[no-untyped-call]
        worker.name = f"CP Server {worker.name!s}"
        # A worker stuck in an adaptor must never keep owt from exiting.
        worker.daemon = True
        worker.start()
        return worker

    def stop(self, timeout: float | None = SHUTDOWN_SECONDS) -> None:
        """Ask every worker to finish, waiting at most ``timeout`` in all.

        cheroot's own ``stop`` can wait forever on a worker that never got
        its shutdown request (seen when stopping under heavy CPU load); this
        one stops growing first, asks every live worker, and never blocks
        past the deadline (workers are daemon threads).
        """
        if getattr(self, "_stopping", None) is not None:
            self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        deadline = time.monotonic() + (timeout or 0)
        workers = list(self._clear_threads())  # type: ignore[attr-defined]
        for _ in range(len(workers) + 1):
            self._queue.put(threadpool._SHUTDOWNREQUEST)  # type: ignore[attr-defined]
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))


def build_server(app: t.Any, options: ServeOptions) -> wsgi.Server:
    """A cheroot server for ``app``, bound to ``options.address:port``.

    The socket is bound here, so ``options.port`` 0 becomes a real port
    (read it from ``server.bind_addr``).
    """
    address = options.address.strip("[]")
    server = wsgi.Server(
        (address, options.port),
        app,
        numthreads=MIN_THREADS,
        max=MAX_THREADS,
        timeout=options.header_timeout,  # type: ignore[arg-type]  # float works
        shutdown_timeout=SHUTDOWN_SECONDS,
        request_queue_size=BACKLOG,
    )
    server.gateway = _Gateway
    server.requests = _GrowingPool(server, min=MIN_THREADS, max=MAX_THREADS)
    server.ConnectionClass = _connection_class(options.header_timeout)
    # cheroot keeps only 10 idle keep-alive connections by default; owt's
    # callers (a benchmark, a page with many EventSources) may hold more.
    server.keep_alive_conn_limit = None  # type: ignore[assignment]  # no limit
    server.prepare()
    return server


def warn_if_exposed(options: ServeOptions) -> None:
    """Print a loud warning when code can be sent from beyond this machine."""
    if is_loopback(options.address) or options.auth:
        return
    bar = "!" * 72
    print(
        f"{bar}\n"
        f"WARNING: owt is listening on {options.address} WITHOUT --auth.\n"
        "Anyone who can reach this port can run any code on this machine with\n"
        "your rights. Use --auth (see 'owt hash-password'), or bind 127.0.0.1.\n"
        f"{bar}",
        file=sys.stderr,
        flush=True,
    )


def _close_inherited_server() -> None:
    global _running
    if _running is not None and _running[0] != os.getpid():
        try:
            _running[1].socket.close()
        except (OSError, AttributeError):
            pass
        _running = None


def serve(app: t.Any, options: ServeOptions) -> None:
    """Listen on ``options.address:port`` and serve ``app`` until stopped."""
    global _running
    _close_inherited_server()
    warn_if_exposed(options)
    server = build_server(app, options)
    _running = (os.getpid(), server)
    options.port = int(server.bind_addr[1])
    Server.install(options)
    print(f"Owt serving on {options.address}:{options.port}", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _exit_on_sigterm(signum: int, frame: t.Any) -> None:
    raise KeyboardInterrupt
