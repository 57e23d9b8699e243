"""The inline executor: load the adaptor, call it, and build the response.

It is the default: adaptor code runs in the server process, on the
request's thread. Adaptor output printed meanwhile is captured for the error
body. Streams are started here (their first chunk is produced before the
response begins, so an adaptor that fails straight away still gets a proper
500) and continue on the server's thread as the client reads.
"""

from __future__ import annotations

import collections.abc as cabc
import logging
import typing as t

from flask import stream_with_context
from werkzeug.datastructures import Headers
from werkzeug.datastructures import MIMEAccept
from werkzeug.wrappers import Response

from owt import capture
from owt.cache import StreamWatcher
from owt.codec import resolve_kwargs
from owt.errors import AdaptorError
from owt.errors import CancelUnsupported
from owt.errors import OwtError
from owt.execute import CodeCache
from owt.execute import adaptor_failure
from owt.execute import call_entrypoint
from owt.executors.relay import Source
from owt.executors.relay import relay
from owt.options import ServeOptions
from owt.request import Call
from owt.request import with_form_arguments
from owt.response import Accept
from owt.response import Body
from owt.response import check_header
from owt.response import encode_chunk
from owt.response import is_event_stream
from owt.response import map_body
from owt.response import split_result
from owt.response import stream_content_type

log = logging.getLogger("owt")


class InlineExecutor:
    """Runs adaptors in this process, keeping loaded code warm."""

    keeps_body = False

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.code_cache = CodeCache(options.code_cache_size)

    def warm_count(self) -> int:
        """How many distinct adaptors are loaded."""
        return len(self.code_cache)

    def is_warm(self, digest: str) -> bool:
        """Whether the code with ``digest`` is loaded."""
        return digest in self.code_cache

    def run(self, call: Call, watcher: StreamWatcher | None = None) -> Response:
        """Run ``call`` and turn its result into a response.

        :raises OwtError: for a bad request or a failing adaptor (with the
            adaptor's captured stdout and stderr).
        """
        with capture.capturing() as captured:
            try:
                adaptor = self.code_cache.get(
                    call.source, call.digest, self.options.copy
                )
                plan = adaptor.plan(call.fn_name)
                # Inside the concurrency slot: an expression is caller code.
                arguments = resolve_kwargs(
                    call.arguments, self.options.max_kwargs_depth
                )
                arguments = with_form_arguments(arguments, call.http, plan.takes)
                result = call_entrypoint(plan, arguments, call.http)
                return build_response(result, call.request_id, watcher, _accept(call))
            except OwtError as e:
                if isinstance(e, AdaptorError):
                    e.details["stdout"] = captured.text("stdout")
                    e.details["stderr"] = captured.text("stderr")
                raise
            except BaseException as e:
                failure = adaptor_failure(e, "running")
                failure.details["stdout"] = captured.text("stdout")
                failure.details["stderr"] = captured.text("stderr")
                raise failure from None

    def cancel(self, request_id: str) -> bool:
        """Refused: an adaptor running in the server's thread can't be stopped.

        :raises CancelUnsupported: always.
        """
        raise CancelUnsupported(
            "The inline executor can't stop a running adaptor; start owt with "
            "--executor process to cancel requests."
        )

    def describe(self) -> dict[str, t.Any]:
        """Just the executor's name: it has no workers."""
        return {"executor": "inline"}

    def close(self) -> None:
        """Nothing to stop."""


def build_response(
    result: t.Any,
    request_id: str = "-",
    watcher: StreamWatcher | None = None,
    accept: Accept = None,
) -> Response:
    """A response for an adaptor's result (see :mod:`owt.response`).

    ``watcher`` sees the chunks and the end of a streamed result. ``accept``
    is the request's ``Accept``, for results with more than one
    representation (a NumPy array); not used when the adaptor set the
    ``Content-Type`` itself.
    """
    if isinstance(result, Response):
        return _checked(result)
    value, status, header_items = split_result(result)
    if isinstance(value, Response):
        value.status_code = status if status != 200 else value.status_code
        value.headers.extend(header_items)
        return _checked(value)
    typed = any(name.lower() == "content-type" for name, _ in header_items)
    body = map_body(value, None if typed else accept)
    if not body.headers and body.stream is None:
        # The common case, kept cheap: no header to merge.
        if body.content_type and not typed:
            header_items = [*header_items, ("Content-Type", body.content_type)]
        return Response(body.data, status=status, headers=header_items)
    headers = Headers(header_items)
    _describe_body(headers, body)
    if body.stream is None:
        if body.content_type and not typed:
            headers["Content-Type"] = body.content_type
        return Response(body.data, status=status, headers=headers)
    return _stream_response(body, status, headers, request_id, watcher)


def _accept(call: Call) -> t.Callable[[], MIMEAccept] | None:
    """The request's ``Accept``, read only if a result needs it."""
    http = call.http
    return None if http is None else (lambda: http.accept_mimetypes)


def _describe_body(headers: Headers, body: Body) -> None:
    """Add the headers that describe ``body`` to the adaptor's ``headers``:
    the adaptor's own win, except a file's true ``Content-Length``, and
    ``Vary`` values are merged."""
    for name, value in body.headers:
        if name == "Content-Length":
            headers[name] = value
        elif name == "Vary" and name in headers:
            present = {v.strip().lower() for v in headers[name].split(",")}
            if value.lower() not in present and "*" not in present:
                headers[name] = f"{headers[name]}, {value}"
        else:
            headers.setdefault(name, value)


def _checked(response: Response) -> Response:
    """An adaptor's own ``Response``, its headers held to the same rules as
    any other result's (no line breaks or NUL, nothing about the connection).
    """
    for name, header_value in response.headers.items():
        check_header(name, header_value)
    return response


def _stream_response(
    body: Body,
    status: int,
    headers: Headers,
    request_id: str,
    watcher: StreamWatcher | None,
) -> Response:
    iterator = t.cast(cabc.Iterator[t.Any], body.stream)
    try:
        first = next(iterator)
    except StopIteration:
        first = None
    except BaseException as e:
        _close(iterator)
        raise adaptor_failure(e, "starting the stream of") from None
    if "Content-Type" not in headers:
        headers["Content-Type"] = body.content_type or stream_content_type(first)
    sse = is_event_stream(headers)
    if sse:
        headers.setdefault("Cache-Control", "no-cache")
        headers.setdefault("X-Accel-Buffering", "no")
    source = _encoded(first, iterator)
    chunks = relay(source, sse=sse, request_id=request_id, watcher=watcher)
    next(chunks)  # past the start marker: closing it now always closes the source
    return Response(stream_with_context(chunks), status=status, headers=headers)


def _encoded(first: t.Any, rest: cabc.Iterator[t.Any]) -> Source:
    """The adaptor's chunks, encoded; closing this closes the adaptor's stream."""
    try:
        if first is not None:
            yield encode_chunk(first)
        for chunk in rest:
            yield encode_chunk(chunk)
        return "completed"
    finally:
        _close(rest)


def _close(iterator: t.Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("closing the adaptor's stream failed")
