"""owt.cache: the response cache, driven in process with hand-made calls.

A "run" here stands in for the executor: it takes the call and the cache's
stream watcher and returns a Werkzeug response, counting how often it ran.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import sys
import threading
import time
import typing as t

import pytest
from flask import Request
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.cache import Answer
from owt.cache import ResponseCache
from owt.cache import StreamWatcher
from owt.cache import canonical
from owt.cache import plan_for
from owt.cache import storable_headers
from owt.errors import AdaptorError
from owt.errors import StreamAborted
from owt.executors.relay import relay
from owt.request import Call

WAIT = 5.0  # the longest any test waits for another thread
BIG = 64 * 1024 * 1024

CALL = Call(
    source="def run(): ...",
    arguments={"name": "owt"},
    use_cache=True,
    path="/a",
    digest="d" * 64,
)


def call(**changes: t.Any) -> Call:
    """``CALL`` with ``changes``."""
    return dataclasses.replace(CALL, **changes)


class Run:
    """A run function answering ``body`` (with ``status`` and ``headers``),
    or raising ``error``; ``calls`` lists the calls it ran."""

    def __init__(
        self,
        body: bytes | str = b"answer",
        status: int = 200,
        headers: dict[str, str] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.headers = headers or {}
        self.error = error
        self.calls: list[Call] = []

    def __call__(self, call: Call, watcher: StreamWatcher | None) -> Response:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        return Response(self.body, status=self.status, headers=self.headers)


class Stream:
    """A run function answering a stream of ``chunks``, reported to the
    watcher as owt's relay does: ``start()`` before the response is returned,
    ``chunk()`` for each chunk sent, then ``end()`` once: ``outcome`` after
    the last chunk, or ``closed`` if the response is closed before that."""

    def __init__(
        self,
        chunks: list[bytes],
        outcome: t.Literal["completed", "failed"] = "completed",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.outcome = outcome
        self.headers = headers or {"Content-Type": "text/event-stream"}
        self.calls: list[Call] = []

    def __call__(self, call: Call, watcher: StreamWatcher | None) -> Response:
        self.calls.append(call)
        if watcher is not None:
            watcher.start()
        body = self._body(watcher)
        next(body)  # started: closing it now runs its clean-up
        return Response(body, headers=self.headers)

    def _body(self, watcher: StreamWatcher | None) -> cabc.Iterator[bytes]:
        ended = "closed"
        try:
            yield b""
            for chunk in self.chunks:
                if watcher is not None:
                    watcher.chunk(chunk)
                yield chunk
            ended = self.outcome
        finally:
            if watcher is not None:
                watcher.end(ended)  # type: ignore[arg-type]


def read(response: Response) -> bytes:
    """The whole body of ``response``, as a client reads it, then closed."""
    try:
        return b"".join(response.iter_encoded())
    finally:
        response.close()


def chunks_of(response: Response) -> list[bytes]:
    """The chunks ``response`` is sent in, then closed."""
    try:
        return [chunk for chunk in response.iter_encoded() if chunk]
    finally:
        response.close()


def answer(cache: ResponseCache, run: t.Any, the_call: Call = CALL) -> Answer:
    return cache.respond(the_call, run)


class Background:
    """``function()`` run on a thread: its ``value`` or its ``error``."""

    def __init__(self, function: t.Callable[[], t.Any]) -> None:
        self.value: t.Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(function,), daemon=True)
        self.thread.start()

    def _run(self, function: t.Callable[[], t.Any]) -> None:
        try:
            self.value = function()
        except BaseException as e:
            self.error = e

    def result(self) -> t.Any:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "still running after the time limit"
        if self.error is not None:
            raise self.error
        return self.value

    def blocked(self) -> bool:
        """Whether the thread is (or within ``WAIT`` gets) blocked waiting on
        a lock, event or condition."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(self.thread.ident or -1)
            while frame is not None:
                if frame.f_code.co_filename == threading.__file__ and (
                    frame.f_code.co_name == "wait"
                ):
                    return True
                frame = frame.f_back
            time.sleep(0.005)
        return False


def entry_size(run: t.Any) -> int:
    """The bytes one entry answered by ``run`` counts against the bound."""
    probe = ResponseCache(BIG)
    read(answer(probe, run).response)
    return int(probe.stats()["bytes"])


# --- bypass, miss, hit -----------------------------------------------------------------


def test_without_use_cache_every_call_runs_and_nothing_is_stored():
    cache = ResponseCache(BIG)
    run = Run(b"fresh")
    for _ in range(2):
        got = answer(cache, run, call(use_cache=False))
        assert (got.state, read(got.response)) == ("bypass", b"fresh")
    assert len(run.calls) == 2
    assert cache.stats()["entries"] == 0


def test_a_miss_runs_once_then_the_same_response_is_a_hit():
    cache = ResponseCache(BIG)
    run = Run(b"stored", status=201, headers={"X-Custom": "yes"})
    first = answer(cache, run)
    second = answer(cache, run)
    assert (first.state, second.state) == ("miss", "hit")
    assert len(run.calls) == 1
    assert read(first.response) == read(second.response) == b"stored"
    assert second.response.status_code == 201
    assert second.response.headers["X-Custom"] == "yes"
    assert second.response.headers["Content-Type"] == "text/plain; charset=utf-8"
    stats = cache.stats()
    assert (stats["entries"], stats["hits"], stats["misses"]) == (1, 1, 1)


def test_per_transfer_headers_are_not_replayed():
    cache = ResponseCache(BIG)
    run = Run(
        b"12345",
        headers={
            "X-Request-Id": "first-request",
            "X-Owt-Cache": "miss",
            "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Connection": "keep-alive",
            "X-Kept": "1",
        },
    )
    answer(cache, run)
    hit = answer(cache, run).response
    assert "X-Request-Id" not in hit.headers
    assert "X-Owt-Cache" not in hit.headers
    assert "Date" not in hit.headers
    assert "Connection" not in hit.headers
    assert hit.headers["X-Kept"] == "1"
    # The length is the replayed body's own, sent once.
    assert hit.headers.getlist("Content-Length") == ["5"]


def test_storable_headers_leave_out_those_of_one_transfer():
    headers = Headers(
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("transfer-encoding", "chunked"),
            ("Connection", "close"),
            ("Keep-Alive", "timeout=5"),
            ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("Server", "granian"),
            ("X-Request-Id", "r1"),
            ("X-Owt-Cache", "miss"),
            ("X-Custom", "kept"),
            ("X-Custom", "twice"),
        ]
    )
    assert storable_headers(headers) == (
        ("Content-Type", "text/plain"),
        ("X-Custom", "kept"),
        ("X-Custom", "twice"),
    )


def test_a_hit_is_a_fresh_response_each_time():
    cache = ResponseCache(BIG)
    run = Run(b"body")
    answer(cache, run)
    one = answer(cache, run).response
    one.headers["X-Request-Id"] = "one"
    assert read(one) == b"body"
    two = answer(cache, run).response
    assert "X-Request-Id" not in two.headers
    assert read(two) == b"body"


# --- keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        {"path": "/b"},
        {"digest": "e" * 64},
        {"fn_name": "other"},
    ],
    ids=["path", "digest", "fn_name"],
)
def test_a_different_path_code_or_entrypoint_is_a_different_entry(other):
    cache = ResponseCache(BIG)
    first, second = Run(b"first"), Run(b"second")
    answer(cache, first)
    got = answer(cache, second, call(**other))
    assert (got.state, read(got.response)) == ("miss", b"second")
    assert cache.stats()["entries"] == 2
    # The first entry is still there for its own call.
    assert answer(cache, first).state == "hit"


def test_without_cache_kwargs_the_arguments_are_not_part_of_the_key():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"for owt"), call(arguments={"name": "owt"}))
    got = answer(cache, Run(b"for you"), call(arguments={"name": "you"}))
    assert (got.state, read(got.response)) == ("hit", b"for owt")


def test_with_cache_kwargs_the_arguments_are_part_of_the_key():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"for owt"), call(arguments={"name": "owt"}, cache_kwargs=True))
    got = answer(
        cache, Run(b"for you"), call(arguments={"name": "you"}, cache_kwargs=True)
    )
    assert (got.state, read(got.response)) == ("miss", b"for you")


def test_with_cache_kwargs_the_order_of_keys_does_not_matter():
    cache = ResponseCache(BIG)
    first = {"a": 1, "b": {"x": [1, 2], "y": None}}
    reordered = {"b": {"y": None, "x": [1, 2]}, "a": 1}
    answer(cache, Run(b"one"), call(arguments=first, cache_kwargs=True))
    got = answer(cache, Run(b"two"), call(arguments=reordered, cache_kwargs=True))
    assert (got.state, read(got.response)) == ("hit", b"one")


def test_cache_key_override_shares_one_entry_across_paths_and_code():
    cache = ResponseCache(BIG)
    shared = {"cache_key_override": "greeting"}
    answer(cache, Run(b"hello"), call(path="/a", **shared))
    got = answer(
        cache,
        Run(b"other"),
        call(path="/b", digest="e" * 64, fn_name="go", arguments={"n": 1}, **shared),
    )
    assert (got.state, read(got.response)) == ("hit", b"hello")
    # Without the override, /b is its own entry.
    assert answer(cache, Run(b"b"), call(path="/b")).state == "miss"


def test_plan_for_has_no_key_without_use_cache_and_pins_the_bare_path():
    assert plan_for(call(use_cache=False)).key is None
    assert plan_for(call(use_cache=False, pin=True)).pin_path == "/a"
    assert plan_for(call()).pin_path is None
    assert plan_for(call()).key == plan_for(call(arguments={"other": 1})).key
    assert plan_for(call(cache_kwargs=True)).key != plan_for(call()).key


@pytest.mark.parametrize("override", [None, "shared"])
def test_a_client_that_prefers_npy_has_its_own_key(override):
    def key(accept: str | None) -> str | None:
        headers = {} if accept is None else {"Accept": accept}
        http = Request.from_values(headers=headers)
        return plan_for(call(http=http, cache_key_override=override)).key

    json_key = plan_for(call(cache_key_override=override)).key
    assert key(None) == key("*/*") == key("application/json") == json_key
    assert key("application/json, application/x-npy") == json_key  # a tie: JSON
    assert key("application/x-npy") == key("*/*;q=0.1, application/x-npy")
    assert key("application/x-npy") != json_key


# --- canonical arguments ----------------------------------------------------------------


def test_canonical_tags_containers_so_a_tuple_is_not_a_list():
    assert canonical((1, 2)) != canonical([1, 2])
    assert canonical({"v": (1, 2)}) != canonical({"v": [1, 2]})
    assert canonical(b"ab") != canonical("ab")
    assert canonical(bytearray(b"ab")) == canonical(b"ab")


def test_canonical_sorts_dict_items_and_set_members():
    assert canonical({"b": 1, "a": 2}) == canonical({"a": 2, "b": 1})
    assert canonical({"b", "a", "c"}) == ["set", ["a", "b", "c"]]
    assert canonical(frozenset({3, 1, 2})) == ["set", [1, 2, 3]]


def test_arguments_of_different_types_are_different_keys():
    values = [1, 1.0, True, "1", None, [1], (1,), {1}, {"1": 1}, {1: 1}, b"1"]
    keys = {plan_for(call(arguments={"v": v}, cache_kwargs=True)).key for v in values}
    assert len(keys) == len(values)


def test_tuple_and_list_arguments_are_different_entries():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"list"), call(arguments={"v": [1, 2]}, cache_kwargs=True))
    got = answer(cache, Run(b"tuple"), call(arguments={"v": (1, 2)}, cache_kwargs=True))
    assert (got.state, read(got.response)) == ("miss", b"tuple")


# --- what is stored -------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 404, 500])
def test_only_2xx_responses_are_stored(status):
    cache = ResponseCache(BIG)
    run = Run(b"not this", status=status)
    for state in ("miss", "miss"):
        got = answer(cache, run)
        assert (got.state, got.response.status_code) == (state, status)
    assert len(run.calls) == 2
    assert cache.stats()["entries"] == 0


@pytest.mark.parametrize("status", [200, 204, 299])
def test_every_2xx_response_is_stored(status):
    cache = ResponseCache(BIG)
    answer(cache, Run(b"", status=status))
    got = answer(cache, Run(b"", status=status))
    assert (got.state, got.response.status_code) == ("hit", status)


def test_an_error_from_run_names_the_cache_state_and_is_not_stored():
    cache = ResponseCache(BIG)
    run = Run(error=AdaptorError("boom"))
    for _ in range(2):
        with pytest.raises(AdaptorError) as caught:
            answer(cache, run)
        assert caught.value.headers["X-Owt-Cache"] == "miss"
    assert len(run.calls) == 2
    assert cache.stats()["entries"] == 0
    with pytest.raises(AdaptorError) as caught:
        answer(cache, run, call(use_cache=False))
    assert caught.value.headers["X-Owt-Cache"] == "bypass"


def test_an_error_leaves_no_flight_behind():
    cache = ResponseCache(BIG)
    with pytest.raises(AdaptorError):
        answer(cache, Run(error=AdaptorError("boom")))
    assert cache.stats()["in_flight"] == 0
    got = answer(cache, Run(b"recovered"))
    assert (got.state, read(got.response)) == ("miss", b"recovered")


# --- the byte bound -------------------------------------------------------------------


def test_the_least_recently_used_entry_is_evicted_first():
    size = entry_size(Run(b"x" * 1000))
    cache = ResponseCache(2 * size + size // 2)  # room for two entries
    a, b, c = (call(path=p) for p in ("/a", "/b", "/c"))
    answer(cache, Run(b"a" * 1000), a)
    answer(cache, Run(b"b" * 1000), b)
    assert answer(cache, Run(), a).state == "hit"  # /b is now the oldest used
    answer(cache, Run(b"c" * 1000), c)
    stats = cache.stats()
    assert (stats["entries"], stats["evictions"]) == (2, 1)
    assert stats["bytes"] <= stats["max_bytes"]
    assert answer(cache, Run(), a).state == "hit"
    assert answer(cache, Run(), c).state == "hit"
    assert answer(cache, Run(b"b again" * 100), b).state == "miss"


def test_a_response_over_the_bound_is_answered_but_not_stored():
    cache = ResponseCache(1000)
    run = Run(b"x" * 2000)
    first = answer(cache, run)
    assert (first.state, len(read(first.response))) == ("miss", 2000)
    assert answer(cache, run).state == "miss"
    stats = cache.stats()
    assert (stats["entries"], stats["too_large"], stats["evictions"]) == (0, 2, 0)


def test_a_zero_bound_stores_nothing():
    cache = ResponseCache(0)
    run = Run(b"")
    assert [answer(cache, run).state for _ in range(2)] == ["miss", "miss"]
    assert cache.stats()["entries"] == 0


def test_entries_expire_after_the_ttl():
    cache = ResponseCache(BIG, ttl=0.1)
    run = Run(b"short-lived")
    assert answer(cache, run).state == "miss"
    assert answer(cache, run).state == "hit"
    time.sleep(0.25)
    assert cache.stats()["entries"] == 0
    assert answer(cache, run).state == "miss"
    assert len(run.calls) == 2
    assert cache.stats()["expired"] >= 1


# --- pins ------------------------------------------------------------------------------


def test_pin_stores_the_response_for_requests_without_code():
    cache = ResponseCache(BIG)
    icon = Run(b"ICON", headers={"Content-Type": "image/x-icon"})
    got = answer(cache, icon, call(path="/favicon.ico", use_cache=False, pin=True))
    assert (got.state, read(got.response)) == ("bypass", b"ICON")
    pinned = cache.pinned_response("/favicon.ico")
    assert pinned is not None
    assert (read(pinned), pinned.headers["Content-Type"]) == (b"ICON", "image/x-icon")
    assert cache.pinned_response("/other") is None
    stats = cache.stats()
    assert stats["pins"]["/favicon.ico"]["content_type"] == "image/x-icon"
    assert stats["entries"] == 0  # pinned without use_cache: no keyed entry
    assert stats["hits"] == 1


def test_a_hit_with_pin_pins_the_stored_response():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"page"))
    got = answer(cache, Run(b"unused"), call(pin=True))
    assert got.state == "hit"
    pinned = cache.pinned_response("/a")
    assert pinned is not None and read(pinned) == b"page"


def test_an_error_response_is_not_pinned():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"missing", status=404), call(pin=True))
    assert cache.pinned_response("/a") is None


def test_unpin_removes_the_pin():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"page"), call(use_cache=False, pin=True))
    assert cache.unpin("/a") is True
    assert cache.pinned_response("/a") is None
    assert cache.unpin("/a") is False
    assert cache.stats()["pins"] == {}
    assert cache.stats()["bytes"] == 0


def test_pins_never_expire():
    cache = ResponseCache(BIG, ttl=0.05)
    answer(cache, Run(b"page"), call(pin=True))
    time.sleep(0.15)
    assert cache.stats()["entries"] == 0
    pinned = cache.pinned_response("/a")
    assert pinned is not None and read(pinned) == b"page"


def test_pins_count_against_the_bound_and_evict_entries():
    size = entry_size(Run(b"x" * 1000))
    cache = ResponseCache(2 * size + size // 2)  # room for two
    answer(cache, Run(b"a" * 1000), call(path="/a"))
    answer(cache, Run(b"b" * 1000), call(path="/b"))
    answer(cache, Run(b"p" * 1000), call(path="/p", use_cache=False, pin=True))
    stats = cache.stats()
    assert (stats["entries"], stats["evictions"], len(stats["pins"])) == (1, 1, 1)
    assert stats["bytes"] <= stats["max_bytes"]
    assert answer(cache, Run(), call(path="/a")).state == "miss"  # the oldest went
    # With a pin taking its share, an entry that would fit an empty cache doesn't.
    big = Run(b"x" * (2 * size - 1000))
    answer(cache, big, call(path="/big"))
    assert cache.stats()["too_large"] == 1
    assert cache.pinned_response("/p") is not None


def test_a_pin_over_the_bound_is_refused():
    cache = ResponseCache(1000)
    got = answer(cache, Run(b"x" * 2000), call(use_cache=False, pin=True))
    assert read(got.response) == b"x" * 2000
    assert cache.pinned_response("/a") is None
    assert cache.stats()["too_large"] == 1


def test_clear_removes_entries_and_pins():
    cache = ResponseCache(BIG)
    answer(cache, Run(b"one"), call(path="/one"))
    answer(cache, Run(b"two"), call(path="/two", pin=True))
    assert cache.clear() == {"entries": 2, "pins": 1}
    assert cache.pinned_response("/two") is None
    assert answer(cache, Run(), call(path="/one")).state == "miss"
    stats = cache.stats()
    assert (stats["entries"], stats["pins"]) == (1, {})
    assert stats["misses"] == 3  # the counters go on counting


# --- single flight -------------------------------------------------------------------


class Gate:
    """A run function that blocks until opened, then answers or raises."""

    def __init__(self, inner: t.Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, call: Call, watcher: StreamWatcher | None) -> Response:
        self.entered.set()
        assert self.open.wait(WAIT), "the gate was never opened"
        return self.inner(call, watcher)


def test_concurrent_identical_misses_run_once():
    cache = ResponseCache(BIG)
    run = Run(b"once", headers={"X-Custom": "1"})
    gate = Gate(run)
    leader = Background(lambda: answer(cache, gate))
    assert gate.entered.wait(WAIT)
    waiter = Background(lambda: answer(cache, gate))
    assert waiter.blocked()
    gate.open.set()
    first, second = leader.result(), waiter.result()
    assert (first.state, second.state) == ("miss", "hit")
    assert read(first.response) == read(second.response) == b"once"
    assert second.response.headers["X-Custom"] == "1"
    assert len(run.calls) == 1
    assert cache.stats()["in_flight"] == 0


def test_different_calls_do_not_wait_for_each_other():
    cache = ResponseCache(BIG)
    gate = Gate(Run(b"slow"))
    slow = Background(lambda: answer(cache, gate, call(path="/slow")))
    assert gate.entered.wait(WAIT)
    fast = Background(lambda: answer(cache, Run(b"fast"), call(path="/fast")))
    got = fast.result()  # while /slow is still running
    assert (got.state, read(got.response)) == ("miss", b"fast")
    assert slow.thread.is_alive()
    gate.open.set()
    assert slow.result().state == "miss"


def test_an_error_is_shared_with_the_waiter_as_a_copy():
    cache = ResponseCache(BIG)
    run = Run(error=AdaptorError("boom", traceback="Traceback..."))
    gate = Gate(run)
    leader = Background(lambda: answer(cache, gate))
    assert gate.entered.wait(WAIT)
    waiter = Background(lambda: answer(cache, gate))
    assert waiter.blocked()
    gate.open.set()
    with pytest.raises(AdaptorError) as led:
        leader.result()
    with pytest.raises(AdaptorError) as waited:
        waiter.result()
    assert len(run.calls) == 1
    assert led.value.headers["X-Owt-Cache"] == "miss"
    assert waited.value.headers["X-Owt-Cache"] == "hit"
    assert waited.value is not led.value
    assert (waited.value.message, waited.value.details) == (
        "boom",
        {"traceback": "Traceback..."},
    )
    # Nothing was stored: the next call runs again.
    with pytest.raises(AdaptorError):
        answer(cache, run)
    assert len(run.calls) == 2


def test_a_waiter_gets_a_shared_non_2xx_response_without_storing_it():
    cache = ResponseCache(BIG)
    run = Run(b"not found", status=404)
    gate = Gate(run)
    leader = Background(lambda: answer(cache, gate))
    assert gate.entered.wait(WAIT)
    waiter = Background(lambda: answer(cache, gate))
    assert waiter.blocked()
    gate.open.set()
    first, second = leader.result(), waiter.result()
    assert (first.state, first.response.status_code) == ("miss", 404)
    assert (second.state, second.response.status_code) == ("hit", 404)
    assert read(second.response) == b"not found"
    assert len(run.calls) == 1
    assert cache.stats()["entries"] == 0


# --- streams ---------------------------------------------------------------------------


def test_a_completed_stream_is_stored_and_replayed_as_the_same_stream():
    cache = ResponseCache(BIG)
    run = Stream([b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"])
    first = answer(cache, run)
    assert first.state == "miss"
    assert chunks_of(first.response) == run.chunks
    hit = answer(cache, run)
    assert hit.state == "hit"
    assert hit.response.is_streamed
    assert hit.response.headers["Content-Type"] == "text/event-stream"
    assert "Content-Length" not in hit.response.headers
    assert chunks_of(hit.response) == run.chunks
    assert len(run.calls) == 1
    assert cache.stats()["entries"] == 1


def test_a_stream_is_stored_only_once_it_has_been_sent_to_the_end():
    cache = ResponseCache(BIG)
    run = Stream([b"a", b"b"])
    first = answer(cache, run)
    assert cache.stats()["entries"] == 0  # not yet sent
    assert cache.stats()["in_flight"] == 1
    read(first.response)
    assert cache.stats()["entries"] == 1
    assert cache.stats()["in_flight"] == 0


def test_a_stream_whose_client_went_away_is_not_stored():
    cache = ResponseCache(BIG)
    run = Stream([b"a", b"b", b"c"])
    first = answer(cache, run).response
    sent = first.iter_encoded()
    assert next(sent) == b"a"
    first.close()  # the client went away
    assert cache.stats()["entries"] == 0
    second = answer(cache, run)
    assert (second.state, chunks_of(second.response)) == ("miss", [b"a", b"b", b"c"])
    assert len(run.calls) == 2


def test_a_stream_that_failed_is_not_stored():
    cache = ResponseCache(BIG)
    run = Stream([b"data: 1\n\n", b"event: error\ndata: {}\n\n"], outcome="failed")
    for _ in range(2):
        got = answer(cache, run)
        assert got.state == "miss"
        read(got.response)
    assert len(run.calls) == 2
    assert cache.stats()["entries"] == 0


def test_a_stream_over_the_bound_is_sent_whole_but_not_stored():
    cache = ResponseCache(1000)
    run = Stream([b"x" * 600, b"y" * 600])
    got = answer(cache, run)
    assert read(got.response) == b"x" * 600 + b"y" * 600
    stats = cache.stats()
    assert (stats["entries"], stats["too_large"]) == (0, 1)


def test_a_streaming_response_not_reported_to_the_watcher_is_not_stored():
    cache = ResponseCache(BIG)
    calls = []

    def run(call: Call, watcher: StreamWatcher | None) -> Response:
        calls.append(call)
        return Response(iter([b"made ", b"by hand"]))

    for _ in range(2):
        got = answer(cache, run)
        assert (got.state, read(got.response)) == ("miss", b"made by hand")
    assert len(calls) == 2
    assert cache.stats()["entries"] == 0


def test_a_waiter_for_a_stream_gets_the_same_chunks_once_it_completes():
    cache = ResponseCache(BIG)
    run = Stream([b"one ", b"two"])
    first = answer(cache, run)
    waiter = Background(lambda: answer(cache, run))
    assert waiter.blocked()  # until the stream has been sent
    assert chunks_of(first.response) == [b"one ", b"two"]
    second = waiter.result()
    assert second.state == "hit"
    assert chunks_of(second.response) == [b"one ", b"two"]
    assert len(run.calls) == 1


def test_a_waiter_runs_the_call_itself_when_the_first_client_went_away():
    cache = ResponseCache(BIG)
    run = Stream([b"one ", b"two"])
    first = answer(cache, run)
    waiter = Background(lambda: answer(cache, run))
    assert waiter.blocked()
    first.response.close()  # the first client left: nothing whole to share
    second = waiter.result()
    assert second.state == "miss"
    assert chunks_of(second.response) == [b"one ", b"two"]
    assert len(run.calls) == 2


def _failing_plain_stream(
    go: threading.Event, calls: list[Call]
) -> t.Callable[[Call, StreamWatcher | None], Response]:
    """A run function streaming text through owt's relay, as the inline
    executor does, that fails after its first chunk once ``go`` is set."""

    def run(call: Call, watcher: StreamWatcher | None) -> Response:
        calls.append(call)

        def source() -> t.Generator[bytes, None, t.Any]:
            yield b"part 1 of 2; "
            go.wait(WAIT)
            raise RuntimeError("the adaptor failed half-way")

        chunks = relay(source(), sse=False, request_id="r1", watcher=watcher)
        next(chunks)
        return Response(chunks, mimetype="text/plain")

    return run


def _reads_whole(response: Response) -> bool:
    try:
        read(response)
    except StreamAborted:
        return False
    return True


def test_a_waiter_does_not_get_a_failed_plain_stream_as_a_clean_answer():
    cache = ResponseCache(BIG)
    go, calls = threading.Event(), []
    run = _failing_plain_stream(go, calls)
    first = answer(cache, run)
    waiter = Background(lambda: answer(cache, run))
    assert waiter.blocked()
    go.set()
    assert not _reads_whole(first.response)  # the first client sees the failure
    waiter.thread.join(WAIT)
    assert not waiter.thread.is_alive()
    # The waiter's client must see a failure too, not a truncated success.
    assert waiter.error is not None or not _reads_whole(waiter.value.response)


def test_a_stream_that_failed_is_never_pinned():
    cache = ResponseCache(BIG)
    go, calls = threading.Event(), []
    run = _failing_plain_stream(go, calls)
    pinning = call(pin=True)
    first = answer(cache, run, pinning)
    waiter = Background(lambda: answer(cache, run, pinning))
    assert waiter.blocked()
    go.set()
    _reads_whole(first.response)
    waiter.thread.join(WAIT)
    assert not waiter.thread.is_alive()
    if waiter.error is None:
        _reads_whole(waiter.value.response)
    assert cache.pinned_response("/a") is None
