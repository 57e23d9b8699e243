"""Capture what an adaptor prints, per request, while still echoing it.

``install()`` replaces ``sys.stdout`` and ``sys.stderr`` once with streams that
write through to the originals and, on a thread that is inside
``capturing()``, also into that request's buffer. Error responses carry the
captured text, so a caller sees the adaptor's prints next to its traceback.
"""

from __future__ import annotations

import io
import sys
import threading
import typing as t

#: Keep at most this much captured text per stream and request.
CAPTURE_LIMIT = 64 * 1024

_local = threading.local()


class _Captured:
    """One request's printed text; a buffer is made on its first write
    (most adaptors print nothing)."""

    def __init__(self) -> None:
        self.stdout: io.StringIO | None = None
        self.stderr: io.StringIO | None = None

    def write(self, which: str, text: str) -> None:
        buffer = getattr(self, which)
        if buffer is None:
            buffer = io.StringIO()
            setattr(self, which, buffer)
        buffer.write(text)

    def text(self, which: str) -> str:
        buffer = getattr(self, which)
        value: str = "" if buffer is None else buffer.getvalue()
        if len(value) > CAPTURE_LIMIT:
            return "...(truncated)...\n" + value[-CAPTURE_LIMIT:]
        return value


class _TeeStream(io.TextIOBase):
    """Writes to the real stream and to the current request's buffer."""

    def __init__(self, real: t.TextIO, which: str) -> None:
        self._real = real
        self._which = which

    def write(self, text: str) -> int:
        captured: _Captured | None = getattr(_local, "captured", None)
        if captured is not None:
            captured.write(self._which, text)
        return self._real.write(text)

    def flush(self) -> None:
        self._real.flush()

    def isatty(self) -> bool:
        return self._real.isatty()

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    @property
    def buffer(self) -> t.Any:
        return getattr(self._real, "buffer", None)


def install() -> None:
    """Route ``sys.stdout``/``sys.stderr`` through capturing streams (once)."""
    if not isinstance(sys.stdout, _TeeStream):
        sys.stdout = _TeeStream(sys.stdout, "stdout")
    if not isinstance(sys.stderr, _TeeStream):
        sys.stderr = _TeeStream(sys.stderr, "stderr")


class capturing:  # noqa: N801 (used as the function it replaced)
    """Capture this thread's prints for the duration of a ``with`` block,
    which gets the :class:`_Captured` text."""

    def __enter__(self) -> _Captured:
        self._previous = getattr(_local, "captured", None)
        captured = _local.captured = _Captured()
        return captured

    def __exit__(self, *exc: object) -> None:
        _local.captured = self._previous
