"""The response cache's store in Redis, shared by every owt front end.

``owt serve --cache-url redis://HOST:PORT/DB`` (the password in the URL, or
in ``OWT_CACHE_PASSWORD`` or ``REDIS_PASSWORD``). Every front end and every
``--processes`` worker that uses the same Redis shares entries, pins,
counters and single flight. Keys, under the prefix ``owt:``:

- ``e:KEY``: an entry (:func:`~owt.cache.entry.encode_entry`; never a
  pickle), expiring after ``--cache-ttl`` (30 days without it, so that
  Redis's ``volatile-lru`` policy may evict it);
- ``p:PATH``: a pin, with no expiry (``volatile-lru`` never evicts it);
- ``f:KEY``: the lock of a running miss, holding its token. It expires
  :data:`LOCK_SECONDS` after its leader last renewed it, so a front end that
  dies never blocks the key for good;
- ``o:KEY:TOKEN``: what that miss shares with its waiters, for a while;
- ``stats``: the counters.

Size is Redis's to bound: ``maxmemory`` with ``maxmemory-policy
volatile-lru`` (``GET /_owt/cache`` reports both). An entry larger than
``--cache-mb`` is not stored.

Redis that can't be reached raises :class:`~owt.errors.CacheUnavailable`
(then requests run uncached); for :data:`RETRY_SECONDS` after a failure
the store doesn't try again, so an outage costs requests no time.
"""

from __future__ import annotations

import collections.abc as cabc
import json
import os
import threading
import time
import typing as t
import urllib.parse
import uuid

import redis

from owt.cache.entry import CachedResponse
from owt.cache.entry import decode_entry
from owt.cache.entry import encode_entry
from owt.cache.store import Counter
from owt.cache.store import Outcome
from owt.errors import CacheUnavailable
from owt.errors import OwtError
from owt.errors import error_from_data
from owt.errors import error_to_data

PREFIX = "owt:"
#: How long a miss's lock lives unless its leader renews it (every third).
LOCK_SECONDS = 10.0
#: How long the outcome of a miss stays for its waiters to read.
OUTCOME_SECONDS = 60
#: An entry's lifetime without ``--cache-ttl``.
DEFAULT_EXPIRY_SECONDS = 30 * 24 * 3600
#: After a failure, how long requests skip Redis before trying it again.
RETRY_SECONDS = 1.0
#: Longest pause between two looks of a waiting request.
POLL_SECONDS = 0.05
#: The environment variables that may hold the password, if the URL has none.
PASSWORD_ENVS = ("OWT_CACHE_PASSWORD", "REDIS_PASSWORD")

_T = t.TypeVar("_T")


class RedisStore:
    """Entries, pins, counters and single flight in Redis.

    :param url: ``redis://[:PASSWORD@]HOST:PORT/DB`` (or ``rediss://``).
    :param max_bytes: the largest entry stored.
    :param ttl: seconds an entry lives, or None.
    """

    def __init__(self, url: str, max_bytes: int, ttl: float | None = None) -> None:
        self.url = url
        self.max_bytes = max(0, int(max_bytes))
        self.ttl = ttl
        self.client = redis.Redis.from_url(
            url,
            password=next(filter(None, map(os.environ.get, PASSWORD_ENVS)), None),
            socket_connect_timeout=1,
            socket_timeout=5,
        )
        self._down_until = 0.0

    # -- talking to Redis --------------------------------------------------

    def _call(self, operation: cabc.Callable[[], _T]) -> _T:
        """Run ``operation``; Redis failing becomes :class:`CacheUnavailable`."""
        if time.monotonic() < self._down_until:
            raise CacheUnavailable(f"Redis at {self.where} failed a moment ago")
        try:
            return operation()
        except redis.RedisError as e:
            self._down_until = time.monotonic() + RETRY_SECONDS
            raise CacheUnavailable(f"Redis at {self.where}: {e}") from None

    def _get(self, name: str) -> bytes | None:
        return t.cast("bytes | None", self.client.get(name))

    def get_many(self, names: t.Sequence[str]) -> list[bytes | None]:
        """The values of ``names``, in one round trip."""
        return t.cast("list[bytes | None]", self.client.mget(names))

    @property
    def where(self) -> str:
        """The URL without its password, for messages."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    # -- single flight -----------------------------------------------------

    def claim(self, key: str) -> CachedResponse | _Flight | _Waiter:
        """The entry for ``key`` (a hit), or this request's place in the
        flight of front ends running it."""
        return self._call(lambda: self._claim(key))

    def has_pins(self) -> bool:
        """Always True: the pins live in Redis, shared by every front end."""
        return True

    def lookup(self, key: str) -> CachedResponse | None:
        """The entry for ``key``, counted as a hit, or None."""
        return self._call(lambda: self._lookup(key))

    def _lookup(self, key: str) -> CachedResponse | None:
        data = self._get(PREFIX + "e:" + key)
        if data is None:
            return None
        self.client.hincrby(PREFIX + "stats", "hits", 1)
        return decode_entry(data)

    def _claim(self, key: str) -> CachedResponse | _Flight | _Waiter:
        while True:
            found = self._lookup(key)
            if found is not None:
                return found
            token = uuid.uuid4().hex
            lock = self.client.lock(
                PREFIX + "f:" + key,
                timeout=LOCK_SECONDS,
                blocking=False,
                thread_local=False,
            )
            if lock.acquire(token=token):
                self.client.hincrby(PREFIX + "stats", "misses", 1)
                return _Flight(self, key, lock, token)
            running = self._get(PREFIX + "f:" + key)
            if running is not None:
                return _Waiter(self, key, running.decode())
            # The flight just ended: look again.

    # -- entries and pins --------------------------------------------------

    def keep(
        self, key: str | None, pin_path: str | None, entry: CachedResponse
    ) -> None:
        """Store ``entry`` under ``key`` and/or pin it to ``pin_path``."""
        if entry.size > self.max_bytes:
            self.count("too_large")
            return
        data = encode_entry(entry)
        expiry = DEFAULT_EXPIRY_SECONDS if self.ttl is None else self.ttl

        def store() -> None:
            with self.client.pipeline() as pipe:
                if key is not None:
                    pipe.set(PREFIX + "e:" + key, data, px=max(1, int(expiry * 1000)))
                if pin_path is not None:
                    pipe.set(PREFIX + "p:" + pin_path, data)
                pipe.execute()

        self._call(store)

    def pinned(self, path: str) -> CachedResponse | None:
        """The entry pinned to ``path`` (a hit, counted), or None."""

        def read() -> CachedResponse | None:
            data = self._get(PREFIX + "p:" + path)
            if data is None:
                return None
            self.client.hincrby(PREFIX + "stats", "hits", 1)
            return decode_entry(data)

        return self._call(read)

    def count(self, counter: Counter) -> None:
        """Add one to ``counter`` (shared by every front end)."""
        self._call(lambda: self.client.hincrby(PREFIX + "stats", counter, 1))

    def unpin(self, path: str) -> bool:
        """Remove the pin of ``path``; False if there was none."""
        return bool(self._call(lambda: self.client.delete(PREFIX + "p:" + path)))

    def clear(self) -> dict[str, int]:
        """Drop every entry and pin (of every front end)."""

        def drop(kind: str) -> int:
            keys = list(self.client.scan_iter(match=f"{PREFIX}{kind}:*", count=500))
            for start in range(0, len(keys), 500):
                self.client.unlink(*keys[start : start + 500])
            return len(keys)

        return self._call(lambda: {"entries": drop("e"), "pins": drop("p")})

    def stats(self) -> dict[str, t.Any]:
        """The shared figures, and Redis's own bound and evictions."""
        return self._call(self._stats)

    def _stats(self) -> dict[str, t.Any]:
        raw = t.cast("dict[bytes, bytes]", self.client.hgetall(PREFIX + "stats"))
        counts = {k.decode(): int(v) for k, v in raw.items()}
        memory = self.client.info("memory")
        activity = self.client.info("stats")
        pins = {}
        for name in self.client.scan_iter(match=PREFIX + "p:*", count=500):
            data = self._get(name)
            if data is not None:
                path = bytes(name).decode()[len(PREFIX) + 2 :]
                pins[path] = decode_entry(data).describe()
        return {
            "store": "redis",
            "url": self.where,
            "entries": _count(self.client.scan_iter(match=PREFIX + "e:*", count=500)),
            "bytes": memory.get("used_memory"),
            "max_bytes": self.max_bytes,
            "maxmemory": memory.get("maxmemory"),
            "maxmemory_policy": memory.get("maxmemory_policy"),
            "ttl_s": self.ttl,
            "hits": counts.get("hits", 0),
            "misses": counts.get("misses", 0),
            "too_large": counts.get("too_large", 0),
            "evictions": activity.get("evicted_keys"),
            "expired": activity.get("expired_keys"),
            "in_flight": _count(self.client.scan_iter(match=PREFIX + "f:*", count=500)),
            "pins": pins,
        }


class _Flight:
    """The leader's side of a miss: holds the lock (renewed while the call
    runs) and leaves the outcome for the waiters."""

    leader = True

    def __init__(
        self, store: RedisStore, key: str, lock: redis.lock.Lock, token: str
    ) -> None:
        self._store = store
        self._key = key
        self._lock = lock
        self._token = token
        self._done = threading.Event()
        renewer = threading.Thread(target=self._renew, name="owt-cache-lock")
        renewer.daemon = True
        renewer.start()

    def _renew(self) -> None:
        while not self._done.wait(LOCK_SECONDS / 3):
            try:
                self._lock.extend(LOCK_SECONDS, replace_ttl=True)
            except (redis.RedisError, redis.exceptions.LockError):
                return  # the waiters will find the lock gone and run it

    def wait(self) -> Outcome:
        raise AssertionError("the leader runs the call; it doesn't wait")

    def settle(self, outcome: Outcome) -> None:
        if self._done.is_set():
            return
        self._done.set()
        client = self._store.client
        name = f"{PREFIX}o:{self._key}:{self._token}"

        def share() -> None:
            if outcome is not None:
                client.set(name, _encode_outcome(outcome), ex=OUTCOME_SECONDS)
            try:
                self._lock.release()
            except redis.exceptions.LockError:
                pass  # it expired: the waiters have moved on

        try:
            self._store._call(share)
        except CacheUnavailable:
            pass  # the lock expires by itself; waiters then run it


class _Waiter:
    """A waiter's side of a miss run by another request (maybe elsewhere)."""

    leader = False

    def __init__(self, store: RedisStore, key: str, token: str) -> None:
        self._store = store
        self._key = key
        self._token = token

    def wait(self) -> Outcome:
        names = (
            f"{PREFIX}o:{self._key}:{self._token}",
            PREFIX + "e:" + self._key,
            PREFIX + "f:" + self._key,
        )
        pause = 0.002
        while True:
            shared, entry, running = self._store._call(
                lambda: self._store.get_many(names)
            )
            if shared is not None:
                return _decode_outcome(shared)
            if entry is not None:
                return decode_entry(entry)
            if running is None or running.decode() != self._token:
                return None  # it ended with nothing to share: run it
            time.sleep(pause)
            pause = min(pause * 2, POLL_SECONDS)

    def settle(self, outcome: Outcome) -> None:
        pass  # only the leader settles


def _encode_outcome(outcome: CachedResponse | OwtError) -> bytes:
    if isinstance(outcome, OwtError):
        data = error_to_data(outcome)
        return b"error\n" + json.dumps(data, default=_text).encode()
    return b"entry\n" + encode_entry(outcome)


def _decode_outcome(data: bytes) -> CachedResponse | OwtError:
    kind, _, rest = data.partition(b"\n")
    if kind == b"error":
        return error_from_data(json.loads(rest))
    return decode_entry(rest)


def _text(value: t.Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def _count(items: t.Iterable[t.Any]) -> int:
    return sum(1 for _ in items)
