"""Web blocks: shape the last value into what owt sends back.

owt reads a returned tuple as ``(body, headers)``, ``(body, status)`` or
``(body, status, headers)``; these blocks build or extend those tuples.
"""

from __future__ import annotations

import collections.abc as cabc
import typing as t

from owt.sse import sse_event as sse_event
from owt.summat.core import Block
from owt.summat.core import State
from owt.summat.core import ValueBlock

if t.TYPE_CHECKING:
    import jinja2

EVENT_STREAM = "text/event-stream"


class Sse(ValueBlock[t.Any, tuple[cabc.Iterator[str], dict[str, str]]]):
    """``sse()``: stream the last value's items as server-sent events.

    Each item becomes one ``data:`` event (text as it is, one ``data:`` line per
    line of it; bytes decoded as UTF-8; anything else as JSON), then a final
    ``data: [DONE]``. The items are read as the client receives them, so a
    generator streams. A single string or non-iterable value is one event.

    :param done: the closing event's data; ``None`` sends no closing event.
    """

    def __init__(self, done: str | None = "[DONE]") -> None:
        self.done = done

    def apply(self, value: t.Any) -> tuple[cabc.Iterator[str], dict[str, str]]:
        return self._events(value), {"Content-Type": EVENT_STREAM}

    def _events(self, value: t.Any) -> cabc.Iterator[str]:
        single = isinstance(value, str | bytes) or not isinstance(value, cabc.Iterable)
        for item in [value] if single else value:
            yield sse_event(item)
        if self.done is not None:
            yield sse_event(self.done)


class Render(Block[t.Any, str]):
    """``render(template)``: render a Jinja2 template string; the last value
    becomes the text. The template sees every name, plus ``last``.

    :param autoescape: escape values for HTML (on by default: the usual use
        is a page built from request input).
    """

    def __init__(self, template: str, autoescape: bool = True) -> None:
        self.template = template
        self.autoescape = autoescape
        self._compiled: jinja2.Template | None = None

    def step(self, state: State[t.Any]) -> State[str]:
        if self._compiled is None:
            import jinja2

            env = jinja2.Environment(autoescape=self.autoescape)
            self._compiled = env.from_string(self.template)
        text = self._compiled.render({**state.names, "last": state.last})
        return state.with_last(text)


class Header(ValueBlock[t.Any, tuple[t.Any, ...]]):
    """``header(name, value)``: add a response header.

    A plain value becomes ``(value, {name: value})``; ``(body, headers)`` and
    ``(body, status, headers)`` gain the header; ``(body, status)`` becomes
    ``(body, status, {name: value})``.
    """

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def apply(self, value: t.Any) -> tuple[t.Any, ...]:
        return with_header(value, self.name, self.value)


def with_header(reply: t.Any, name: str, value: str) -> tuple[t.Any, ...]:
    """``reply`` with the header ``name: value`` added (see :class:`Header`)."""
    added = {name: value}
    if isinstance(reply, tuple):
        if len(reply) == 2 and isinstance(reply[1], cabc.Mapping):
            return (reply[0], _merge(reply[1], added))
        if len(reply) == 2 and isinstance(reply[1], int):
            return (reply[0], reply[1], added)
        if len(reply) == 3 and isinstance(reply[2], cabc.Mapping):
            return (reply[0], reply[1], _merge(reply[2], added))
    return (reply, added)


def _merge(headers: cabc.Mapping[str, str], added: dict[str, str]) -> dict[str, str]:
    # Header names are case-insensitive: a new Content-Type replaces a
    # content-type, it does not sit beside it.
    lowered = {k.lower() for k in added}
    return {k: v for k, v in headers.items() if k.lower() not in lowered} | added


def content_type_header(mime: str) -> Header:
    """``content_type(mime)``: :class:`Header` for ``Content-Type``."""
    return Header("Content-Type", mime)
