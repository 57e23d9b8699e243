"""Run one call: load the adaptor, call it, and build the response.

This is the inline executor: adaptor code runs in the server process, on the
request's thread. Adaptor output printed meanwhile is captured for the error
body. Streams are started here (their first chunk is produced before the
response begins, so an adaptor that fails straight away still gets a proper
500) and continue on the server's thread as the client reads.
"""

from __future__ import annotations

import collections.abc as cabc
import logging
import typing as t

from flask import g
from flask import request as flask_request
from flask import stream_with_context
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt import capture
from owt.cache import CACHE_STATE_ENVIRON
from owt.cache import MB
from owt.cache import CacheState
from owt.cache import ResponseCache
from owt.cache import StreamEnd
from owt.cache import StreamWatcher
from owt.cache import plan_for
from owt.codec import resolve_kwargs
from owt.errors import AdaptorError
from owt.errors import OwtError
from owt.errors import StreamAborted
from owt.execute import CodeCache
from owt.execute import adaptor_failure
from owt.execute import call_entrypoint
from owt.request import Call
from owt.response import Body
from owt.response import check_header
from owt.response import encode_chunk
from owt.response import is_event_stream
from owt.response import map_body
from owt.response import split_result
from owt.response import sse_error_event
from owt.response import stream_content_type
from owt.runtime import ServeOptions

log = logging.getLogger("owt")


class InlineExecutor:
    """Runs adaptors in this process, keeping loaded code warm."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.code_cache = CodeCache(options.code_cache_size)
        self.response_cache = ResponseCache(
            int(options.cache_mb * MB), options.cache_ttl
        )

    def respond(self, call: Call, digest: str) -> Response:
        """Answer ``call``: from the response cache if it asks for it and
        has it, else by running it (see :mod:`owt.cache`).

        :raises OwtError: as :meth:`run_call`.
        """
        plan = plan_for(call, digest, flask_request.path)
        return self.response_cache.respond(
            plan, lambda watcher: self.run_call(call, digest, watcher), _note_cache
        )

    def run_call(
        self, call: Call, digest: str, watcher: StreamWatcher | None = None
    ) -> Response:
        """Run ``call`` and turn its result into a response.

        :raises OwtError: for a bad request or a failing adaptor (with the
            adaptor's captured stdout and stderr).
        """
        with capture.capturing() as captured:
            try:
                adaptor = self.code_cache.get(call.source, digest, self.options.copy)
                plan = adaptor.plan(call.fn_name)
                # Inside the concurrency slot: an expression is caller code.
                arguments = resolve_kwargs(
                    call.arguments, self.options.max_kwargs_depth
                )
                result = call_entrypoint(plan, arguments, flask_request)
                return build_response(result, watcher)
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


def _note_cache(state: CacheState) -> None:
    flask_request.environ[CACHE_STATE_ENVIRON] = state


def build_response(result: t.Any, watcher: StreamWatcher | None = None) -> Response:
    """A response for an adaptor's result (see :mod:`owt.response`).

    ``watcher`` sees the chunks and the end of a streamed result.
    """
    if isinstance(result, Response):
        return _checked(result)
    value, status, header_items = split_result(result)
    if isinstance(value, Response):
        value.status_code = status if status != 200 else value.status_code
        value.headers.extend(header_items)
        return _checked(value)
    body = map_body(value)
    headers = Headers(header_items)
    if body.stream is None:
        if body.content_type and "Content-Type" not in headers:
            headers["Content-Type"] = body.content_type
        return Response(body.data, status=status, headers=headers)
    return _stream_response(body, status, headers, watcher)


def _checked(response: Response) -> Response:
    """An adaptor's own ``Response``, its headers held to the same rules as
    any other result's (no line breaks or NUL, nothing about the connection).
    """
    for name, header_value in response.headers.items():
        check_header(name, header_value)
    return response


def _stream_response(
    body: Body, status: int, headers: Headers, watcher: StreamWatcher | None
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
    chunks = _relay(first, iterator, sse, watcher)
    next(chunks)  # past the start marker: closing it now always runs its cleanup
    return Response(stream_with_context(chunks), status=status, headers=headers)


def _relay(
    first: t.Any,
    rest: cabc.Iterator[t.Any],
    sse: bool,
    watcher: StreamWatcher | None = None,
) -> cabc.Iterator[bytes]:
    """Yield the stream's chunks; on failure end it cleanly, and always close it.

    The first item is an empty start marker for the caller to consume, so
    that the cleanup below runs even if the response is closed unstarted.
    ``watcher`` sees each chunk sent and, once, how the stream ended: all
    sent, the adaptor failed, or closed early (the client went away).
    """
    ended: StreamEnd = "closed"
    try:
        if watcher is not None:
            watcher.start()
        yield b""
        if first is not None:
            yield _seen(encode_chunk(first), watcher)
        for chunk in rest:
            yield _seen(encode_chunk(chunk), watcher)
        ended = "completed"
    except GeneratorExit:
        raise
    except BaseException as e:
        ended = "failed"
        failure = adaptor_failure(e, "streaming from")
        log.error(
            "stream failed (request %s): %s\n%s",
            g.get("request_id", "-"),
            failure.message,
            failure.details["traceback"],
        )
        if not sse:
            raise StreamAborted.of(g.get("request_id", "-")) from None
        yield _seen(sse_error_event(failure.kind, failure.message), watcher)
    finally:
        _close(rest)
        if watcher is not None:
            watcher.end(ended)


def _seen(data: bytes, watcher: StreamWatcher | None) -> bytes:
    if watcher is not None:
        watcher.chunk(data)
    return data


def _close(iterator: t.Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("closing the adaptor's stream failed")
