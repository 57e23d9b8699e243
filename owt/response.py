"""Turn what an adaptor returns into an HTTP response, and errors into JSON.

=============================  ============================================
adaptor returns                response
=============================  ============================================
``str``                        ``text/html; charset=utf-8``
``bytes``, ``bytearray``,      ``application/octet-stream``
``io.BytesIO``
``int``, ``float``, ``bool``   their text, ``text/plain``
``dict``, ``list``, other      ``application/json``
JSON-serialisable values
``None``                       empty 200
a Flask/Werkzeug ``Response``  as is
a generator or iterator        streamed, chunk by chunk as produced
``(body, status)``,            the body mapped as above, with that status
``(body, headers)``,           and headers
``(body, status, headers)``
=============================  ============================================

Only a tuple is read as ``(body, status/headers)``; a list is always data.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import io
import json
import logging
import typing as t

from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.errors import BadAdaptorResult
from owt.errors import OwtError
from owt.sse import sse_event

log = logging.getLogger("owt")

HeaderItems = list[tuple[str, str]]
#: What an adaptor may return, as documented above.
AdaptorResult = t.Any

_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
_BINARY = "application/octet-stream"
_SSE = "text/event-stream"


@dataclasses.dataclass
class Body:
    """A mapped response body: whole bytes, or a stream of chunks."""

    content_type: str | None
    data: bytes = b""
    stream: cabc.Iterator[bytes] | None = None


def split_result(result: AdaptorResult) -> tuple[t.Any, int, HeaderItems]:
    """Separate an adaptor result into body, status and header items.

    :raises BadAdaptorResult: for a bad status or header.
    """
    status = 200
    headers: HeaderItems = []
    if isinstance(result, tuple) and len(result) in (2, 3):
        extras = result[1:]
        if _is_status(extras[0]) or _is_headers(extras[0]):
            if len(extras) == 2 and not (
                _is_status(extras[0]) and _is_headers(extras[1])
            ):
                raise BadAdaptorResult(
                    "A 3-tuple result must be (body, status, headers); got "
                    f"({_kind(result[0])}, {_kind(extras[0])}, {_kind(extras[1])})."
                )
            result = result[0]
            for extra in extras:
                if _is_status(extra):
                    status = _check_status(extra)
                else:
                    headers = _check_headers(extra)
    return result, status, headers


def _kind(value: t.Any) -> str:
    return type(value).__name__


def _is_status(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_headers(value: t.Any) -> bool:
    if isinstance(value, cabc.Mapping | Headers):
        return True
    return isinstance(value, list) and all(
        isinstance(item, tuple | list) and len(item) == 2 for item in value
    )


def _check_status(value: int) -> int:
    if not 100 <= value <= 599:
        raise BadAdaptorResult(f"The adaptor returned status {value}; use 100-599.")
    return int(value)


def _check_headers(value: t.Any) -> HeaderItems:
    items = value.items() if isinstance(value, cabc.Mapping | Headers) else value
    return [check_header(name, header_value) for name, header_value in items]


#: Headers about the connection, which the HTTP server alone may set
#: (an adaptor's ``Transfer-Encoding: chunked`` would garble the framing).
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)


def check_header(name: t.Any, value: t.Any) -> tuple[str, str]:
    """One header an adaptor returned, as text safe to put on the wire.

    :raises BadAdaptorResult: for a line break or NUL anywhere (header
        injection), a malformed name, a value HTTP can't carry (not
        Latin-1), or a header about the connection itself.
    """
    name, value = str(name), str(value)
    for part in (name, value):
        if "\r" in part or "\n" in part or "\0" in part:
            raise BadAdaptorResult(
                f"The adaptor returned header {name!r} containing a line break "
                "or NUL; header names and values must be single lines."
            )
    if (
        not name
        or any(c in name for c in ' \t:()<>@,;\\"/[]?={}\x7f')
        or any(c < " " for c in name)
    ):
        raise BadAdaptorResult(f"The adaptor returned an invalid header name {name!r}.")
    if not name.isascii() or not value.isascii() and not _is_latin_1(value):
        raise BadAdaptorResult(
            f"The adaptor returned header {name!r} with characters HTTP headers "
            "can't carry; percent-encode the value (or send it in the body)."
        )
    if name.lower() in _HOP_BY_HOP:
        raise BadAdaptorResult(
            f"The adaptor returned header {name!r}, which only owt's HTTP server "
            "may set: it describes the connection, not the response."
        )
    return name, value


def _is_latin_1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def map_body(value: t.Any) -> Body:
    """Map an adaptor's body value to bytes or a stream.

    :raises BadAdaptorResult: if owt can't represent the value.
    """
    if value is None:
        return Body(None)
    if isinstance(value, str):
        return Body(_HTML, value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return Body(_BINARY, bytes(value))
    if isinstance(value, io.BytesIO):
        return Body(_BINARY, value.getvalue())
    if isinstance(value, bool | int | float):
        return Body(_TEXT, str(value).encode())
    if isinstance(value, dict | list):
        return Body(_JSON, to_json(value))
    if isinstance(value, io.IOBase) and value.readable():
        return Body(_BINARY, stream=_read_chunks(value))
    if isinstance(value, cabc.Iterator):
        return Body(None, stream=t.cast(cabc.Iterator[bytes], value))
    if isinstance(value, tuple | set | frozenset) or hasattr(value, "tolist"):
        return Body(_JSON, to_json(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return Body(_JSON, to_json(value))
    raise BadAdaptorResult(
        f"The adaptor returned a {type(value).__name__}, which owt can't send. "
        "Return str, bytes, JSON data, a generator or a (body, headers) tuple."
    )


def _read_chunks(stream: io.IOBase, size: int = 64 * 1024) -> cabc.Iterator[bytes]:
    try:
        while chunk := stream.read(size):
            yield chunk if isinstance(chunk, bytes) else str(chunk).encode("utf-8")
    finally:
        stream.close()


def _json_default(value: t.Any) -> t.Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: t.Any) -> bytes:
    """JSON bytes for ``value``, or a clear error naming what failed."""
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_default).encode()
    except (TypeError, ValueError, RecursionError) as e:
        raise BadAdaptorResult(f"The adaptor's result is not JSON data: {e}.") from None


class OwtJSONProvider(DefaultJSONProvider):
    """The app's JSON provider (``app.json``, ``jsonify``): owt's encoding,
    UTF-8 kept as is, keys in their order, arrays and dataclasses as data."""

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        return to_json(obj).decode()


def encode_chunk(chunk: t.Any) -> bytes:
    """One streamed chunk as bytes: text as UTF-8, data as a JSON line."""
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    if isinstance(chunk, dict | list):
        return to_json(chunk) + b"\n"
    return str(chunk).encode("utf-8")


def stream_content_type(first_chunk: t.Any) -> str:
    """A default Content-Type for a stream, from its first chunk."""
    return _BINARY if isinstance(first_chunk, bytes | bytearray) else _TEXT


def is_event_stream(headers: Headers) -> bool:
    return (headers.get("Content-Type") or "").startswith(_SSE)


def sse_error_event(kind: str, message: str) -> bytes:
    """The closing event of a server-sent-event stream that failed."""
    payload = json.dumps({"error": kind, "message": message}, ensure_ascii=False)
    return sse_event(payload, event="error").encode()


def error_response(
    error: OwtError, request_id: str | None, hide_tracebacks: bool = False
) -> Response:
    """The one JSON shape for every error owt answers with."""
    body = error.body()
    if hide_tracebacks:
        body.pop("traceback", None)
    body["request_id"] = request_id
    response = Response(to_json(body), status=error.status, mimetype=_JSON)
    response.headers.update(error.headers)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="owt", charset="UTF-8"'
    if error.status == 413:
        # The unread body is still on the connection: don't reuse it.
        response.headers["Connection"] = "close"
    if error.status == 503:
        response.headers["Retry-After"] = "1"
    return response
