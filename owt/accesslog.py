"""The access log: one line per request, written when its response ends.

Method, path, short code hash, status, duration and request id; ``-v`` adds
the code. A stream is logged when it ends, so its duration covers it all.
It is WSGI middleware around the app, so it also sees requests the app
refuses.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import typing as t

from owt import logformat

log = logging.getLogger("owt")

#: WSGI environ keys: the request id (set here), the code's digest and, with
#: ``-v``, the code (set by the adaptor route).
REQUEST_ID_ENVIRON = "owt.request_id"
DIGEST_ENVIRON = "owt.code_digest"
CODE_ENVIRON = "owt.code"


def new_request_id() -> str:
    """16 random hex digits naming a request (cheaper than a uuid4)."""
    return os.urandom(8).hex()


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
            sys.stderr.write(
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
