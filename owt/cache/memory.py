"""The response cache's store in this process: LRU by bytes, optional TTL.

Each HTTP worker process has its own. Thread-safe: one lock guards the
entries, the pins, the flights and the counters.
"""

from __future__ import annotations

import logging
import math
import threading
import typing as t

import cachetools

from owt.cache.entry import CachedResponse
from owt.cache.store import Counter
from owt.cache.store import Outcome

log = logging.getLogger("owt")


class _Entries(cachetools.TTLCache[str, CachedResponse]):
    """LRU entries bounded by bytes, with expiry, counting what they drop."""

    evictions = 0
    expired = 0

    def popitem(self) -> tuple[str, CachedResponse]:
        item = super().popitem()
        self.evictions += 1
        return item

    def expire(self, time: float | None = None) -> list[tuple[str, CachedResponse]]:
        gone = list(super().expire(time) or ())
        self.expired += len(gone)
        return gone


class _Flight:
    """One running miss that identical requests in this process wait for."""

    def __init__(self, store: MemoryStore, key: str, leader: bool) -> None:
        self._store = store
        self.key = key
        self.leader = leader
        self._done = threading.Event()
        self._outcome: Outcome = None

    def wait(self) -> Outcome:
        self._done.wait()
        return self._outcome

    def settle(self, outcome: Outcome) -> None:
        if self._done.is_set():
            return
        self._store.forget_flight(self)
        self._outcome = outcome
        self._done.set()


class MemoryStore:
    """Entries and pins in memory.

    :param max_bytes: bound on the stored bytes, pins included.
    :param ttl: seconds an entry lives, or None for the server's lifetime.
    """

    def __init__(self, max_bytes: int, ttl: float | None = None) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self.ttl = ttl
        self._entries = _Entries(
            maxsize=max(1, self.max_bytes),
            ttl=math.inf if ttl is None else ttl,
            getsizeof=_entry_size,
        )
        self._pins: dict[str, CachedResponse] = {}
        self._pinned_bytes = 0
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "too_large": 0}

    def claim(self, key: str) -> CachedResponse | _Flight | _Waiter:
        """The entry for ``key``, or this request's place in its flight."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._counts["hits"] += 1
                return entry
            flight = self._flights.get(key)
            if flight is not None:
                return _Waiter(flight)
            self._counts["misses"] += 1
            flight = self._flights[key] = _Flight(self, key, leader=True)
            return flight

    def lookup(self, key: str) -> CachedResponse | None:
        """The entry for ``key``, counted as a hit, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._counts["hits"] += 1
            return entry

    def forget_flight(self, flight: _Flight) -> None:
        """End ``flight``: the next request for its key starts anew."""
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]

    def keep(
        self, key: str | None, pin_path: str | None, entry: CachedResponse
    ) -> None:
        """Store and/or pin ``entry``."""
        if key is not None:
            self._store(key, entry)
        if pin_path is not None:
            self._pin(pin_path, entry)

    def has_pins(self) -> bool:
        """Whether any path is pinned."""
        return bool(self._pins)

    def pinned(self, path: str) -> CachedResponse | None:
        """The entry pinned to ``path``, counted as a hit."""
        with self._lock:
            entry = self._pins.get(path)
            if entry is not None:
                self._counts["hits"] += 1
            return entry

    def count(self, counter: Counter) -> None:
        """Add one to ``counter``."""
        with self._lock:
            self._counts[counter] += 1

    def _store(self, key: str, entry: CachedResponse) -> None:
        with self._lock:
            self._entries.expire()
            room = self.max_bytes - self._pinned_bytes
            if entry.size > room:
                self._counts["too_large"] += 1
                log.debug("response of %d bytes not cached: over the bound", entry.size)
                return
            self._make_room(entry.size)
            self._entries[key] = entry

    def _pin(self, path: str, entry: CachedResponse) -> None:
        with self._lock:
            old = self._pins.get(path)
            if old is entry:
                return
            others = self._pinned_bytes - (old.size if old else 0)
            if entry.size > self.max_bytes - others:
                self._counts["too_large"] += 1
                log.warning(
                    "not pinning %s: %d bytes would take pins past --cache-mb",
                    path,
                    entry.size,
                )
                return
            self._pins[path] = entry
            self._pinned_bytes = others + entry.size
            self._make_room(0)

    def _make_room(self, size: int) -> None:
        # Evict least recently used entries until ``size`` more bytes fit
        # beside the pins. Call with the lock held.
        while self._entries and (
            self._entries.currsize + size + self._pinned_bytes > self.max_bytes
        ):
            self._entries.popitem()

    def clear(self) -> dict[str, int]:
        """Drop every entry and pin; the counters keep counting."""
        with self._lock:
            self._entries.expire()
            cleared = {"entries": len(self._entries), "pins": len(self._pins)}
            self._entries.clear()
            self._pins.clear()
            self._pinned_bytes = 0
        return cleared

    def unpin(self, path: str) -> bool:
        """Remove the pin for ``path``; False if there was none."""
        with self._lock:
            entry = self._pins.pop(path, None)
            if entry is None:
                return False
            self._pinned_bytes -= entry.size
            return True

    def stats(self) -> dict[str, t.Any]:
        """Entries, bytes, hits, misses, evictions and the pins, as JSON data."""
        with self._lock:
            self._entries.expire()
            return {
                "store": "memory",
                "entries": len(self._entries),
                "bytes": self._entries.currsize + self._pinned_bytes,
                "max_bytes": self.max_bytes,
                "ttl_s": self.ttl,
                **self._counts,
                "evictions": self._entries.evictions,
                "expired": self._entries.expired,
                "in_flight": len(self._flights),
                "pins": {path: e.describe() for path, e in self._pins.items()},
            }


class _Waiter:
    """A waiter's view of another request's flight."""

    leader = False

    def __init__(self, flight: _Flight) -> None:
        self._flight = flight

    def wait(self) -> Outcome:
        return self._flight.wait()

    def settle(self, outcome: Outcome) -> None:
        pass  # only the leader settles


def _entry_size(entry: CachedResponse) -> int:
    return entry.size
