"""Server-sent events: build them in an adaptor, read them in a client.

An adaptor that streams events returns ``event_stream(items)``, a
``(generator, headers)`` pair owt sends as ``text/event-stream``::

    from owt.lib.stream import event_stream

    def run(n: int = 3):
        return event_stream({"i": i} for i in range(n))

which sends ``data: {"i": 0}``, ``data: {"i": 1}``, ``data: {"i": 2}`` and
then ``data: [DONE]``, each followed by a blank line. ``iter_data`` reads
those payloads back from the lines of a response.
"""

from __future__ import annotations

import collections.abc as cabc
import json
import typing as t

from owt.sse import sse_event as sse_event

#: The payload of the last event of a stream, as OpenAI-style clients expect.
DONE = "[DONE]"

#: Headers that make a response an event stream and keep proxies from
#: buffering it.
SSE_HEADERS: t.Final[dict[str, str]] = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def sse_done() -> str:
    """The closing ``data: [DONE]`` event."""
    return sse_event(DONE)


def event_stream(
    items: cabc.Iterable[t.Any], *, done: bool = True
) -> tuple[cabc.Iterator[str], dict[str, str]]:
    """An adaptor result streaming each item as one event, then ``[DONE]``.

    :param items: payloads; dicts and lists are sent as JSON, strings as is.
    :param done: whether to end with the ``[DONE]`` event.
    """

    def generate() -> cabc.Iterator[str]:
        for item in items:
            yield sse_event(item)
        if done:
            yield sse_done()

    return generate(), dict(SSE_HEADERS)


def iter_data(lines: cabc.Iterable[str | bytes]) -> cabc.Iterator[str]:
    """The ``data`` payload of each event in ``lines`` (``[DONE]`` included).

    Accepts what ``requests``' ``iter_lines()`` gives, or ``text.splitlines()``.
    Comments and other fields are skipped.
    """
    buffer: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


def iter_json(lines: cabc.Iterable[str | bytes]) -> cabc.Iterator[t.Any]:
    """Decoded JSON payloads of the events in ``lines``, stopping at ``[DONE]``."""
    for data in iter_data(lines):
        if data == DONE:
            return
        yield json.loads(data)
