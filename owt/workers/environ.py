"""Carry an HTTP request into a worker: the WSGI environ, taken apart and rebuilt.

The front keeps the request's CGI and ``HTTP_*`` variables and its whole body;
the worker puts them back together into an environ for a Flask request
context, so ``flask.request`` (path, query, headers, JSON body, form, files)
and summat's request blocks read the same request there as in the front.
"""

from __future__ import annotations

import io
import select
import socket
import ssl
import sys
import typing as t

_CGI_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REQUEST_URI",
    "RAW_URI",
    "wsgi.url_scheme",
    "owt.request_id",
)
#: The body is sent whole, so the way it was framed on the wire is gone.
_DROPPED = {"HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"}


def portable_environ(environ: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The parts of a WSGI environ that describe the request, as strings."""
    kept = {key: str(environ[key]) for key in _CGI_KEYS if key in environ}
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _DROPPED:
            kept[key] = str(value)
    return kept


def rebuild_environ(portable: t.Mapping[str, str], body: bytes) -> dict[str, t.Any]:
    """A WSGI environ for ``portable`` (see :func:`portable_environ`) and ``body``."""
    environ: dict[str, t.Any] = dict(portable)
    environ.setdefault("REQUEST_METHOD", "GET")
    environ.setdefault("SCRIPT_NAME", "")
    environ.setdefault("PATH_INFO", "/")
    environ.setdefault("QUERY_STRING", "")
    environ.setdefault("SERVER_NAME", "localhost")
    environ.setdefault("SERVER_PORT", "80")
    environ.setdefault("SERVER_PROTOCOL", "HTTP/1.1")
    environ.setdefault("wsgi.url_scheme", "http")
    environ["CONTENT_LENGTH"] = str(len(body)) if body else ""
    environ["wsgi.version"] = (1, 0)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    environ["wsgi.errors"] = sys.stderr
    environ["wsgi.multithread"] = True
    environ["wsgi.multiprocess"] = True
    environ["wsgi.run_once"] = False
    return environ


def client_socket(environ: t.Mapping[str, t.Any]) -> socket.socket | None:
    """The client's connection, where the WSGI server exposes it."""
    for key in ("werkzeug.socket", "gunicorn.socket"):
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    # Others (cheroot) keep it behind the body's reader: rfile -> raw -> _sock.
    found: t.Any = environ.get("wsgi.input")
    for _ in range(6):
        if found is None or isinstance(found, socket.socket):
            break
        found = next(
            (getattr(found, a) for a in _READER_LINKS if hasattr(found, a)), None
        )
    return found if isinstance(found, socket.socket) else None


_READER_LINKS = ("rfile", "raw", "_sock", "sock", "socket")


def client_gone(sock: socket.socket | None) -> bool:
    """Whether the client closed its connection (without blocking).

    The request has been read whole by now, so a readable socket that yields
    no data means the client hung up. Data (a pipelined request) means it is
    still there.
    """
    if sock is None or isinstance(sock, ssl.SSLSocket):
        return False  # TLS records can't be peeked at: don't guess.
    try:
        fd = sock.fileno()
        if fd < 0:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
