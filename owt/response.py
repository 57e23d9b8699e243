"""Turn what an adaptor returns into an HTTP response, and errors into JSON.

What each kind of return value becomes is documented in one place, the table
under "What the function may return" in ``docs/protocol.org``; :func:`map_body`
follows it (and :func:`split_result` reads the ``(body, status/headers)``
tuples). Pillow and NumPy are never imported here: a value is taken for an
image or an array only when the adaptor has already imported them.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import io
import json
import logging
import mimetypes
import os
import stat
import sys
import typing as t
import unicodedata
from pathlib import PurePath
from urllib.parse import quote

from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import Headers
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import quote_header_value
from werkzeug.utils import get_content_type
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
_PNG = "image/png"
#: NumPy's own file format (``numpy.save``), offered for arrays.
NPY = "application/x-npy"


@dataclasses.dataclass
class Body:
    """A mapped response body: whole bytes, or a stream of chunks."""

    content_type: str | None
    data: bytes = b""
    stream: cabc.Iterator[bytes] | None = None
    #: Headers that describe this body (a file's ``Content-Length`` and
    #: name, ``Vary: Accept`` for a negotiated array).
    headers: HeaderItems = dataclasses.field(default_factory=list)


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


#: A request's ``Accept``, or a function giving it when it is needed (most
#: results never look at it), or None.
Accept = MIMEAccept | t.Callable[[], MIMEAccept] | None


def map_body(value: t.Any, accept: Accept = None) -> Body:
    """Map an adaptor's body value to bytes or a stream.

    ``accept`` is the request's ``Accept``, for the values that have more
    than one representation (a NumPy array: JSON, or ``.npy`` when the client
    prefers :data:`NPY`). None: not negotiated, the default representation
    and no ``Vary``.

    :raises BadAdaptorResult: if owt can't represent the value (or, for a
        path, can't open it as a regular file).
    """
    if value is None:
        return Body(None)
    if isinstance(value, str):
        return Body(_HTML, value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return Body(_BINARY, bytes(value))
    if isinstance(value, io.BytesIO):
        return Body(_BINARY, value.getvalue())
    if isinstance(value, PurePath):
        return file_body(value)
    if _is_image(value):
        return _png_body(value)
    if _is_array(value):
        return _array_body(value, accept)
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


def wants_npy(accept: MIMEAccept | None) -> bool:
    """Whether ``accept`` prefers :data:`NPY` to JSON (a tie, ``*/*`` or no
    ``Accept`` at all is JSON)."""
    return accept is not None and accept.best_match((_JSON, NPY)) == NPY


# --- images and arrays, when the adaptor imported Pillow or NumPy -------------------


def _is_image(value: t.Any) -> bool:
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def _png_body(image: t.Any) -> Body:
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="PNG")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadAdaptorResult(
            f"The adaptor returned a {image.mode} image, which owt can't send as "
            f"PNG ({type(e).__name__}: {e}); convert it first, e.g. "
            "image.convert('RGB')."
        ) from None
    return Body(_PNG, buffer.getvalue())


def _is_array(value: t.Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray | numpy.generic)


def _array_body(array: t.Any, accept: Accept) -> Body:
    vary: HeaderItems = [] if accept is None else [("Vary", "Accept")]
    if callable(accept):
        accept = accept()
    if not wants_npy(accept):
        return Body(_JSON, to_json(array), headers=vary)
    numpy = sys.modules["numpy"]
    buffer = io.BytesIO()
    try:
        numpy.save(buffer, array, allow_pickle=False)
    except ValueError as e:
        raise BadAdaptorResult(
            f"The adaptor returned an array of dtype {array.dtype}, which owt "
            f"can't send as .npy without pickling it: {e}."
        ) from None
    return Body(NPY, buffer.getvalue(), headers=vary)


# --- files ---------------------------------------------------------------------------

#: How many bytes of a file are read and sent at a time.
FILE_CHUNK = 256 * 1024

_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2"}


def file_body(path: PurePath) -> Body:
    """The file at ``path``, opened now with owt's own permissions and sent
    in chunks: its type guessed from its name, its size and name in headers.

    :raises BadAdaptorResult: naming the path, if it is missing, not a
        regular file, or not readable by owt's process.
    """
    # Non-blocking, so a FIFO doesn't hang the open; no effect on a file.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | os.O_CLOEXEC)
    except OSError as e:
        raise BadAdaptorResult(_path_message(path, _open_failure(e))) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadAdaptorResult(_path_message(path, "it is a directory"))
        if not stat.S_ISREG(info.st_mode):
            reason = "it is not a regular file (a device, FIFO or socket)"
            raise BadAdaptorResult(_path_message(path, reason))
        os.set_blocking(fd, True)
        file = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    headers = [
        ("Content-Length", str(info.st_size)),
        ("Content-Disposition", content_disposition(path.name)),
    ]
    chunks = FileChunks(file, info.st_size, str(path))
    return Body(file_type(path.name), stream=chunks, headers=headers)


def _open_failure(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "it does not exist"
    if isinstance(error, PermissionError):
        return "owt's process may not read it (permission denied)"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    if isinstance(error, NotADirectoryError):
        return "a part of it is not a directory"
    return error.strerror or str(error)


def _path_message(path: PurePath, reason: str) -> str:
    where = "" if os.path.isabs(path) else f" (from owt's directory {os.getcwd()})"
    return (
        f"The adaptor returned the path {str(path)!r}{where}, which owt can't "
        f"send: {reason}."
    )


def file_type(name: str) -> str:
    """A file's content type from its name (``application/octet-stream``
    when unknown; text types with ``charset=utf-8``, as Werkzeug sends them)."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        # x.tar.gz is gzip data; calling it application/x-tar would be wrong.
        return _COMPRESSED.get(encoding, _BINARY)
    return get_content_type(guessed or _BINARY, "utf-8")


def content_disposition(name: str) -> str:
    """``inline`` with ``name`` as the quoted filename; for a name beyond
    printable ASCII, an ASCII stand-in there and the exact name as
    ``filename*`` (RFC 6266)."""
    plain = "".join(c for c in name if " " <= c < "\x7f")
    if plain == name:
        return f"inline; filename={quote_header_value(name, allow_token=False)}"
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    simple = "".join(c for c in simple if " " <= c < "\x7f")
    exact = quote(name, safe="!#$&+-.^_`|~", errors="replace")
    return (
        f"inline; filename={quote_header_value(simple, allow_token=False)}; "
        f"filename*=UTF-8''{exact}"
    )


class FileChunks:
    """An open file read ``FILE_CHUNK`` bytes at a time, exactly ``size`` in
    all (what ``Content-Length`` promised, even if the file grows), closed
    at its end or by :meth:`close`, whichever comes first.

    :raises BadAdaptorResult: from ``next`` if the file ends early (it was
        cut short while being sent), so the stream fails as such.
    """

    def __init__(self, file: t.BinaryIO | io.RawIOBase, size: int, name: str) -> None:
        self._file = file
        self._left = size
        self._name = name

    def __iter__(self) -> FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._file.closed or self._left <= 0:
            self.close()
            raise StopIteration
        chunk = self._file.read(min(FILE_CHUNK, self._left))
        if not chunk:
            self.close()
            raise BadAdaptorResult(
                f"The file {self._name!r} got shorter while owt was sending it "
                f"({self._left} bytes missing)."
            )
        self._left -= len(chunk)
        return bytes(chunk)

    def close(self) -> None:
        self._file.close()


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
    # An error is data for the caller, never a page to show in someone
    # else's frame (a foreign page framing a refused owt URL).
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; frame-ancestors 'none'"
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="owt", charset="UTF-8"'
    if error.status == 413:
        # The unread body is still on the connection: don't reuse it.
        response.headers["Connection"] = "close"
    if error.status == 503:
        response.headers["Retry-After"] = "1"
    return response
