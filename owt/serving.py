"""Serve the owt WSGI app: a threaded HTTP/1.1 server that streams unbuffered.

One thread per connection, so a slow adaptor never blocks other requests, and
each chunk an adaptor yields is written and flushed as it comes. A client
that is slow to send its request headers is dropped after
``--header-timeout`` seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import typing as t

from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from owt.runtime import ServeOptions
from owt.runtime import Server
from owt.security import is_loopback
from owt.watchdog import HeaderDeadlines

_header_deadlines = HeaderDeadlines()

#: The server this process runs, with the pid that started it, so that a
#: forked child (the spec's meta example) can close the parent's socket.
_running: tuple[int, BaseWSGIServer] | None = None


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its own access log (owt logs each request)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _handler_with_timeout(seconds: float) -> type[WSGIRequestHandler]:
    class Handler(_QuietHandler):
        # Each read may wait this long; _header_deadlines bounds the request
        # line and headers as a whole, so a trickling client can't stall.
        timeout = seconds
        _header_token = -1

        def handle_one_request(self) -> None:
            self._header_token = _header_deadlines.arm(self.connection, seconds)
            try:
                super().handle_one_request()
            finally:
                _header_deadlines.disarm(self._header_token)

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            if not _header_deadlines.disarm(self._header_token):
                self.close_connection = True  # too slow: the socket is shut
                return False
            return parsed

    return Handler


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
        except OSError:
            pass
        _running = None


def serve(app: t.Any, options: ServeOptions) -> None:
    """Listen on ``options.address:port`` and serve ``app`` until stopped."""
    global _running
    _close_inherited_server()
    warn_if_exposed(options)
    server = make_server(
        options.address,
        options.port,
        app,
        threaded=True,
        request_handler=_handler_with_timeout(options.header_timeout),
    )
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _running = (os.getpid(), server)
    options.port = server.server_port
    Server.install(options)
    print(f"Owt serving on {options.address}:{server.server_port}", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _exit_on_sigterm(signum: int, frame: t.Any) -> None:
    raise KeyboardInterrupt
