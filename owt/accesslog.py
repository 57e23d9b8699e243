"""The access log: one line per request, written when its response ends.

Method, path, short code hash, status, duration and request id; ``-v`` adds
the code. A stream is logged when it ends, so its duration covers it all.
It is WSGI middleware around the app, so it also sees requests the app
refuses.

Lines are not written by the request's thread: they wait in a
:class:`LineBuffer`, whose thread writes all that are waiting in one write
every :data:`FLUSH_SECONDS` (so a busy server makes one write system call
per batch, not per request), and once more when owt stops.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import random
import sys
import threading
import time
import typing as t

from owt import logformat

log = logging.getLogger("owt")

#: WSGI environ keys: the request id (set here), the code's digest and, with
#: ``-v``, the code (set by the adaptor route).
REQUEST_ID_ENVIRON = "owt.request_id"
DIGEST_ENVIRON = "owt.code_digest"
CODE_ENVIRON = "owt.code"


#: How long a line may wait before it is written.
FLUSH_SECONDS = 0.05
#: A buffer this long is written at once, without waiting.
FLUSH_LINES = 2000


def new_request_id() -> str:
    """16 random hex digits naming a request.

    From Python's own generator (reseeded in every forked process), not the
    kernel's: no system call per request.
    """
    return f"{random.getrandbits(64):016x}"


class LineBuffer:
    """Text lines written to ``sys.stderr`` by a thread of their own, all the
    waiting lines in one write."""

    def __init__(self, interval: float = FLUSH_SECONDS) -> None:
        self.interval = interval
        self._lines: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._writing = False  # whether this process has started the thread
        os.register_at_fork(after_in_child=self._forget_thread)

    def add(self, line: str) -> None:
        """Queue ``line`` (with its line break) to be written soon."""
        self._lines.append(line)
        if not self._writing:
            self._start()
        elif len(self._lines) >= FLUSH_LINES:
            self._wake.set()

    def flush(self) -> None:
        """Write every waiting line now."""
        with self._lock:
            count = len(self._lines)
            if count:
                batch = "".join(self._lines.popleft() for _ in range(count))
                sys.stderr.write(batch)
                sys.stderr.flush()

    def _start(self) -> None:
        with self._lock:
            if self._writing:
                return
            self._writing = True
        threading.Thread(target=self._run, name="owt-access-log", daemon=True).start()
        atexit.register(self.flush)

    def _forget_thread(self) -> None:
        # A forked child has no copy of the thread (nor a free lock).
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._writing = False

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except (OSError, ValueError):
                pass  # stderr closed or gone: nothing left to write to


#: The access log's buffer, flushed by :func:`flush_access_log` at stop.
access_lines = LineBuffer()


def flush_access_log() -> None:
    """Write the access log lines still waiting (owt is stopping)."""
    access_lines.flush()


class AccessLog:
    """WSGI middleware writing the access log, and naming each request."""

    def __init__(self, app: t.Any, verbose: int) -> None:
        self.app = app
        self.verbose = verbose

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        started = time.perf_counter()
        environ[REQUEST_ID_ENVIRON] = new_request_id()
        status_holder: list[str] = []

        def recording_start_response(status: str, headers: t.Any, *exc: t.Any) -> t.Any:
            status_holder.append(status)
            return start_response(status, headers, *exc)

        body = self.app(environ, recording_start_response)
        return _LoggedBody(body, lambda: self._log(environ, status_holder, started))

    def _log(
        self, environ: dict[str, t.Any], status: list[str], started: float
    ) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        digest = environ.get(DIGEST_ENVIRON, "")[:8] or "-"
        path = logformat.printable(environ.get("PATH_INFO", ""))
        code = status[0].split(" ", 1)[0] if status else "-"
        if log.isEnabledFor(logging.INFO):
            # Written directly, in the format configure_logging sets: a
            # LogRecord per request cost more than the rest of the line.
            method = environ.get("REQUEST_METHOD")
            request_id = environ.get(REQUEST_ID_ENVIRON)
            access_lines.add(
                f"{_timestamp()} INFO {method} {path} code={digest} status={code} "
                f"{elapsed_ms:.1f}ms id={request_id}\n"
            )
        if self.verbose >= 1 and CODE_ENVIRON in environ:
            log.info("code %s:\n%s", digest, environ[CODE_ENVIRON])


_clock: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """Now, as logging's default ``asctime`` writes it (cached per second)."""
    global _clock
    now = time.time()
    second = int(now)
    if _clock[0] != second:
        _clock = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_clock[1]},{int((now - second) * 1000):03d}"


class _LoggedBody:
    def __init__(self, body: t.Any, on_close: t.Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> t.Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()
