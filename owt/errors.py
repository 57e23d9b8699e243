"""The exceptions owt raises, each carrying its HTTP status and error kind.

Every error owt answers with becomes one JSON shape (see
:func:`owt.response.error_response`)::

    {"error": kind, "message": text, "request_id": id, ...details}

``kind`` is a stable, machine-readable word; ``message`` is a sentence for
people. Adaptor failures add ``type``, ``traceback``, ``stdout`` and ``stderr``.
"""

from __future__ import annotations

import copy
import functools
import typing as t


class OwtError(Exception):
    """Base class: an error that owt turns into a structured HTTP response."""

    status: t.ClassVar[int] = 500
    kind: t.ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: t.Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        #: Headers the error's response carries besides the usual ones.
        self.headers: dict[str, str] = {}

    def copy(self, headers: dict[str, str]) -> OwtError:
        """The same error again (for another request), with ``headers``."""
        twin = copy.copy(self)
        twin.details = dict(self.details)
        twin.headers = {**self.headers, **headers}
        return twin

    def body(self) -> dict[str, t.Any]:
        """The JSON error body, without the request id."""
        return {"error": self.kind, "message": self.message, **self.details}


class BadRequest(OwtError):
    """The request itself is malformed: fix the request and send it again."""

    status = 400
    kind = "bad_request"


class MissingCode(BadRequest):
    """No adaptor code was sent."""

    kind = "missing_code"


class AdaptorSyntaxError(BadRequest):
    """The adaptor code does not compile."""

    kind = "syntax_error"


class EntrypointNotFound(BadRequest):
    """The adaptor defines no function of the requested name."""

    kind = "entrypoint_not_found"


class ArgumentsMismatch(BadRequest):
    """The arguments sent don't fit the entrypoint's parameters."""

    kind = "bad_arguments"


class UrlTooLong(BadRequest):
    """A GET URL longer than owt's HTTP front accepts; clients raise it before
    sending, as the server would answer a bare 414 without reaching owt."""

    status = 414
    kind = "url_too_long"


class Unauthorized(OwtError):
    """Credentials are missing or wrong."""

    status = 401
    kind = "unauthorized"


class Forbidden(OwtError):
    """The request came from somewhere owt does not accept code from."""

    status = 403
    kind = "forbidden"


class NotFound(OwtError):
    """A reserved ``/_owt/`` path that does not exist."""

    status = 404
    kind = "not_found"


class UnknownCode(NotFound):
    """``code_sha256`` names code this server doesn't hold: send the code."""

    kind = "unknown_code"


class UnknownAdaptor(NotFound):
    """``adaptor`` names no registered adaptor."""

    kind = "unknown_adaptor"


class BadAdaptorName(BadRequest):
    """A registered adaptor's name owt can't keep as a file."""

    kind = "bad_adaptor_name"


class PayloadTooLarge(OwtError):
    """The request body is over the size limit."""

    status = 413
    kind = "payload_too_large"


class Overloaded(OwtError):
    """Too many adaptors are running; try again shortly."""

    status = 503
    kind = "overloaded"


class AdaptorError(OwtError):
    """The adaptor raised while loading or running."""

    status = 500
    kind = "adaptor_error"


class BadAdaptorResult(AdaptorError):
    """The adaptor returned something owt cannot turn into a response."""

    kind = "bad_adaptor_result"


class AdaptorTimeout(OwtError):
    """The adaptor ran past its time limit and was stopped."""

    status = 504
    kind = "timeout"


class WorkerDied(OwtError):
    """The worker process running the adaptor died."""

    status = 502
    kind = "worker_died"


class CodecError(BadRequest):
    """A protocol field could not be decoded."""

    kind = "bad_encoding"


class KwargsNotAMapping(CodecError):
    """The arguments decode to something other than names and values."""

    kind = "kwargs_not_an_object"


class BodyTimeout(OwtError):
    """The client stopped sending its request body for too long."""

    status = 408
    kind = "request_timeout"


class KwargsTooDeep(BadRequest):
    """The decoded arguments nest deeper than ``--max-kwargs-depth``."""

    kind = "kwargs_too_deep"


class AudioFormatError(BadRequest):
    """Audio that can't be read, or clips that can't be joined."""

    kind = "bad_audio"


class BarkUnavailable(AdaptorError):
    """The ``bark`` package can't be imported by this owt server."""

    kind = "bark_unavailable"


class TooManyTexts(BadRequest):
    """More texts in one request than :data:`MAX_TEXTS`."""

    kind = "too_many_texts"


class UnknownSpeaker(BadRequest):
    """A ``speaker`` that is neither a Bark speaker nor an espeak voice."""

    kind = "unknown_speaker"


class CommandNotFound(AdaptorError):
    """A program an adaptor needs is not installed."""

    kind = "command_not_found"


class CommandFailed(AdaptorError):
    """A program exited with a non-zero status or ran out of time."""

    kind = "command_failed"


class BadSpeechRequest(BadRequest):
    """A TTS argument that can't be used (empty text, bad template...)."""

    kind = "bad_speech_request"


class RequestCancelled(OwtError):
    """The request was cancelled (``DELETE /_owt/requests/<id>``) or its
    client went away, and its adaptor was stopped."""

    status = 409
    kind = "cancelled"


class CancelUnsupported(OwtError):
    """The inline executor can't stop a running adaptor."""

    status = 409
    kind = "cancel_unsupported"


def _known_classes() -> list[type[OwtError]]:
    found: list[type[OwtError]] = []
    todo: list[type[OwtError]] = [OwtError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def find_class(qualified_name: str) -> type[OwtError] | None:
    """The :class:`OwtError` subclass named ``module.QualName``, if owt has it."""
    for cls in _known_classes():
        if f"{cls.__module__}.{cls.__qualname__}" == qualified_name:
            return cls
    return None


@functools.cache
def error_class(status: int, kind: str) -> type[OwtError]:
    """The :class:`OwtError` subclass for an error known by its status and
    kind alone (one of Werkzeug's, or a worker's that owt has no class for).
    """
    for cls in _known_classes():
        if (cls.status, cls.kind) == (status, kind):
            return cls
    name = "".join(part.title() for part in kind.split("_")) or "Http"
    attributes = {"status": status, "kind": kind, "__module__": __name__}
    return type(f"{name}Error", (OwtError,), attributes)


class CacheUnavailable(OwtError):
    """The response cache's store can't be reached (Redis is down). A call
    then runs uncached; only the cache's own endpoint answers with it."""

    status = 503
    kind = "cache_unavailable"


def plain(value: t.Any, depth: int = 0) -> t.Any:
    """``value`` as plain data (JSON's types and bytes; ``repr`` for the rest)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    return repr(value)


def error_to_data(error: OwtError) -> dict[str, t.Any]:
    """``error`` as plain data, to hand to another process or front end."""
    cls = type(error)
    return {
        "error_class": f"{cls.__module__}.{cls.__qualname__}",
        "status": error.status,
        "kind": error.kind,
        "message": error.message,
        "details": plain(error.details),
    }


def error_from_data(data: t.Mapping[str, t.Any]) -> OwtError:
    """The :class:`OwtError` :func:`error_to_data` described: the same class
    when owt knows it, else the class for its status and kind."""
    status, kind = data.get("status"), data.get("kind")
    cls = find_class(str(data.get("error_class")))
    if isinstance(status, int) and isinstance(kind, str):
        if cls is None or (cls.status, cls.kind) != (status, kind):
            cls = error_class(status, kind)
    cls = cls or OwtError
    message = str(data.get("message", "an error was reported"))
    details = data.get("details")
    error = cls.__new__(cls)
    OwtError.__init__(error, message, **(details if isinstance(details, dict) else {}))
    return error


class StreamAborted(Exception):
    """A plain stream failed after it started: the response must be cut off.

    Its status line has been sent, so the only honest signal left is to end
    the connection without the chunked body's last chunk; clients then see
    an incomplete response rather than a success. (A server-sent-event stream
    ends with an ``event: error`` instead.)
    """

    @classmethod
    def of(cls, request_id: str) -> StreamAborted:
        """The error for request ``request_id``, whose failure owt has logged.

        The message holds no text of the adaptor's, so that a server logging
        it verbatim can't be made to print a forged line.
        """
        return cls(f"the stream of request {request_id} failed (logged above)")


class SealedModuleError(AttributeError):
    """An attempt to rebind a name of a sealed owt module."""


class ChannelClosed(Exception):
    """The other end of the channel is gone."""


class ProtocolError(Exception):
    """A frame that does not follow this protocol."""


class OwtClientError(Exception):
    """The server answered with an error (or ended a stream with one).

    :ivar status: the HTTP status (200 for an error that ends a stream).
    :ivar kind: the server's machine-readable error word, e.g. ``adaptor_error``.
    :ivar message: the server's sentence about what went wrong.
    :ivar traceback: the adaptor's traceback text, when the adaptor raised.
    :ivar request_id: the server's id for the request, to find it in its log.
    :ivar body: the whole decoded error body (``type``, ``stdout``, ``stderr``...).
    """

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        traceback: str | None = None,
        request_id: str | None = None,
        body: dict[str, t.Any] | None = None,
    ) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        self.traceback = traceback
        self.request_id = request_id
        self.body: dict[str, t.Any] = body or {}
        super().__init__(self._summary())

    @property
    def error_type(self) -> str | None:
        """The Python exception type the adaptor raised, if the server said."""
        value = self.body.get("type")
        return value if isinstance(value, str) else None

    def _where(self) -> str:
        # An error event ends a stream whose status was already 200.
        return "in the stream" if self.status < 400 else f"HTTP {self.status}"

    def _summary(self) -> str:
        head = f"{self.kind} ({self._where()}): {self.message}"
        if self.traceback:
            head += "\n" + self.traceback.rstrip("\n")
        return head

    def describe(self) -> str:
        """Everything the server said, as text for a terminal."""
        lines = [f"owt: {self.kind} ({self._where()}): {self.message}"]
        if self.traceback:
            lines += ["", self.traceback.rstrip("\n")]
        for name in ("stdout", "stderr"):
            value = self.body.get(name)
            if isinstance(value, str) and value:
                lines += ["", f"adaptor {name}:", value.rstrip("\n")]
        if self.request_id:
            lines += ["", f"request id: {self.request_id}"]
        return "\n".join(lines)


class AssignmentError(ValueError):
    """A ``NAME=VALUE`` argument has no ``=`` or an empty name."""


class CodeSourceError(ValueError):
    """The code given cannot be turned into adaptor source."""


class PortUnavailable(OSError):
    """The address and port ``owt serve`` was asked to listen on can't be had."""
