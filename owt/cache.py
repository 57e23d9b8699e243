"""The response cache: adaptor responses kept in memory and answered again.

A request asks for it with ``use_cache`` (and ``cache_kwargs``,
``cache_key_override``, ``pin``); see :func:`plan_for` for the keys.
:meth:`ResponseCache.respond` wraps one run of an adaptor:

- a hit is answered from the stored entry, a stream replayed as a stream
  (the same chunks, status and headers);
- a miss runs the adaptor; its response is stored if it is a 2xx that fits
  the byte bound. A stream is recorded while it is sent and stored only if
  it completes without error and its client stayed to the end;
- concurrent identical misses run the adaptor once (single flight). The
  waiters receive whatever the first one's client received: the response,
  the error, or the stream that failed part-way. Only when that could not
  be captured whole (its client went away, it was too big to hold, or the
  adaptor built a streaming response itself) does a waiter run it again,
  again one at a time.

Pinned entries answer requests that carry no code at all (a browser fetching
``/favicon.ico``). They are never evicted and never expire, and they count
against the same byte bound, leaving less room for the rest.

Usage::

    cache = ResponseCache(max_bytes=512 * MB, ttl=None)
    answer = cache.respond(call, executor.run)  # answer.response, answer.state

Nothing here reads the Flask request: the :class:`~owt.request.Call` carries
what is needed.
"""

from __future__ import annotations

import collections.abc as cabc
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
import threading
import typing as t

import cachetools
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.errors import OwtError
from owt.errors import StreamAborted
from owt.response import is_event_stream

if t.TYPE_CHECKING:
    from owt.request import Call

log = logging.getLogger("owt")

MB = 1024 * 1024
CACHE_HEADER = "X-Owt-Cache"

#: ``hit``: answered without running the adaptor (stored entry, pin, or a
#: concurrent identical request's result); ``miss``: the adaptor ran for
#: this request; ``bypass``: the request did not ask for the cache.
CacheState = t.Literal["hit", "miss", "bypass"]
#: How a streamed response ended: all chunks sent, the adaptor raised
#: part-way, or the response was closed early (the client went away).
StreamEnd = t.Literal["completed", "failed", "closed"]

# Headers that describe one transfer rather than the response itself.
_UNSTORED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "Date",
        "Server",
        "X-Request-Id",
        CACHE_HEADER,
    )
)


class StreamWatcher(t.Protocol):
    """What the stream relay tells whoever watches a streamed response."""

    def start(self) -> None:
        """The response is a stream and the relay has begun."""

    def chunk(self, data: bytes) -> None:
        """``data`` is about to be sent to the client."""

    def end(self, outcome: StreamEnd) -> None:
        """The stream is over; called exactly once after :meth:`start`."""


#: Runs a call once, handing its stream the watcher (None: not recorded).
Runner = cabc.Callable[["Call", StreamWatcher | None], Response]


@dataclasses.dataclass(frozen=True)
class Answer:
    """A response and how the cache came by it (the ``X-Owt-Cache`` value)."""

    response: Response
    state: CacheState


#: What an entry costs beyond its body and headers: its key (a digest) and
#: the objects that hold it, measured at about 400 bytes on CPython 3.11.
ENTRY_OVERHEAD = 512


@dataclasses.dataclass(frozen=True)
class CachedResponse:
    """A stored response: status, headers and either bytes or stream chunks."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    chunks: tuple[bytes, ...] | None = None
    #: False for a stream that failed part-way: only shared with the
    #: requests that waited for it, never stored, and replayed as it ended.
    complete: bool = True

    @functools.cached_property
    def size(self) -> int:
        """Bytes this entry counts against the bound: body, headers, and
        :data:`ENTRY_OVERHEAD` for its key and bookkeeping, so that even an
        empty response costs something and the bound holds."""
        body = len(self.body) if self.chunks is None else sum(map(len, self.chunks))
        headers = sum(len(k) + len(v) for k, v in self.headers)
        return body + headers + ENTRY_OVERHEAD

    @property
    def ok(self) -> bool:
        """Whether this may be stored: only complete 2xx responses are."""
        return 200 <= self.status < 300 and self.complete

    def to_response(self) -> Response:
        """A fresh response replaying this entry (a stream stays a stream,
        and a plain stream that failed is cut off again where it failed)."""
        headers = Headers(list(self.headers))
        if self.chunks is None:
            return Response(self.body, status=self.status, headers=headers)
        chunks: cabc.Iterator[bytes] = iter(self.chunks)
        if not self.complete and not is_event_stream(headers):
            chunks = _cut_off(self.chunks)
        return Response(chunks, status=self.status, headers=headers)

    def describe(self) -> dict[str, t.Any]:
        """A short JSON-able description, for the stats endpoint."""
        return {
            "status": self.status,
            "bytes": self.size,
            "content_type": dict(self.headers).get("Content-Type"),
            "stream": self.chunks is not None,
        }


def _cut_off(chunks: tuple[bytes, ...]) -> cabc.Iterator[bytes]:
    yield from chunks
    raise StreamAborted("a shared stream that failed part-way (logged above)")


def storable_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    """The headers worth replaying: all but the per-transfer ones."""
    return tuple(
        (name, value)
        for name, value in headers.items()
        if name.lower() not in _UNSTORED_HEADERS
    )


@dataclasses.dataclass(frozen=True)
class CachePlan:
    """What one request asks of the cache.

    :param key: the entry to read and write, or None without ``use_cache``.
    :param pin_path: the bare path to pin the response to, if ``pin``.
    """

    key: str | None
    pin_path: str | None = None


def plan_for(call: Call) -> CachePlan:
    """The cache plan for ``call`` (at ``call.path``).

    The key is the path, the code's digest and the entrypoint name, plus the
    decoded kwargs in canonical form when ``cache_kwargs`` is set (so key
    order does not matter). ``cache_key_override`` replaces all of that, so
    different codes or paths can share an entry on purpose.
    """
    key = None
    if call.use_cache:
        if call.cache_key_override is not None:
            material: list[t.Any] = ["override", call.cache_key_override]
        else:
            kwargs = canonical(call.arguments) if call.cache_kwargs else None
            material = ["call", call.path, call.digest, call.fn_name, kwargs]
        text = json.dumps(material, separators=(",", ":"), ensure_ascii=False)
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return CachePlan(key, call.path if call.pin else None)


def canonical(value: t.Any) -> t.Any:
    """A JSON-able form of decoded kwargs that is the same for equal values.

    Dict items and set members are sorted; containers are tagged with their
    type, so a tuple and a list of the same items stay different keys.
    """
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, dict):
        items = [[canonical(k), canonical(v)] for k, v in value.items()]
        return ["dict", sorted(items, key=_sort_key)]
    if isinstance(value, list | tuple):
        return [type(value).__name__, [canonical(v) for v in value]]
    if isinstance(value, set | frozenset):
        return ["set", sorted((canonical(v) for v in value), key=_sort_key)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    return ["repr", type(value).__qualname__, repr(value)]


def _sort_key(item: t.Any) -> str:
    return json.dumps(item, separators=(",", ":"))


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
    """One running miss that identical requests wait for."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.done = threading.Event()
        #: What the waiters receive; None tells them to run it themselves.
        self.outcome: CachedResponse | OwtError | None = None


class StreamRecorder:
    """Records one streamed response as it is sent (a :class:`StreamWatcher`).

    Keeps at most ``limit`` bytes: past that it stops recording (the stream
    itself goes on) and reports no chunks.
    """

    def __init__(self, limit: int) -> None:
        self.started = False
        self._limit = limit
        self._chunks: list[bytes] | None = []
        self._size = 0
        self._outcome: StreamEnd | None = None
        self._on_end: cabc.Callable[[StreamEnd, tuple[bytes, ...] | None], None]
        self._on_end = _ignore

    def start(self) -> None:
        self.started = True

    def chunk(self, data: bytes) -> None:
        if self._chunks is None:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._chunks = None
        else:
            self._chunks.append(data)

    def end(self, outcome: StreamEnd) -> None:
        if self._outcome is not None:
            return
        self._outcome = outcome
        self._report()

    def when_ended(
        self, callback: cabc.Callable[[StreamEnd, tuple[bytes, ...] | None], None]
    ) -> None:
        """Call ``callback(outcome, chunks)`` when the stream ends."""
        self._on_end = callback
        if self._outcome is not None:
            self._report()

    def _report(self) -> None:
        assert self._outcome is not None
        chunks = None if self._chunks is None else tuple(self._chunks)
        try:
            self._on_end(self._outcome, chunks)
        except Exception:
            # The stream is already over for the client: never fail it here.
            log.exception("recording a streamed response failed")


def _ignore(outcome: StreamEnd, chunks: tuple[bytes, ...] | None) -> None:
    pass


class ResponseCache:
    """Adaptor responses in memory: bounded by bytes, LRU, optional TTL.

    Thread-safe: one lock guards the entries, the pins, the flights and the
    counters; adaptors run outside it.

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
        self.hits = 0
        self.misses = 0
        self.too_large = 0

    # -- answering requests ------------------------------------------------

    def respond(self, call: Call, run: Runner) -> Answer:
        """Answer ``call`` as it asks of the cache, calling ``run`` on a miss.

        Errors from ``run`` propagate (and reach any waiters), carrying the
        cache state in their ``headers``.
        """
        plan = plan_for(call)
        if plan.key is None:
            state: CacheState = "bypass"
            with _noted(state):
                if plan.pin_path is None:
                    return Answer(run(call, None), state)
                return Answer(self._lead(plan, None, call, run), state)
        while True:
            claim = self._claim(plan.key)
            if isinstance(claim, CachedResponse):
                return Answer(self._replay(plan, claim), "hit")
            flight, leader = claim
            if leader:
                with _noted("miss"):
                    return Answer(self._lead(plan, flight, call, run), "miss")
            flight.done.wait()
            outcome = flight.outcome
            if outcome is None:
                continue  # nothing to share: run it (or wait for whoever does)
            with self._lock:
                self.hits += 1
            if isinstance(outcome, OwtError):
                raise outcome.copy(headers={CACHE_HEADER: "hit"})
            return Answer(self._replay(plan, outcome), "hit")

    def pinned_response(self, path: str) -> Response | None:
        """The pinned response for ``path``, counted as a hit, or None."""
        with self._lock:
            entry = self._pins.get(path)
            if entry is None:
                return None
            self.hits += 1
        return entry.to_response()

    def _claim(self, key: str) -> CachedResponse | tuple[_Flight, bool]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self.hits += 1
                return entry
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            self.misses += 1
            flight = self._flights[key] = _Flight(key)
            return flight, True

    def _replay(self, plan: CachePlan, entry: CachedResponse) -> Response:
        if plan.pin_path is not None and entry.ok:
            self._pin(plan.pin_path, entry)
        return entry.to_response()

    def _lead(
        self, plan: CachePlan, flight: _Flight | None, call: Call, run: Runner
    ) -> Response:
        recorder = StreamRecorder(self.max_bytes)
        try:
            response = run(call, recorder)
        except OwtError as e:
            self._settle(flight, e)
            raise
        except BaseException:
            self._settle(flight, None)
            raise
        try:
            if recorder.started:
                status = response.status_code
                headers = storable_headers(response.headers)

                def ended(outcome: StreamEnd, chunks: tuple[bytes, ...] | None) -> None:
                    self._stream_ended(plan, flight, status, headers, outcome, chunks)

                recorder.when_ended(ended)
            elif response.is_streamed:
                # A streaming Response the adaptor built itself: not recorded.
                self._settle(flight, None)
            else:
                entry = CachedResponse(
                    response.status_code,
                    storable_headers(response.headers),
                    response.get_data(),
                )
                self._keep(plan, entry)
                self._settle(flight, entry)
        except BaseException:
            self._settle(flight, None)
            raise
        return response

    def _stream_ended(
        self,
        plan: CachePlan,
        flight: _Flight | None,
        status: int,
        headers: tuple[tuple[str, str], ...],
        outcome: StreamEnd,
        chunks: tuple[bytes, ...] | None,
    ) -> None:
        if outcome == "closed" or chunks is None:
            if chunks is None and outcome == "completed":
                with self._lock:
                    self.too_large += 1
            self._settle(flight, None)
            return
        completed = outcome == "completed"
        entry = CachedResponse(status, headers, chunks=chunks, complete=completed)
        if completed:
            self._keep(plan, entry)
        self._settle(flight, entry)

    def _settle(
        self, flight: _Flight | None, outcome: CachedResponse | OwtError | None
    ) -> None:
        if flight is None or flight.done.is_set():
            return
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
        flight.outcome = outcome
        flight.done.set()

    # -- storing -----------------------------------------------------------

    def _keep(self, plan: CachePlan, entry: CachedResponse) -> None:
        if not entry.ok:
            return
        if plan.key is not None:
            self._store(plan.key, entry)
        if plan.pin_path is not None:
            self._pin(plan.pin_path, entry)

    def _store(self, key: str, entry: CachedResponse) -> None:
        with self._lock:
            self._entries.expire()
            room = self.max_bytes - self._pinned_bytes
            if entry.size > room:
                self.too_large += 1
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
                self.too_large += 1
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

    # -- management --------------------------------------------------------

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
                "entries": len(self._entries),
                "bytes": self._entries.currsize + self._pinned_bytes,
                "max_bytes": self.max_bytes,
                "ttl_s": self.ttl,
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self._entries.evictions,
                "expired": self._entries.expired,
                "too_large": self.too_large,
                "in_flight": len(self._flights),
                "pins": {path: e.describe() for path, e in self._pins.items()},
            }


@contextlib.contextmanager
def _noted(state: CacheState) -> t.Iterator[None]:
    """Give an error raised inside the block the ``X-Owt-Cache`` header."""
    try:
        yield
    except OwtError as e:
        e.headers[CACHE_HEADER] = state
        raise


def _entry_size(entry: CachedResponse) -> int:
    return entry.size
