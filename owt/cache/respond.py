"""Answering a request from the cache, or running it once for the cache.

:meth:`ResponseCache.respond` wraps one run of an adaptor:

- a hit is answered from the stored entry, a stream replayed as a stream
  (the same chunks, status and headers);
- a miss runs the adaptor; its response is stored if it is a 2xx that fits
  the byte bound. A stream is recorded while it is sent and stored only if
  it completes without error and its client stayed to the end;
- concurrent identical misses run the adaptor once (single flight), across
  front ends when the store is shared. The waiters receive whatever the
  first one's client received: the response, the error, or the stream that
  failed part-way (cut off again where it failed). Only when that could not
  be captured whole (its client went away, it was too big to hold, or the
  adaptor built a streaming response itself) does a waiter run it again,
  again one at a time;
- if the store can't be reached (Redis is down), the request runs uncached
  (``bypass``) and the log says why, once per outage.

Nothing here reads the Flask request: the :class:`~owt.request.Call`
carries what is needed.
"""

from __future__ import annotations

import collections.abc as cabc
import contextlib
import dataclasses
import logging
import typing as t

from werkzeug.wrappers import Response

from owt.cache.entry import CACHE_HEADER
from owt.cache.entry import CachedResponse
from owt.cache.entry import CacheState
from owt.cache.entry import StreamEnd
from owt.cache.entry import storable_headers
from owt.cache.keys import CachePlan
from owt.cache.keys import plan_for
from owt.cache.memory import MemoryStore
from owt.cache.store import CacheStore
from owt.cache.store import Flight
from owt.cache.store import Outcome
from owt.errors import CacheUnavailable
from owt.errors import OwtError

if t.TYPE_CHECKING:
    from owt.request import Call

log = logging.getLogger("owt")


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
    """Adaptor responses answered again, from a :class:`CacheStore`.

    :param max_bytes: bound on the stored bytes (for the default store).
    :param ttl: seconds an entry lives, or None for the server's lifetime.
    :param store: where entries live; default: this process's memory.
    """

    def __init__(
        self,
        max_bytes: int = 0,
        ttl: float | None = None,
        store: CacheStore | None = None,
    ) -> None:
        self.store: CacheStore = store or MemoryStore(max_bytes, ttl)
        self._unavailable: str | None = None

    # -- answering requests ------------------------------------------------

    def respond(self, call: Call, run: Runner) -> Answer:
        """Answer ``call`` as it asks of the cache, calling ``run`` on a miss.

        Errors from ``run`` propagate (and reach any waiters), carrying the
        cache state in their ``headers``.
        """
        plan = plan_for(call)
        if plan.key is not None:
            try:
                return self._respond_from_store(plan, plan.key, call, run)
            except CacheUnavailable as e:
                self._note_unavailable(e)
                plan = CachePlan(None, None)
        try:  # as _noted("bypass") does, without a generator on the hot path
            if plan.pin_path is None:
                return Answer(run(call, None), "bypass")
            return Answer(self._lead(plan, None, call, run), "bypass")
        except OwtError as e:
            e.headers[CACHE_HEADER] = "bypass"
            raise

    def _respond_from_store(
        self, plan: CachePlan, key: str, call: Call, run: Runner
    ) -> Answer:
        while True:
            claim = self.store.claim(key)
            self._note_available()
            if isinstance(claim, CachedResponse):
                return Answer(self._replay(plan, claim), "hit")
            if claim.leader:
                with _noted("miss"):
                    return Answer(self._lead(plan, claim, call, run), "miss")
            outcome = claim.wait()
            if outcome is None:
                continue  # nothing to share: run it (or wait for whoever does)
            self.store.count("hits")
            if isinstance(outcome, OwtError):
                raise outcome.copy(headers={CACHE_HEADER: "hit"})
            return Answer(self._replay(plan, outcome), "hit")

    def has_pins(self) -> bool:
        """Whether a path may be pinned (cheap: asks no remote store)."""
        return self.store.has_pins()

    def pinned_response(self, path: str) -> Response | None:
        """The pinned response for ``path``, counted as a hit, or None."""
        entry = self.pinned_entry(path)
        return None if entry is None else entry.to_response()

    def pinned_entry(self, path: str) -> CachedResponse | None:
        """The entry pinned to ``path``, counted as a hit, or None."""
        try:
            return self.store.pinned(path)
        except CacheUnavailable as e:
            self._note_unavailable(e)
            return None

    def _replay(self, plan: CachePlan, entry: CachedResponse) -> Response:
        if plan.pin_path is not None and entry.ok:
            self._keep(CachePlan(None, plan.pin_path), entry)
        return entry.to_response()

    def _lead(
        self, plan: CachePlan, flight: Flight | None, call: Call, run: Runner
    ) -> Response:
        recorder = StreamRecorder(self.store.max_bytes)
        try:
            response = run(call, recorder)
        except OwtError as e:
            _settle(flight, e)
            raise
        except BaseException:
            _settle(flight, None)
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
                _settle(flight, None)
            else:
                entry = CachedResponse(
                    response.status_code,
                    storable_headers(response.headers),
                    response.get_data(),
                )
                self._keep(plan, entry)
                _settle(flight, entry)
        except BaseException:
            _settle(flight, None)
            raise
        return response

    def _stream_ended(
        self,
        plan: CachePlan,
        flight: Flight | None,
        status: int,
        headers: tuple[tuple[str, str], ...],
        outcome: StreamEnd,
        chunks: tuple[bytes, ...] | None,
    ) -> None:
        if outcome == "closed" or chunks is None:
            if chunks is None and outcome == "completed":
                self._quietly(self.store.count, "too_large")
            _settle(flight, None)
            return
        completed = outcome == "completed"
        entry = CachedResponse(status, headers, chunks=chunks, complete=completed)
        if completed:
            self._keep(plan, entry)
        _settle(flight, entry)

    def _keep(self, plan: CachePlan, entry: CachedResponse) -> None:
        if entry.ok and (plan.key is not None or plan.pin_path is not None):
            self._quietly(self.store.keep, plan.key, plan.pin_path, entry)

    def _quietly(self, operation: cabc.Callable[..., t.Any], *args: t.Any) -> None:
        # After the response is made, a store that went away only costs the
        # entry: the client still gets its answer.
        try:
            operation(*args)
        except CacheUnavailable as e:
            self._note_unavailable(e)

    def _note_unavailable(self, error: CacheUnavailable) -> None:
        if self._unavailable is None:
            log.warning("response cache unavailable, answering uncached: %s", error)
        self._unavailable = str(error)

    def _note_available(self) -> None:
        if self._unavailable is not None:
            self._unavailable = None
            log.warning("response cache available again")

    # -- management --------------------------------------------------------

    def clear(self) -> dict[str, int]:
        """Drop every entry and pin; the counters keep counting."""
        return self.store.clear()

    def unpin(self, path: str) -> bool:
        """Remove the pin for ``path``; False if there was none."""
        return self.store.unpin(path)

    def stats(self) -> dict[str, t.Any]:
        """The store's figures (entries, bytes, hits, misses, pins...)."""
        return self.store.stats()


def _settle(flight: Flight | None, outcome: Outcome) -> None:
    if flight is not None:
        flight.settle(outcome)


@contextlib.contextmanager
def _noted(state: CacheState) -> t.Iterator[None]:
    """Give an error raised inside the block the ``X-Owt-Cache`` header."""
    try:
        yield
    except OwtError as e:
        e.headers[CACHE_HEADER] = state
        raise
