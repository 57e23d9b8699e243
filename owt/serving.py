"""Serve the owt WSGI app on granian, a Rust HTTP server (issue 12).

granian reads requests on an event loop written in Rust: a connection costs
no Python thread until its request line and headers are complete, so idle,
silent and slow-header clients can't starve anyone. Chosen by measurement
(``bench/servers.py``; README "Performance").

Everything is bounded before owt's code, auth included, sees a request:

- request line: 65,534 bytes (granian's HTTP parser; 414 beyond);
- headers: :data:`HEADER_BUFFER_BYTES` in all and at most 100 of them (431);
- header time: ``--header-timeout`` from the connection's start, whether the
  client is silent, trickling, or idle on a kept-alive connection;
- connections held open at once: :data:`CONNECTIONS_PER_PROCESS`;
- body: ``--max-request-mb``, refused by owt with 413 before any of it is
  read; every error owt answers before reading the body leaves it unread;
  a pause of ``--header-timeout`` while reading it is a 408.

The app runs behind granian's ASGI interface (see :mod:`owt.front`),
which tells owt when a client hangs up and bounds every wait for a body.

Threads: a request whose headers are complete gets a thread at once, up to
``--max-concurrency`` plus :data:`THREAD_HEADROOM` (for requests that run
no adaptor: health, errors, pins); ``--max-concurrency`` itself is counted
by owt (503 beyond).

Processes: granian runs a small main process that owns the port and one or
more worker processes (``--processes``) that run the app, so an adaptor
that kills its process (``os._exit``) costs a restart of that worker, not
the server. The main process adopts every process started below it and
stops them all when owt stops.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import multiprocessing.process
import os
import resource
import signal
import socket
import sys
import threading
import time
import typing as t

from granian.constants import HTTPModes
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import MPServer as Granian

from owt import proctree
from owt.accesslog import flush_access_log
from owt.errors import PortUnavailable
from owt.errors import StreamAborted
from owt.front import ASGIBridge
from owt.options import ServeOptions
from owt.runtime import Server
from owt.security import is_loopback

#: Seconds running requests get to finish when owt is stopped; then their
#: worker process is killed, streams are cut, and every child process with it.
SHUTDOWN_SECONDS = 1
#: Threads beyond ``--max-concurrency`` for requests that run no adaptor.
THREAD_HEADROOM = 64
#: Threads per process when ``--max-concurrency`` is 0 (no limit).
UNLIMITED_THREADS = 1024
#: Connections one worker process holds at once (each costs a file
#: descriptor and a few KB, no thread); more wait in the kernel's backlog.
CONNECTIONS_PER_PROCESS = 8192
#: Room for the request line and every header of one request.
HEADER_BUFFER_BYTES = 256 * 1024
#: Connections the kernel may queue for owt before it accepts them.
BACKLOG = 1024
#: Longest a worker may take to start listening before owt says it is ready.
START_SECONDS = 60
#: Longest a fork waits for a nested owt server (see _wait_for_nested_server).
NESTED_START_SECONDS = 15


class NoAbortedStreams(logging.Filter):
    """Drops granian's report of a stream owt cut off: owt logged it already."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but those about a :class:`StreamAborted`."""
        # granian puts the traceback in the message text, not in exc_info.
        return f"\n{StreamAborted.__name__}: " not in record.getMessage()


#: granian's own log lines go through owt's formatter (see owt.logformat).
GRANIAN_LOGGER = "_granian"
GRANIAN_LOGGING: dict[str, t.Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "owt": {
            "()": "owt.logformat.OneRecordFormatter",
            "fmt": "%(asctime)s %(levelname)s %(message)s",
        }
    },
    "filters": {"aborted": {"()": "owt.serving.NoAbortedStreams"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "owt",
            "filters": ["aborted"],
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {GRANIAN_LOGGER: {"handlers": ["stderr"], "propagate": False}},
}
log = logging.getLogger("owt")

#: Builds the WSGI app in each worker process.
AppFactory = t.Callable[[ServeOptions], t.Any]

#: The pid of the process that serves owt's app, so that a process forked
#: from it (the spec's meta example) can let go of its listening sockets.
_serving_pid: int | None = None


def threads_per_process(options: ServeOptions) -> int:
    """Python threads a worker process may run requests on at once."""
    adaptors = options.max_concurrency or UNLIMITED_THREADS
    return adaptors + THREAD_HEADROOM


def serve(options: ServeOptions, build_app: AppFactory) -> None:
    """Listen on ``options.address:port`` and serve owt until stopped.

    Runs in the calling process as granian's main process; the app itself is
    built by ``build_app(options)`` in each worker process.
    """
    _release_inherited_listeners()
    warn_if_exposed(options)
    reservation = reserve_port(options.address, options.port)
    options.port = int(reservation.getsockname()[1])
    Server.install(options)
    proctree.become_subreaper()
    _raise_open_file_limit()
    host = reservation.getsockname()[0]
    loader = functools.partial(load_worker_app, build_app, options)
    try:
        announced = threading.Event()
        while _serve_until_stopped(options, host, loader, announced):
            log.error(
                "owt's worker process died twice in a row (granian gives up on "
                "such a worker); starting owt's front again."
            )
    finally:
        reservation.close()


def _serve_until_stopped(
    options: ServeOptions,
    host: str,
    loader: t.Callable[[], t.Any],
    announced: threading.Event,
) -> bool:
    """Run granian until a signal stops it (False), or until it gives up on
    a worker that keeps dying after owt has answered (True: start again).

    An adaptor that ends its process (``os._exit``) costs that worker, which
    granian restarts; twice within seconds and granian stops altogether.
    """
    answered = threading.Event()  # in this run
    front = _build_front(options, host)
    front.on_startup(
        functools.partial(_announce_when_listening, options, answered, announced)
    )
    front.on_shutdown(_stop_descendants)
    try:
        front.serve(target_loader=loader, wrap_loader=False)
    except SystemExit as stop:
        if stop.code and answered.is_set():
            return True
        raise
    return False


def _build_front(options: ServeOptions, host: str) -> Granian:
    threads = threads_per_process(options)
    return Granian(
        "owt.server:create_app",  # a label: the app comes from load_worker_app
        address=host,
        port=options.port,
        # ASGI, through owt.front.ASGIBridge: it bounds every wait for a body
        # and tells owt when a client hangs up. granian's WSGI interface is
        # about twice as fast for trivial apps, but a body that stops
        # arriving there could stall a whole worker.
        # The lifespan messages tell owt when a worker stops (to write the
        # access log lines still waiting).
        interface=Interfaces.ASGI,
        workers=options.processes,
        backpressure=max(CONNECTIONS_PER_PROCESS, threads),
        backlog=BACKLOG,
        # HTTP/1 only: with protocol detection on, a silent connection is
        # never timed out (the header timer starts at the first byte).
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, int(options.header_timeout * 1000)),
            keep_alive=True,
            max_buffer_size=HEADER_BUFFER_BYTES,
        ),
        respawn_failed_workers=True,
        workers_kill_timeout=SHUTDOWN_SECONDS,
        log_level=LogLevels.error,
        log_dictconfig=GRANIAN_LOGGING,
    )


def load_worker_app(build_app: AppFactory, options: ServeOptions) -> t.Any:
    """Build the app in a worker process (granian calls this once per worker)."""
    global _serving_pid
    proctree.die_with_parent()
    _serving_pid = os.getpid()
    os.register_at_fork(
        before=_hold_signals,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_reset_signals_in_child,
    )
    app = build_app(options)
    return ASGIBridge(
        app,
        threads_per_process(options),
        options.header_timeout,
        on_shutdown=[flush_access_log],
    )


#: Signals held back around a fork, so none reaches a child before
#: :func:`_reset_signals_in_child` has undone the worker's handling of it.
_HELD_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _hold_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)


def _release_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD_SIGNALS)


def _after_fork_in_parent() -> None:
    _release_signals()
    _wait_for_nested_server()


def _reset_signals_in_child() -> None:
    """In a process forked from a serving worker (by adaptor code), undo the
    worker's signal handling, then let held signals in.

    The worker hands SIGTERM and SIGINT to granian, and its event loop learns
    of signals through a pipe Python writes their numbers to. A forked child
    inherits both: without this, ``Process.terminate()`` on an adaptor's
    child would not stop the child but reach the worker, and stop it.
    """
    with contextlib.suppress(ValueError):  # not the main thread: nothing to undo
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _release_signals()


def _wait_for_nested_server() -> None:
    """After a fork in a serving worker, let a nested owt come up first.

    The spec's meta example sets ``args.port``, starts ``owt.server.main``
    in a ``multiprocessing.Process`` and calls that port at once. So when
    this fork starts such a process, it waits (at most
    :data:`NESTED_START_SECONDS`) until the new server answers, and the
    caller's first request finds it up.
    """
    from owt.runtime import args

    target = getattr(_process_being_started(), "_target", None)
    is_main = getattr(target, "__name__", "") == "main" and getattr(
        target, "__module__", ""
    ) in ("owt.server", "__main__")
    if is_main and args.port:
        wait_until_listening(args.address, args.port, NESTED_START_SECONDS)


def _process_being_started() -> multiprocessing.process.BaseProcess | None:
    """The ``multiprocessing`` process whose ``start()`` is forking now."""
    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if frame.f_code.co_name == "start" and isinstance(
            candidate, multiprocessing.process.BaseProcess
        ):
            return candidate
        frame = frame.f_back
    return None


def reserve_port(address: str, port: int) -> socket.socket:
    """Hold ``address:port`` (a free one for port 0) for owt's workers.

    The returned socket is bound, not listening, with ``SO_REUSEPORT``, as
    granian's worker sockets are: they can bind beside it, nobody else can.

    :raises PortUnavailable: when something else holds the port.
    """
    host = address.strip("[]")
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise PortUnavailable(f"can't listen on {address!r}: {e}") from None
    try:
        # First without SO_REUSEPORT: that bind fails if anyone holds the port.
        with _bound_socket(family, sockaddr, reuse_port=False) as probe:
            sockaddr = (sockaddr[0], probe.getsockname()[1], *sockaddr[2:])
        return _bound_socket(family, sockaddr, reuse_port=True)
    except OSError as e:
        raise PortUnavailable(
            f"can't listen on {address}:{port}: {e.strerror or e}"
        ) from None


def _bound_socket(
    family: socket.AddressFamily, sockaddr: t.Any, reuse_port: bool
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def wait_until_listening(address: str, port: int, seconds: float) -> bool:
    """Whether something accepts connections on ``address:port`` within
    ``seconds`` (a wildcard address is tried on loopback)."""
    host = address.strip("[]")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _announce_when_listening(
    options: ServeOptions, answered: threading.Event, announced: threading.Event
) -> None:
    """Once a worker accepts connections, set ``answered`` and print the
    ready line (once: not again when granian is started again). In a thread.
    """

    def wait_then_print() -> None:
        if not wait_until_listening(options.address, options.port, START_SECONDS):
            return
        answered.set()
        if not announced.is_set():
            announced.set()
            print(f"Owt serving on {options.address}:{options.port}", flush=True)

    threading.Thread(target=wait_then_print, name="owt-ready", daemon=True).start()


def _stop_descendants() -> None:
    # granian has stopped (or killed) its workers: now every process any of
    # them started, wherever it was re-parented to.
    proctree.kill_descendants(SHUTDOWN_SECONDS)


def _raise_open_file_limit() -> None:
    """Let owt hold as many connections as the system allows this user."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _release_inherited_listeners() -> None:
    """In a process forked from a serving worker, close its listening sockets.

    The spec's meta example starts a second server with
    ``Process(target=main)`` from inside an adaptor; the child inherits the
    outer server's listening socket, which would otherwise keep that port
    busy for as long as the child lives.
    """
    if _serving_pid is None or _serving_pid == os.getpid():
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue  # not a socket
        try:
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            listening = 0
        if listening:
            sock.close()
        else:
            sock.detach()


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
