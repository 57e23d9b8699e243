"""Where cached responses live: the interface every store offers.

:class:`~owt.cache.memory.MemoryStore` keeps them in this process;
:class:`~owt.cache.redis_store.RedisStore` in Redis, shared by every front
end. :class:`~owt.cache.respond.ResponseCache` decides what to store and
when; a store keeps entries and pins, counts, and coordinates identical
misses (single flight).
"""

from __future__ import annotations

import typing as t

from owt.cache.entry import CachedResponse
from owt.errors import OwtError

#: What a finished miss shares with the requests that waited for it: the
#: response, the error, or None (nothing to share: run it yourselves).
Outcome = CachedResponse | OwtError | None
#: The store's counters: requests answered without running (``hits``), runs
#: for the cache (``misses``), responses too large to keep (``too_large``).
Counter = t.Literal["hits", "misses", "too_large"]


class Flight(t.Protocol):
    """One running miss, as its leader or one of its waiters sees it."""

    #: Whether this request runs the call (else it waits for the outcome).
    leader: bool

    def wait(self) -> Outcome:
        """(A waiter) block until the leader is done; what it shared.

        :raises CacheUnavailable: if the store went away meanwhile.
        """

    def settle(self, outcome: Outcome) -> None:
        """(The leader) share ``outcome`` with the waiters; the flight ends."""


class CacheStore(t.Protocol):
    """Entries by key, pins by path, counters, and single flight."""

    #: The most bytes one entry (or all pins) may take.
    max_bytes: int

    def claim(self, key: str) -> CachedResponse | Flight:
        """The stored entry for ``key`` (a hit, counted), or the flight this
        request joins: as its leader (a miss, counted) or as a waiter.

        :raises CacheUnavailable: if the store can't be reached.
        """

    def lookup(self, key: str) -> CachedResponse | None:
        """The stored entry for ``key`` (a hit, counted), or None (nothing
        counted: the request goes on to :meth:`claim`).

        :raises CacheUnavailable: if the store can't be reached.
        """

    def keep(
        self, key: str | None, pin_path: str | None, entry: CachedResponse
    ) -> None:
        """Store ``entry`` under ``key`` and/or pin it to ``pin_path``."""

    def has_pins(self) -> bool:
        """Whether any path may be pinned (True when the store can't tell
        without asking it)."""

    def pinned(self, path: str) -> CachedResponse | None:
        """The entry pinned to ``path`` (a hit, counted), or None."""

    def count(self, counter: Counter) -> None:
        """Add one to ``counter``."""

    def unpin(self, path: str) -> bool:
        """Remove the pin of ``path``; False if there was none."""

    def clear(self) -> dict[str, int]:
        """Drop every entry and pin; how many of each went."""

    def stats(self) -> dict[str, t.Any]:
        """The store's figures, as JSON data, for ``GET /_owt/cache``."""
