"""Carry a call into another process (a worker, a Ray slot) and back again.

The front sends the call's fields, the request's CGI and ``HTTP_*`` variables
and its whole body; the other side puts them back together into an environ
for a Flask request context, so ``flask.request`` (path, query, headers,
JSON body, form, files) and summat's request blocks read the same request
there as in the front, and into the :class:`~owt.request.Call` it runs.
"""

from __future__ import annotations

import io
import sys
import typing as t

from owt.codec import resolve_kwargs
from owt.front import CLIENT_GONE_KEY
from owt.front import ClientGone
from owt.request import Call

if t.TYPE_CHECKING:
    from flask import Request

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


def client_gone_probe(environ: t.Mapping[str, t.Any]) -> ClientGone | None:
    """The request's "has the client gone?" check, where the front gives one."""
    probe = environ.get(CLIENT_GONE_KEY)
    return probe if callable(probe) else None


def call_fields(call: Call) -> tuple[dict[str, t.Any], bytes]:
    """What another process needs to run ``call``: its fields (with the
    request's portable environ) and the request's body, byte for byte."""
    environ: t.Mapping[str, t.Any] = {}
    body = b""
    if call.http is not None:
        environ = call.http.environ
        body = call.http.get_data(cache=True, parse_form_data=False)
    fields = {
        "source": call.source,
        "arguments": call.arguments,
        "fn_name": call.fn_name,
        "digest": call.digest,
        "request_id": call.request_id,
        "environ": portable_environ(environ),
    }
    return fields, body


def rebuilt_call(
    fields: t.Mapping[str, t.Any], request: Request, request_id: str, max_depth: int
) -> Call:
    """The :class:`Call` :func:`call_fields` described, for ``request`` (the
    rebuilt one). An expression the front left alone is evaluated here (it
    is caller code too), then held to ``--max-kwargs-depth``."""
    return Call(
        source=fields["source"],
        arguments=resolve_kwargs(fields["arguments"], max_depth),
        fn_name=fields["fn_name"],
        path=request.path,
        digest=fields["digest"],
        request_id=request_id,
        http=request,
    )
