"""owt/registry.py KnownCode: code held by digest, bounded in count and bytes."""

from __future__ import annotations

from owt.execute import code_digest
from owt.registry import KnownCode


def fill(known: KnownCode, count: int, size: int) -> list[str]:
    sources = [f"# {n}\n" + "x" * size for n in range(count)]
    for source in sources:
        known.remember(code_digest(source), source)
    return sources


def test_it_keeps_at_most_max_entries_of_small_code():
    known = KnownCode(max_bytes=1_000_000, max_entries=10)
    sources = fill(known, 50, 100)
    held = [s for s in sources if known.get(code_digest(s)) == s]
    assert held == sources[-10:]  # the most recent ten


def test_it_keeps_at_most_max_bytes_of_large_code():
    known = KnownCode(max_bytes=10_000, max_entries=1000)
    sources = fill(known, 20, 1000)
    held = [s for s in sources if known.get(code_digest(s)) is not None]
    assert 8 <= len(held) <= 10
    assert held == sources[-len(held) :]


def test_code_larger_than_the_bound_is_not_kept():
    known = KnownCode(max_bytes=100, max_entries=10)
    source = "x" * 1000
    known.remember(code_digest(source), source)
    assert known.get(code_digest(source)) is None
