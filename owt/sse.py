"""Server-sent-event framing: the one place owt writes an event."""

from __future__ import annotations

import json
import typing as t


def sse_event(
    data: t.Any, event: str | None = None, event_id: str | None = None
) -> str:
    """One event as text, blank line after: ``data`` as is if text (bytes
    decoded as UTF-8), else as JSON; an ``event:`` and ``id:`` line if given.

    A multi-line string becomes several ``data:`` lines, which a reader joins
    back with newlines.

    :raises ValueError: for an ``event`` or ``event_id`` with a line break.
    """
    if isinstance(data, bytes):
        text = data.decode("utf-8")
    elif isinstance(data, str):
        text = data
    else:
        text = json.dumps(data)
    lines: list[str] = []
    if event is not None:
        lines.append(f"event: {_one_line(event, 'event')}")
    if event_id is not None:
        lines.append(f"id: {_one_line(event_id, 'event_id')}")
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return "\n".join(lines) + "\n\n"


def _one_line(value: str, name: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"An SSE {name} can't contain a line break: {value!r}.")
    return value
