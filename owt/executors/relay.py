"""The one stream relay: an adaptor's stream on its way to the client.

Both executors hand :func:`relay` a source of encoded chunks (the adaptor's
own generator inline, the worker's messages in process mode). The relay
tells the cache's watcher what it sends, ends a failing stream the one way
owt ends streams (an ``event: error`` for server-sent events; a cut-off
response otherwise), and always closes the source.
"""

from __future__ import annotations

import collections.abc as cabc
import logging
import typing as t

from owt.errors import OwtError
from owt.errors import RequestCancelled
from owt.errors import StreamAborted
from owt.execute import adaptor_failure
from owt.response import sse_error_event

if t.TYPE_CHECKING:
    from owt.cache import StreamEnd
    from owt.cache import StreamWatcher

log = logging.getLogger("owt")

#: Encoded chunks; its return value says how it ended: ``completed``, or
#: ``failed`` when the failure was already reported in the chunks (a worker's
#: own ``event: error``), or ``closed`` when its client went away.
Source = cabc.Generator[bytes, None, "StreamEnd"]


def relay(
    source: Source,
    *,
    sse: bool,
    request_id: str,
    watcher: StreamWatcher | None = None,
) -> cabc.Iterator[bytes]:
    """Yield ``source``'s chunks, ending it cleanly on failure.

    The first item is an empty start marker for the caller to consume, so
    that closing the response unread still closes ``source``. ``watcher``
    sees each chunk sent and, once, how the stream ended.
    """
    ended: StreamEnd = "closed"
    try:
        if watcher is not None:
            watcher.start()
        yield b""
        ended = yield from _watched(source, watcher)
        if ended == "failed" and not sse:
            raise StreamAborted.of(request_id)
    except (GeneratorExit, StreamAborted):
        raise
    except BaseException as e:
        error = e if isinstance(e, OwtError) else adaptor_failure(e, "streaming from")
        ended = "closed" if isinstance(error, RequestCancelled) else "failed"
        trace = error.details.get("traceback")
        log.error(
            "stream failed (request %s): %s%s",
            request_id,
            error.message,
            f"\n{trace}" if trace else "",
        )
        if not sse:
            raise StreamAborted.of(request_id) from None
        event = sse_error_event(error.kind, error.message)
        if watcher is not None:
            watcher.chunk(event)
        yield event
    finally:
        source.close()
        if watcher is not None:
            watcher.end(ended)


class StreamOutcome:
    """A watcher that only remembers how a stream ended (for a worker or a
    slot to tell the front)."""

    def __init__(self) -> None:
        self.outcome: StreamEnd | None = None

    def start(self) -> None:
        pass  # nothing to note at the start

    def chunk(self, data: bytes) -> None:
        pass  # the chunks travel on their own

    def end(self, outcome: StreamEnd) -> None:
        self.outcome = outcome


def _watched(
    source: Source, watcher: StreamWatcher | None
) -> cabc.Generator[bytes, None, StreamEnd]:
    while True:
        try:
            chunk = next(source)
        except StopIteration as done:
            return t.cast("StreamEnd", done.value or "completed")
        if watcher is not None:
            watcher.chunk(chunk)
        yield chunk
