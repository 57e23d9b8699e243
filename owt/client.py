"""A small Python client for owt, and the request-building pieces ``owt call`` uses.

Call an owt server from Python without writing any base64 by hand::

    from owt.client import Client

    owt = Client("http://127.0.0.1:9876")
    owt.call("def run(name): return f'Hello, {name}!'", name="owt")
    # 'Hello, owt!'

    for event in owt.stream("adaptor.py", text="Hi"):  # server-sent events
        print(event.data)

    owt.url("adaptor.py", prompt="output SOTA results")  # a GET URL, for a browser

    owt.call("thumb.py", image=open("photo.jpg", "rb"))  # a file: multipart POST

    owt.register("thumb", "thumb.py")  # kept by the server under a name...
    owt.call(Registered("thumb"), image=Path("photo.jpg"))  # ...called by it

``code`` may be adaptor source text, the path of a ``.py`` file, or a Python
function whose source is sent (and called by its own name). Calls send the
code's SHA-256 first and the code itself only when the server answers that
it doesn't hold it (``send_hash=False`` sends the code every time). A server
error raises :class:`OwtClientError` carrying the server's message and
traceback.

The lower-level functions (:func:`parse_assignments`, :func:`build_fields`,
:func:`build_url`, :class:`SSEParser`) are shared with the ``owt`` command line.
"""

from __future__ import annotations

import codecs
import collections.abc as cabc
import dataclasses
import hashlib
import inspect
import json
import math
import mimetypes
import os
import re
import textwrap
import typing as t
import urllib.parse
from pathlib import Path

import requests
import urllib3
from werkzeug.http import parse_options_header

from owt.codec import b64encode_text
from owt.codec import check_url_length
from owt.codec import encode_code
from owt.errors import AssignmentError as AssignmentError
from owt.errors import CodeSourceError as CodeSourceError
from owt.errors import OwtClientError as OwtClientError

#: Where ``owt serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:9876"

#: Adaptor code: source text, a path to a ``.py`` file, or a function.
Code: t.TypeAlias = "str | os.PathLike[str] | cabc.Callable[..., t.Any] | Source"

#: Credentials: ``"user:password"``, ``(user, password)`` or any requests auth.
Auth: t.TypeAlias = "str | tuple[str, str] | requests.auth.AuthBase"

#: What a call runs: adaptor code, or an adaptor the server holds by name.
Target: t.TypeAlias = "Code | Registered"

#: The error kind owt answers a ``code_sha256`` it doesn't hold with.
UNKNOWN_CODE = "unknown_code"

_LINE_END = re.compile(r"\r\n|\r|\n")

_TEXT_TYPES = (
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
)


# --- arguments ----------------------------------------------------------


def parse_value(text: str) -> t.Any:
    """Read a command-line value: a JSON literal when it parses, else the string.

    ``3`` is an int, ``true`` a bool, ``[1,2]`` a list, ``"3"`` the string
    ``3``; ``hello`` (not JSON) stays the string ``hello``. ``NaN`` and
    ``Infinity`` stay strings, as JSON proper has no such numbers.
    """

    def refuse(name: str) -> t.NoReturn:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        return text


def parse_assignment(item: str) -> tuple[str, t.Any]:
    """Split ``NAME=VALUE`` at the first ``=`` and read VALUE with :func:`parse_value`.

    :raises AssignmentError: when there is no ``=`` or the name is empty.
    """
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise AssignmentError(
            f"expected NAME=VALUE, got {item!r} (for example n=3 or name=owt)."
        )
    return name.strip(), parse_value(value)


def parse_assignments(items: cabc.Iterable[str]) -> dict[str, t.Any]:
    """Read ``NAME=VALUE`` items into a dict; a later name wins."""
    return dict(parse_assignment(item) for item in items)


def kwargs_text(expr: str | None, assigned: dict[str, t.Any]) -> str | None:
    """Combine a ``--kwargs`` expression with ``NAME=VALUE`` arguments.

    Returns the text to send as ``kwargs_b64`` (JSON when possible), or
    ``None`` when there are no arguments at all. A Python expression that
    is not JSON is left for the server to evaluate; assignments are merged
    into it with ``{**(expr), 'name': value}`` so the server still does the
    evaluating.
    """
    if expr is None or not expr.strip():
        return json.dumps(assigned, ensure_ascii=False) if assigned else None
    try:
        parsed = json.loads(expr)
    except ValueError:
        parsed = None
    else:
        if not assigned:
            return expr
        if isinstance(parsed, dict):
            return json.dumps({**parsed, **assigned}, ensure_ascii=False)
    if not assigned:
        return expr
    return "{**(" + expr.strip() + "), " + _python_dict_items(assigned) + "}"


def _python_dict_items(values: dict[str, t.Any]) -> str:
    for value in values.values():
        _check_finite(value)
    return ", ".join(f"{key!r}: {value!r}" for key, value in values.items())


def _check_finite(value: t.Any) -> None:
    # repr(float('inf')) is not a Python literal; parse_value never makes one.
    if isinstance(value, float) and not math.isfinite(value):
        raise AssignmentError(f"{value!r} cannot be sent as a Python literal.")
    if isinstance(value, list):
        for item in value:
            _check_finite(item)
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)


# --- code ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Source:
    """Adaptor source text, and the function to call when the code names one."""

    text: str
    fn_name: str | None = None


def load_source(code: Code) -> Source:
    """Turn ``code`` into adaptor source.

    :param code: one of

        - a path (``os.PathLike``, or a one-line string naming an existing
          file) whose contents are read as UTF-8; a one-line string ending
          in ``.py`` that names no file is an error, not source;
        - a function: its source is sent and it is called by its own name
          (module-level names it uses must be imported inside it);
        - any other string: the adaptor source itself;
        - a :class:`Source`, returned as it is.
    :raises CodeSourceError: for a lambda or a function without source.
    """
    if isinstance(code, Source):
        return code
    if isinstance(code, os.PathLike):
        return Source(Path(code).read_text(encoding="utf-8"))
    if isinstance(code, str):
        if _names_file(code):
            return Source(Path(code).read_text(encoding="utf-8"))
        if _looks_like_path(code):
            raise CodeSourceError(
                f"{code!r} looks like a file name, but there is no such file."
            )
        return Source(code)
    if callable(code):
        name = getattr(code, "__name__", "")
        if name == "<lambda>" or not name:
            raise CodeSourceError(
                "a lambda cannot be sent as an adaptor; define it with def, "
                "or send its source as a string."
            )
        try:
            text = inspect.getsource(code)
        except (OSError, TypeError) as e:
            raise CodeSourceError(
                f"cannot read the source of {name!r} ({e}); send the source "
                "text or the file path instead."
            ) from None
        return Source(textwrap.dedent(text), fn_name=name)
    raise CodeSourceError(
        "code must be source text, a file path or a function, "
        f"not {type(code).__name__}."
    )


def code_sha256(source: str) -> str:
    """The ``code_sha256`` field for ``source``: SHA-256 of its UTF-8 bytes, hex."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Registered:
    """An adaptor the server holds under ``name`` (``PUT /_owt/adaptors/NAME``,
    :meth:`Client.register`): pass it where code goes to call it by name,
    ``client.call(Registered("thumb"), image=...)``."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a registered adaptor's name must be a non-empty str.")


def _looks_like_path(text: str) -> bool:
    # One line ending in .py, with nothing Python source would need.
    stripped = text.strip()
    return stripped.endswith(".py") and not any(c in stripped for c in "\n ()=:'\"")


def _names_file(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


# --- request fields -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CallOptions:
    """The protocol fields besides code and arguments.

    :param fn_name: the adaptor function to call (the server's default is ``run``).
    :param use_cache: let the server cache the response.
    :param cache_kwargs: make the arguments part of the cache key.
    :param cache_key_override: a cache key that replaces the computed one.
    :param pin: also answer later code-less requests to this path from the cache.
    :param timeout: seconds the adaptor may run (capped by the server's limit).
    """

    fn_name: str | None = None
    use_cache: bool = False
    cache_kwargs: bool = False
    cache_key_override: str | None = None
    pin: bool = False
    timeout: float | None = None


def build_fields(
    source: str,
    kwargs: str | None = None,
    options: CallOptions | None = None,
    *,
    by_hash: bool = False,
) -> dict[str, t.Any]:
    """The protocol fields for a request, as JSON-ready values.

    :param source: the adaptor source text.
    :param kwargs: argument text (JSON, or a Python expression the server
        evaluates), or ``None`` to send no arguments. See :func:`kwargs_text`.
    :param options: the other fields; only those that differ from the
        server's defaults are included, so the request stays short.
    :param by_hash: send ``code_sha256`` instead of the code (the server
        answers ``unknown_code`` when it doesn't hold it).
    """
    if by_hash:
        code = {"code_sha256": code_sha256(source)}
    else:
        code = {"code_b64": encode_code(source)}
    return {**code, **option_fields(kwargs, options)}


def registered_fields(
    name: str, kwargs: str | None = None, options: CallOptions | None = None
) -> dict[str, t.Any]:
    """The protocol fields that call the adaptor registered as ``name``."""
    return {"adaptor": name, **option_fields(kwargs, options)}


def option_fields(
    kwargs: str | None = None, options: CallOptions | None = None
) -> dict[str, t.Any]:
    """The fields besides the code: arguments, then the options that differ
    from the server's defaults."""
    options = options or CallOptions()
    fields: dict[str, t.Any] = {}
    if kwargs is not None:
        fields["kwargs_b64"] = b64encode_text(kwargs)
    if options.fn_name:
        fields["fn_name"] = options.fn_name
    if options.use_cache:
        fields["use_cache"] = True
    if options.cache_kwargs:
        fields["cache_kwargs"] = True
    if options.cache_key_override is not None:
        fields["cache_key_override"] = options.cache_key_override
    if options.pin:
        fields["pin"] = True
    if options.timeout is not None:
        fields["timeout"] = options.timeout
    return fields


# --- files --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file sent as one part of a ``multipart/form-data`` POST.

    A keyword argument that is an ``Upload``, a ``pathlib.Path`` (any
    ``os.PathLike``) or a binary file object (``open(path, "rb")``,
    ``io.BytesIO``) is sent as a file; the adaptor's ``run`` receives it as
    a Werkzeug ``FileStorage`` (``.filename``, ``.content_type``, ``.read()``).
    A list of them sends several parts of one name (``run`` gets a list).

    :param content: the file's bytes.
    :param filename: the name the adaptor sees (the argument's name when
        left out).
    :param content_type: its media type, guessed from ``filename`` when
        left out (``application/octet-stream`` when nothing fits).
    """

    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], content_type: str | None = None
    ) -> Upload:
        """The file at ``path``, named by its last component."""
        path = Path(path)
        return cls(path.read_bytes(), path.name, content_type)

    @property
    def media_type(self) -> str:
        """The content type sent: the one given, or one guessed from the name."""
        return self.content_type or guess_type(self.filename or "")

    def part(self) -> tuple[str, bytes, str]:
        """The ``(filename, bytes, content type)`` requests sends as a file part."""
        return self.filename or "file", self.content, self.media_type


def guess_type(filename: str) -> str:
    """The media type of a file name, ``application/octet-stream`` if unknown."""
    return mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"


def is_file(value: t.Any) -> bool:
    """Whether a keyword argument is sent as a file (see :class:`Upload`)."""
    if isinstance(value, Upload | os.PathLike):
        return True
    if isinstance(value, str | bytes | bytearray | memoryview):
        return False
    return callable(getattr(value, "read", None))


def _is_files(value: t.Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(map(is_file, value))


def as_upload(name: str, value: t.Any) -> Upload:
    """``value`` (see :func:`is_file`) as an :class:`Upload`; a file object is
    read from where it stands, and named after its file or else ``name``."""
    if isinstance(value, Upload):
        return value if value.filename else dataclasses.replace(value, filename=name)
    if isinstance(value, os.PathLike):
        return Upload.from_path(value)
    content = value.read()
    if isinstance(content, str):
        raise TypeError(
            f"{name!r} is a file opened in text mode; open it with 'rb' to send it."
        )
    filename = getattr(value, "name", None)
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    if not isinstance(filename, str) or not filename:
        filename = name
    return Upload(bytes(content), os.path.basename(filename) or name)


def split_files(
    kwargs: cabc.Mapping[str, t.Any],
) -> tuple[dict[str, t.Any], list[tuple[str, Upload]]]:
    """Keyword arguments split into those sent as JSON and the files (read
    now, so a request sent twice sends the same bytes)."""
    plain: dict[str, t.Any] = {}
    files: list[tuple[str, Upload]] = []
    for name, value in kwargs.items():
        if is_file(value):
            files.append((name, as_upload(name, value)))
        elif _is_files(value):
            files.extend((name, as_upload(name, item)) for item in value)
        else:
            plain[name] = value
    return plain, files


def query_fields(fields: dict[str, t.Any]) -> dict[str, str]:
    """The fields as query-string text (booleans become ``true``)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def build_url(url: str, fields: dict[str, t.Any]) -> str:
    """A GET URL: ``url`` with ``fields`` added to its query string."""
    query = urllib.parse.urlencode(query_fields(fields))
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return base + joiner + query + ("#" + fragment if fragment else "")


def basic_auth(auth: Auth | None) -> requests.auth.AuthBase | None:
    """Credentials for requests, sent as UTF-8 (requests alone would use Latin-1).

    ``"user:password"`` splits at the first colon.
    """
    if isinstance(auth, str):
        user, sep, password = auth.partition(":")
        if not sep:
            raise ValueError("auth must look like 'username:password'.")
        auth = (user, password)
    if isinstance(auth, tuple):
        user, password = auth
        return requests.auth.HTTPBasicAuth(
            user.encode("utf-8"), password.encode("utf-8")
        )
    return auth


# --- responses ----------------------------------------------------------


def error_from_response(response: requests.Response) -> OwtClientError:
    """Read owt's JSON error body (or whatever else came back) into an exception."""
    request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        return _error_from_body(response.status_code, body, request_id)
    text = response.text.strip()
    message = text[:500] if text else (response.reason or "no message")
    return OwtClientError(
        response.status_code, "http_error", message, request_id=request_id
    )


def _error_from_body(
    status: int, body: dict[str, t.Any], request_id: str | None = None
) -> OwtClientError:
    traceback = body.get("traceback")
    rid = body.get("request_id") or request_id
    return OwtClientError(
        status,
        str(body.get("error") or "error"),
        str(body.get("message") or ""),
        traceback=traceback if isinstance(traceback, str) else None,
        request_id=str(rid) if rid else None,
        body=body,
    )


def media_type(response: requests.Response) -> tuple[str, str | None]:
    """The response's media type (lower case) and its charset parameter, if any."""
    kind, params = parse_options_header(response.headers.get("Content-Type", ""))
    return kind.lower(), params.get("charset") or None


def decode_body(response: requests.Response) -> t.Any:
    """The body as JSON data, text or bytes, chosen by its Content-Type.

    JSON types give parsed data; ``text/*`` (and XML/JavaScript) give a
    ``str``, decoded with the declared charset or UTF-8; anything else,
    including no Content-Type, gives ``bytes``.
    """
    kind, charset = media_type(response)
    if kind == "application/json" or kind.endswith("+json"):
        return json.loads(response.content.decode(charset or "utf-8"))
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+xml"):
        return response.content.decode(charset or "utf-8", errors="replace")
    return response.content


@dataclasses.dataclass(frozen=True)
class Event:
    """One server-sent event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None

    def json(self) -> t.Any:
        """The event's data parsed as JSON."""
        return json.loads(self.data)


class SSEParser:
    """An incremental ``text/event-stream`` parser: feed it bytes, get events.

    Follows the WHATWG rules: lines end in LF, CRLF or CR; ``data`` lines
    join with newlines; a blank line dispatches; ``:`` starts a comment; an
    event without data is not dispatched; an unfinished event at the end of
    the stream is dropped (browsers' EventSource does the same).
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._first = True

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse ``chunk`` and return the events it completes."""
        text = self._decoder.decode(chunk)
        if self._first and text:
            text = text.removeprefix("\ufeff")
            self._first = False
        self._pending += text
        events: list[Event] = []
        start = 0
        pending = self._pending
        while True:
            found = _LINE_END.search(pending, start)
            if found is None:
                break
            if found.group() == "\r" and found.end() == len(pending):
                break  # a CRLF may be split across chunks: wait for the rest
            event = self._line(pending[start : found.start()])
            if event is not None:
                events.append(event)
            start = found.end()
        self._pending = pending[start:]
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return Event("\n".join(data), event or "message", self._id, self._retry)


def iter_events(chunks: cabc.Iterable[bytes]) -> cabc.Iterator[Event]:
    """Parse a byte stream into events as the bytes arrive."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)


def error_from_event(event: Event, status: int = 200) -> OwtClientError | None:
    """The error in owt's closing ``event: error`` (``None`` for other events)."""
    if event.event != "error":
        return None
    try:
        body = json.loads(event.data)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": "stream_error", "message": event.data}
    return _error_from_body(status, body)


def _closed_without_answer(error: requests.exceptions.ConnectionError) -> bool:
    """Whether the server took the request and closed before answering (an
    adaptor's stream failed at once), rather than not being reachable."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, urllib3.exceptions.ProtocolError)


def broken_off(response: requests.Response | None, error: Exception) -> OwtClientError:
    """The error for an answer cut off before its end (the server failed)."""
    return OwtClientError(
        response.status_code if response is not None else 200,
        "stream_aborted",
        f"The answer broke off before its end ({error}); the server's log says why.",
        request_id=response.headers.get("X-Request-Id") if response else None,
    )


class Stream:
    """A streamed response: iterate it for events (SSE) or byte chunks (anything else).

    Use it in a ``with`` block, or exhaust it, so the connection is released.
    """

    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self.is_sse = media_type(response)[0] == "text/event-stream"
        self._items = self._iterate()

    def _iterate(self) -> cabc.Generator[Event | bytes, None, None]:
        with self.response:
            chunks = self._chunks()
            if not self.is_sse:
                yield from chunks
                return
            for event in iter_events(chunks):
                error = error_from_event(event, self.response.status_code)
                if error is not None:
                    raise error
                yield event

    def _chunks(self) -> cabc.Iterator[bytes]:
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                if chunk:
                    yield chunk
        except requests.exceptions.ChunkedEncodingError as e:
            raise broken_off(self.response, e) from None

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Event | bytes:
        return next(self._items)

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._items.close()
        self.response.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the client ---------------------------------------------------------


class Client:
    """Calls one owt server (the URL may include a path: adaptors see it).

    :param url: the server's URL, e.g. ``http://127.0.0.1:9876/hello``.
    :param auth: ``"user:password"``, ``(user, password)`` or a requests auth.
    :param options: protocol fields sent with every call (see :class:`CallOptions`).
    :param http_timeout: seconds to wait for the server to connect and to
        answer each read; ``None`` (the default) waits as long as it takes.
    :param session: a ``requests.Session`` to reuse connections with.
    :param send_hash: send the code's SHA-256 (``code_sha256``) first, and
        the code only when the server answers ``unknown_code``, so code
        crosses the wire once per server; ``False`` sends the code each time.
    """

    #: Digests remembered as held by the server, at most this many.
    MAX_HELD = 1024

    def __init__(
        self,
        url: str = DEFAULT_URL,
        auth: Auth | None = None,
        *,
        options: CallOptions | None = None,
        http_timeout: float | None = None,
        session: requests.Session | None = None,
        send_hash: bool = True,
    ) -> None:
        self.base_url = url
        self.auth = basic_auth(auth)
        self.options = options or CallOptions()
        self.http_timeout = http_timeout
        self.session = session or requests.Session()
        self.send_hash = send_hash
        # Digests of code the server took from this client (see send).
        self._held: set[str] = set()

    def using(self, **options: t.Any) -> Client:
        """A client for the same server that sends these :class:`CallOptions`.

        ``owt.using(fn_name="main", use_cache=True).call(code, x=1)``
        """
        twin = Client(
            self.base_url,
            self.auth,
            options=dataclasses.replace(self.options, **options),
            http_timeout=self.http_timeout,
            session=self.session,
            send_hash=self.send_hash,
        )
        twin._held = self._held
        return twin

    def _options_for(self, source: Source) -> CallOptions:
        if source.fn_name and not self.options.fn_name:
            return dataclasses.replace(self.options, fn_name=source.fn_name)
        return self.options

    def fields(self, code: Target, kwargs: str | None = None) -> dict[str, t.Any]:
        """The protocol fields for ``code`` and argument text ``kwargs``: the
        code itself (never its hash), or the name of a :class:`Registered`."""
        if isinstance(code, Registered):
            return registered_fields(code.name, kwargs, self.options)
        source = load_source(code)
        return build_fields(source.text, kwargs, self._options_for(source))

    def url(self, code: Target, /, **kwargs: t.Any) -> str:
        """A GET URL that runs ``code`` with ``kwargs`` (the spec's ``owtify``).

        The URL carries the code itself (or a registered adaptor's name), so
        it works by itself; it carries no credentials, a browser asks for
        them itself.

        :raises owt.errors.UrlTooLong: when the server would refuse a URL
            this long (see :data:`owt.codec.MAX_REQUEST_TARGET`); use
            :meth:`call`, which sends a POST, instead.
        :raises ValueError: for a file argument, which only a POST can carry.
        """
        for name, value in kwargs.items():
            if is_file(value) or _is_files(value):
                raise ValueError(_GET_WITH_FILE.format(name=name))
        url = build_url(self.base_url, self.fields(code, _json_kwargs(kwargs)))
        return check_url_length(url)

    def send(
        self,
        code: Target,
        kwargs: str | None = None,
        *,
        method: str = "POST",
        stream: bool = False,
        files: cabc.Iterable[tuple[str, Upload]] | None = None,
    ) -> requests.Response:
        """Send a request and return the response, raising if it is an error.

        With ``send_hash`` (the default), the code's SHA-256 goes first and,
        if the server answers ``unknown_code``, the same request again with
        the code. With files, the code goes along at once unless the server
        already took it from this client (a file is bigger than a hash).

        :param code: adaptor code (see :func:`load_source`) or a :class:`Registered`.
        :param kwargs: argument text, JSON or a Python expression the server
            evaluates (``None`` for no arguments).
        :param method: ``POST`` sends a JSON body (multipart with files),
            ``GET`` a query string.
        :param stream: leave the body unread, to read it as it arrives.
        :param files: ``(name, Upload)`` pairs sent as file parts (POST only).
        :raises OwtClientError: for a 4xx or 5xx answer.
        :raises owt.errors.UrlTooLong: for a GET URL the server would refuse
            (with the code in it, as the second try would send it).
        """
        method = method.upper()
        uploads = list(files or ())
        if uploads and method != "POST":
            raise ValueError(_GET_WITH_FILE.format(name=uploads[0][0]))
        digest: str | None = None
        if isinstance(code, Registered):
            attempts = [registered_fields(code.name, kwargs, self.options)]
        else:
            source = load_source(code)
            options = self._options_for(source)
            attempts = [build_fields(source.text, kwargs, options)]
            digest = code_sha256(source.text)
            if self.send_hash and not (uploads and digest not in self._held):
                attempts.insert(
                    0, build_fields(source.text, kwargs, options, by_hash=True)
                )
        if method == "GET":
            check_url_length(build_url(self.base_url, attempts[-1]))
        for fields in attempts:
            response = self._request(method, fields, uploads, stream)
            if fields is attempts[-1] or not _asks_for_code(response):
                break
            response.close()  # a 404 unknown_code: send the code this time
        if response.status_code >= 400:
            with response:
                raise error_from_response(response)
        if digest is not None:
            if len(self._held) >= self.MAX_HELD:
                self._held.clear()
            self._held.add(digest)
        return response

    def _request(
        self,
        method: str,
        fields: dict[str, t.Any],
        uploads: list[tuple[str, Upload]],
        stream: bool,
    ) -> requests.Response:
        common: dict[str, t.Any] = {
            "auth": self.auth,
            "stream": stream,
            "timeout": self.http_timeout,
        }
        if method == "GET":
            common["params"] = query_fields(fields)
        elif uploads:
            common["data"] = query_fields(fields)
            common["files"] = [(name, upload.part()) for name, upload in uploads]
        else:
            common["json"] = fields
        try:
            return self.session.request(method, self.base_url, **common)
        except requests.exceptions.ConnectionError as e:
            if _closed_without_answer(e):
                raise broken_off(None, e) from None
            raise

    def call(self, code: Target, /, **kwargs: t.Any) -> t.Any:
        """Run ``code`` with ``kwargs`` and return the answer.

        JSON answers come back as data, text as ``str``, anything else as
        ``bytes`` (see :func:`decode_body`). File arguments (see
        :class:`Upload`) make the request a multipart POST.

        :raises OwtClientError: when the server answers with an error.
        """
        plain, files = split_files(kwargs)
        try:
            response = self.send(code, _json_kwargs(plain), files=files)
        except requests.exceptions.ChunkedEncodingError as e:
            raise broken_off(None, e) from None
        return decode_body(response)

    def stream(self, code: Target, /, **kwargs: t.Any) -> Stream:
        """Run ``code`` and read its answer as it arrives.

        Iterate the result: a ``text/event-stream`` answer yields
        :class:`Event` objects, any other answer yields byte chunks. An
        ``event: error`` from the server raises :class:`OwtClientError`.
        """
        plain, files = split_files(kwargs)
        return Stream(self.send(code, _json_kwargs(plain), stream=True, files=files))

    # --- registered adaptors ---

    def register(self, name: str, code: Code) -> dict[str, t.Any]:
        """Keep ``code`` on the server as the adaptor ``name`` (replacing one
        of that name), to call as ``Registered(name)``; it survives a restart.

        A function is registered by its source; call it with
        ``using(fn_name=...)`` unless it is named ``run``.

        :returns: the server's description: ``name``, ``digest``, ``size``,
            ``registered`` (when) and ``signature`` (``run``'s).
        :raises OwtClientError: e.g. ``bad_adaptor_name``, ``syntax_error``.
        """
        source = load_source(code)
        response = self._registry(
            "PUT",
            name,
            data=source.text.encode("utf-8"),
            headers={"Content-Type": "text/x-python; charset=utf-8"},
        )
        self._held.add(code_sha256(source.text))
        return t.cast(dict[str, t.Any], response.json())

    def adaptors(self) -> list[dict[str, t.Any]]:
        """The adaptors registered on the server, each described as
        :meth:`register` returns it."""
        found = self._registry("GET").json().get("adaptors", [])
        return t.cast(list[dict[str, t.Any]], found)

    def unregister(self, name: str) -> None:
        """Remove the adaptor registered as ``name``.

        :raises OwtClientError: ``unknown_adaptor`` (404) when there is none.
        """
        self._registry("DELETE", name).close()

    def registry_url(self, name: str | None = None) -> str:
        """``/_owt/adaptors`` (or ``/_owt/adaptors/NAME``) on this client's server."""
        path = "/_owt/adaptors"
        if name is not None:
            if not name:
                raise ValueError("a registered adaptor's name must be non-empty.")
            path += "/" + urllib.parse.quote(name, safe="")
        return urllib.parse.urljoin(self.base_url, path)

    def _registry(
        self, method: str, name: str | None = None, **kwargs: t.Any
    ) -> requests.Response:
        response = self.session.request(
            method,
            self.registry_url(name),
            auth=self.auth,
            timeout=self.http_timeout,
            **kwargs,
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response


_GET_WITH_FILE = (
    "{name!r} is a file, which only a POST (multipart/form-data) can carry; "
    "it can't go in a GET URL."
)


def _asks_for_code(response: requests.Response) -> bool:
    """Whether the server answered that it doesn't hold the code sent by hash."""
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == UNKNOWN_CODE


def _json_kwargs(kwargs: dict[str, t.Any]) -> str | None:
    return json.dumps(kwargs, ensure_ascii=False) if kwargs else None


__all__ = [
    "DEFAULT_URL",
    "UNKNOWN_CODE",
    "AssignmentError",
    "CallOptions",
    "Client",
    "CodeSourceError",
    "Event",
    "OwtClientError",
    "Registered",
    "SSEParser",
    "Source",
    "Stream",
    "Upload",
    "build_fields",
    "build_url",
    "code_sha256",
    "decode_body",
    "error_from_event",
    "error_from_response",
    "iter_events",
    "kwargs_text",
    "load_source",
    "parse_assignment",
    "parse_assignments",
    "parse_value",
    "registered_fields",
    "split_files",
]
