"""Server-sent events: :class:`Event`, and :class:`SSEParser`, which reads
them from a ``text/event-stream`` as its bytes arrive.
"""

from __future__ import annotations

import codecs
import collections.abc as cabc
import dataclasses
import json
import re
import typing as t

_LINE_END = re.compile(r"\r\n|\r|\n")


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
