"""A streamed answer, read as it arrives: :class:`Stream` yields the events
of a ``text/event-stream``, or the byte chunks of anything else.
"""

from __future__ import annotations

import collections.abc as cabc

import requests

from owt.client.events import Event
from owt.client.events import iter_events
from owt.client.responses import broken_off
from owt.client.responses import error_from_event
from owt.client.responses import media_type


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
