"""owt/accesslog.py: request ids, and access lines written in batches."""

from __future__ import annotations

import io
import sys
import time

import pytest

from owt import accesslog


class CountingStream(io.StringIO):
    """A stderr that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> CountingStream:
    """Replaces sys.stderr when called (in the test itself: pytest's own
    capture resets sys.stderr between a fixture and its test)."""
    stream = CountingStream()

    def install() -> CountingStream:
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    return install  # type: ignore[return-value]


def test_request_ids_are_16_hex_digits_and_differ():
    ids = {accesslog.new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_many_lines_cost_one_write(stderr):
    stderr = stderr()
    buffer = accesslog.LineBuffer(interval=60)  # the thread won't wake by itself
    for n in range(500):
        buffer.add(f"line {n}\n")
    assert stderr.writes == 0
    buffer.flush()
    assert stderr.writes == 1
    assert stderr.getvalue().splitlines() == [f"line {n}" for n in range(500)]


def test_the_thread_writes_waiting_lines_soon(stderr):
    stderr = stderr()
    buffer = accesslog.LineBuffer(interval=0.02)
    buffer.add("first\n")
    deadline = time.monotonic() + 5
    while "first" not in stderr.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stderr.getvalue() == "first\n"


def test_a_long_backlog_is_written_without_waiting(stderr):
    stderr = stderr()
    buffer = accesslog.LineBuffer(interval=60)
    for n in range(accesslog.FLUSH_LINES + 1):
        buffer.add(f"{n}\n")
    deadline = time.monotonic() + 5
    while stderr.writes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert str(accesslog.FLUSH_LINES) in stderr.getvalue()
