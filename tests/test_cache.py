"""The response cache, against a real ``owt serve`` over real HTTP.

Adaptors return ``time.time_ns()`` or a per-process counter, so a repeated
body proves a hit and a new one proves the adaptor ran again. Each test
sends code of its own (a unique comment line), so tests sharing a server
never share cache entries.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import time
import uuid
import zlib

import pytest
import requests
from click.testing import CliRunner

from owt.cli import main as cli_main
from tests.owtserver import b64
from tests.owtserver import running_owt

MB = 1024 * 1024

TIME_NS = """
import time

def run(**kwargs):
    return f"{kwargs.get('name', '')}-{time.time_ns()}"
"""

COUNTER = """
import itertools, time
_calls = itertools.count(1)
_ran = []

def run(**kwargs):
    _ran.append(1)
    return str(next(_calls))

def ran():
    return str(len(_ran))
"""


def unique(code: str) -> str:
    """``code`` with a comment that makes its digest (and entries) its own."""
    return f"# {uuid.uuid4().hex}\n{code}"


def state(response: requests.Response) -> str | None:
    return response.headers.get("X-Owt-Cache")


@pytest.fixture(scope="module")
def server():
    with running_owt() as s:
        yield s


def cache_stats(server, **kw) -> dict:
    response = requests.get(server.url + "/_owt/cache", timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json()


# -- hits, misses, keys ------------------------------------------------------


def test_use_cache_answers_repeats_with_the_first_response(server):
    code = unique(TIME_NS)
    first = server.post(code, {"name": "a"}, path="/t", use_cache=True)
    second = server.post(code, {"name": "a"}, path="/t", use_cache=True)
    assert first.status_code == second.status_code == 200
    assert (state(first), state(second)) == ("miss", "hit")
    assert second.text == first.text
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.headers["X-Request-Id"] != first.headers["X-Request-Id"]


def test_use_cache_as_a_query_string_flag(server):
    code = unique(TIME_NS)
    first = server.get(code, path="/q", use_cache="true")
    second = server.get(code, path="/q", use_cache="1")
    assert (state(first), state(second)) == ("miss", "hit")
    assert second.text == first.text


def test_without_use_cache_nothing_is_read_or_written(server):
    code = unique(TIME_NS)
    plain = server.post(code, path="/b")
    assert state(plain) == "bypass"
    cached = server.post(code, path="/b", use_cache=True)
    assert state(cached) == "miss"
    assert cached.text != plain.text
    again = server.post(code, path="/b")
    assert state(again) == "bypass"
    assert again.text not in (plain.text, cached.text)


def test_hit_replays_status_and_headers(server):
    code = unique(
        "import time\n"
        "def run():\n"
        "    return str(time.time_ns()), 201, "
        "{'X-Thing': 'yes', 'Content-Type': 'application/x-thing'}\n"
    )
    first = server.post(code, path="/h", use_cache=True)
    second = server.post(code, path="/h", use_cache=True)
    assert state(second) == "hit"
    for response in (first, second):
        assert response.status_code == 201
        assert response.headers["X-Thing"] == "yes"
        assert response.headers["Content-Type"] == "application/x-thing"
    assert second.content == first.content


def test_kwargs_are_not_part_of_the_key_without_cache_kwargs(server):
    code = unique(TIME_NS)
    first = server.post(code, {"name": "a"}, path="/k", use_cache=True)
    other = server.post(code, {"name": "b"}, path="/k", use_cache=True)
    assert state(other) == "hit"
    assert other.text == first.text
    assert other.text.startswith("a-")


def test_cache_kwargs_keys_on_the_arguments_in_any_order(server):
    code = unique(
        "import time\ndef run(a, b):\n    return f'{a}{b}-{time.time_ns()}'\n"
    )

    def send(kwargs_text: str) -> requests.Response:
        return requests.post(
            server.url + "/kw",
            json={
                "code_b64": b64(code),
                "kwargs_b64": b64(kwargs_text),
                "use_cache": True,
                "cache_kwargs": True,
            },
            timeout=30,
        )

    first = send('{"a": 1, "b": 2}')
    swapped = send('{"b": 2, "a": 1}')
    python_literal = send("{'b': 2, 'a': 1}")
    different = send('{"a": 1, "b": 3}')
    assert state(first) == "miss"
    assert (state(swapped), swapped.text) == ("hit", first.text)
    assert (state(python_literal), python_literal.text) == ("hit", first.text)
    assert state(different) == "miss"
    assert different.text.startswith("13-")


def test_cache_key_override_shares_one_entry_across_codes_and_paths(server):
    key = uuid.uuid4().hex
    one = unique("import time\ndef run():\n    return f'one-{time.time_ns()}'\n")
    two = unique("import time\ndef run():\n    return f'two-{time.time_ns()}'\n")
    first = server.post(one, path="/one", use_cache=True, cache_key_override=key)
    second = server.post(two, path="/two", use_cache=True, cache_key_override=key)
    assert state(first) == "miss"
    assert state(second) == "hit"
    assert second.text == first.text
    assert second.text.startswith("one-")
    # Without the override, the second code has an entry of its own.
    own = server.post(two, path="/two", use_cache=True)
    assert state(own) == "miss"
    assert own.text.startswith("two-")


def test_two_codes_at_one_path_never_see_each_others_entries(server):
    one = unique("import time\ndef run():\n    return f'one-{time.time_ns()}'\n")
    two = unique("import time\ndef run():\n    return f'two-{time.time_ns()}'\n")
    a1 = server.post(one, path="/same", use_cache=True)
    b1 = server.post(two, path="/same", use_cache=True)
    a2 = server.post(one, path="/same", use_cache=True)
    b2 = server.post(two, path="/same", use_cache=True)
    assert [state(r) for r in (a1, b1, a2, b2)] == ["miss", "miss", "hit", "hit"]
    assert a1.text.startswith("one-") and b1.text.startswith("two-")
    assert (a2.text, b2.text) == (a1.text, b1.text)


def test_one_code_at_two_paths_has_two_entries(server):
    code = unique(TIME_NS)
    first = server.post(code, path="/p1", use_cache=True)
    second = server.post(code, path="/p2", use_cache=True)
    assert (state(first), state(second)) == ("miss", "miss")
    assert second.text != first.text


def test_each_entrypoint_has_entries_of_its_own(server):
    code = unique(
        "import time\n"
        "def run():\n    return f'run-{time.time_ns()}'\n"
        "def other():\n    return f'other-{time.time_ns()}'\n"
    )
    first = server.post(code, path="/fn", use_cache=True)
    other = server.post(code, path="/fn", use_cache=True, fn_name="other")
    assert state(other) == "miss"
    assert other.text.startswith("other-")
    assert first.text.startswith("run-")


# -- errors -------------------------------------------------------------------


def test_adaptor_errors_are_not_cached(server):
    code = unique(
        "import itertools\n"
        "_calls = itertools.count(1)\n"
        "def run():\n"
        "    n = next(_calls)\n"
        "    if n == 1:\n"
        "        raise ValueError('first call fails')\n"
        "    return str(n)\n"
    )
    failed = server.post(code, path="/e", use_cache=True)
    assert failed.status_code == 500
    assert failed.json()["error"] == "adaptor_error"
    assert state(failed) == "miss"
    ok = server.post(code, path="/e", use_cache=True)
    assert (ok.status_code, ok.text, state(ok)) == (200, "2", "miss")
    hit = server.post(code, path="/e", use_cache=True)
    assert (hit.status_code, hit.text, state(hit)) == (200, "2", "hit")


def test_non_2xx_responses_are_not_cached(server):
    code = unique(
        "import itertools\n"
        "_calls = itertools.count(1)\n"
        "def run():\n"
        "    return f'gone {next(_calls)}', 404\n"
    )
    bodies = []
    for _ in range(3):
        response = server.post(code, path="/nf", use_cache=True)
        assert response.status_code == 404
        assert state(response) == "miss"
        bodies.append(response.text)
    assert bodies == ["gone 1", "gone 2", "gone 3"]


# -- streams ------------------------------------------------------------------

SSE = """
import time

def run():
    def events():
        stamp = time.time_ns()
        for i in range(3):
            yield f"data: {stamp} {i}\\n\\n"
        time.sleep(1)
        yield "data: [DONE]\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""


def read_chunks(response: requests.Response) -> tuple[list[bytes], float, float]:
    """The HTTP chunks as sent, the time of the first and the end."""
    chunks: list[bytes] = []
    first_at = 0.0
    for chunk in response.raw.read_chunked():
        if not chunks:
            first_at = time.monotonic()
        chunks.append(chunk)
    return chunks, first_at, time.monotonic()


def test_sse_stream_is_cached_and_replayed_as_the_same_stream(server):
    code = unique(SSE)
    first = server.post(code, path="/sse", use_cache=True, stream=True)
    assert state(first) == "miss"
    chunks, first_at, ended_at = read_chunks(first)
    # Still streamed while recorded: the first events came before the last.
    assert ended_at - first_at > 0.7
    assert len(chunks) == 4
    assert chunks[-1] == b"data: [DONE]\n\n"

    replay = server.post(code, path="/sse", use_cache=True, stream=True)
    assert state(replay) == "hit"
    replayed, _, _ = read_chunks(replay)
    assert replayed == chunks
    assert replay.status_code == first.status_code == 200
    assert replay.headers["Content-Type"] == "text/event-stream"
    assert replay.headers["Cache-Control"] == first.headers["Cache-Control"]
    # A stream still: chunked, with no length given up front.
    assert replay.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in replay.headers


def test_a_stream_that_raises_stores_nothing(server):
    code = unique(
        "import itertools\n"
        "_calls = itertools.count(1)\n"
        "def run():\n"
        "    n = next(_calls)\n"
        "    def events():\n"
        "        yield f'data: call {n}\\n\\n'\n"
        "        raise RuntimeError('broke mid-stream')\n"
        "    return events(), {'Content-Type': 'text/event-stream'}\n"
    )
    first = server.post(code, path="/broken", use_cache=True)
    assert first.status_code == 200
    assert first.text.startswith("data: call 1\n\n")
    assert "event: error" in first.text and "broke mid-stream" in first.text
    second = server.post(code, path="/broken", use_cache=True)
    assert state(second) == "miss"
    assert second.text.startswith("data: call 2\n\n")


def test_a_stream_whose_client_leaves_stores_nothing(server):
    code = unique(
        "import itertools, time\n"
        "_calls = itertools.count(1)\n"
        "def run():\n"
        "    n = next(_calls)\n"
        "    def chunks():\n"
        "        for i in range(8):\n"
        "            yield f'{n}:{i}\\n'\n"
        "            time.sleep(0.1)\n"
        "    return chunks(), {'Content-Type': 'text/plain'}\n"
    )
    left = server.post(code, path="/left", use_cache=True, stream=True)
    assert next(left.raw.read_chunked()) == b"1:0\n"
    left.close()
    # Whether or not the abandoned stream has noticed yet, this one runs it.
    full = server.post(code, path="/left", use_cache=True)
    assert state(full) == "miss"
    assert full.text == "".join(f"2:{i}\n" for i in range(8))
    again = server.post(code, path="/left", use_cache=True)
    assert (state(again), again.text) == ("hit", full.text)


# -- pinning ------------------------------------------------------------------


def tiny_png(rgb: tuple[int, int, int]) -> bytes:
    """A valid one-pixel PNG of colour ``rgb``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        crc = zlib.crc32(body).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + body + crc

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(bytes([0, *rgb]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def png_adaptor(png: bytes) -> str:
    encoded = base64.b64encode(png).decode()
    return (
        "import base64\n"
        "def run():\n"
        f"    return base64.b64decode('{encoded}'), {{'Content-Type': 'image/png'}}\n"
    )


def test_pinned_favicon_answers_plain_gets(server):
    red = tiny_png((255, 0, 0))
    pinned = server.post(png_adaptor(red), path="/favicon.ico", pin=True)
    assert pinned.status_code == 200
    assert pinned.content == red

    plain = requests.get(server.url + "/favicon.ico", timeout=10)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "image/png"
    assert plain.content == red
    assert state(plain) == "hit"

    head = requests.head(server.url + "/favicon.ico", timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Type"] == "image/png"
    assert head.headers["Content-Length"] == str(len(red))
    assert head.content == b""

    # Only the bare path is pinned; other paths without code are still 400.
    other = requests.get(server.url + "/elsewhere.ico", timeout=10)
    assert other.status_code == 400
    assert other.json()["error"] == "missing_code"

    # A request with code at the pinned path still runs its code.
    ran = server.post(TIME_NS, path="/favicon.ico")
    assert ran.headers["Content-Type"].startswith("text/html")

    # A new pin replaces the old one.
    blue = tiny_png((0, 0, 255))
    server.post(png_adaptor(blue), path="/favicon.ico", pin=True)
    assert requests.get(server.url + "/favicon.ico", timeout=10).content == blue
    assert "/favicon.ico" in cache_stats(server)["pins"]

    removed = requests.delete(
        server.url + "/_owt/cache", params={"path": "/favicon.ico"}, timeout=10
    )
    assert removed.status_code == 200
    assert removed.json() == {"unpinned": "/favicon.ico"}
    gone = requests.get(server.url + "/favicon.ico", timeout=10)
    assert gone.status_code == 400
    assert gone.json()["error"] == "missing_code"
    assert requests.head(server.url + "/favicon.ico", timeout=10).status_code == 204
    again = requests.delete(
        server.url + "/_owt/cache", params={"path": "/favicon.ico"}, timeout=10
    )
    assert again.status_code == 404


def test_errors_are_never_pinned(server):
    code = "def run():\n    return 'nope', 500\n"
    response = server.post(code, path="/pinfail.ico", pin=True)
    assert response.status_code == 500
    plain = requests.get(server.url + "/pinfail.ico", timeout=10)
    assert plain.status_code == 400


def test_a_pinned_stream_replays_as_a_stream(server):
    code = unique(
        "def run():\n"
        "    return (c for c in ['a\\n', 'b\\n', 'c\\n']), "
        "{'Content-Type': 'text/plain'}\n"
    )
    server.post(code, path="/pinned-stream", pin=True)
    plain = requests.get(server.url + "/pinned-stream", stream=True, timeout=10)
    chunks, _, _ = read_chunks(plain)
    assert chunks == [b"a\n", b"b\n", b"c\n"]
    assert plain.headers["Content-Type"] == "text/plain"


# -- single flight ------------------------------------------------------------


def test_ten_concurrent_identical_misses_run_the_adaptor_once(server):
    code = unique(
        "import time\n"
        "_ran = []\n"
        "def run():\n"
        "    _ran.append(1)\n"
        "    time.sleep(1)\n"
        "    return f'result {len(_ran)}'\n"
        "def ran():\n"
        "    return str(len(_ran))\n"
    )
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        responses = list(
            pool.map(
                lambda _: server.post(code, path="/slow", use_cache=True),
                range(10),
            )
        )
    elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 10
    assert {r.text for r in responses} == {"result 1"}
    assert sorted(state(r) for r in responses) == ["hit"] * 9 + ["miss"]
    assert server.post(code, fn_name="ran").text == "1"
    assert elapsed < 5


def test_waiters_see_the_error_of_a_failing_leader(server):
    code = unique(
        "import time\n"
        "_ran = []\n"
        "def run():\n"
        "    _ran.append(1)\n"
        "    time.sleep(1)\n"
        "    raise ValueError('no luck')\n"
        "def ran():\n"
        "    return str(len(_ran))\n"
    )
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        responses = list(
            pool.map(
                lambda _: server.post(code, path="/slowfail", use_cache=True),
                range(5),
            )
        )
    assert [r.status_code for r in responses] == [500] * 5
    assert all("no luck" in r.json()["message"] for r in responses)
    assert server.post(code, fn_name="ran").text == "1"
    # The error was shared, not stored: the next request runs it again.
    assert server.post(code, path="/slowfail", use_cache=True).status_code == 500
    assert server.post(code, fn_name="ran").text == "2"


# -- bounds -------------------------------------------------------------------

PADDED = """
import time

def run():
    return str(time.time_ns()).ljust(400, '.')
"""


def test_the_size_bound_evicts_the_least_recently_used():
    # 0.002 MB is 2097 bytes: two 400-byte responses fit (each counts its
    # headers and 512 bytes of overhead too), three do not.
    with running_owt("--cache-mb", "0.002") as s:

        def get(path: str) -> requests.Response:
            response = s.post(PADDED, path=path, use_cache=True)
            assert response.status_code == 200
            assert len(response.text) == 400
            return response

        a = get("/a")
        b = get("/b")
        assert state(get("/a")) == "hit"  # /a is now the most recent
        assert state(get("/c")) == "miss"  # evicts /b, the least recent
        a_again = get("/a")
        assert (state(a_again), a_again.text) == ("hit", a.text)
        b_again = get("/b")
        assert state(b_again) == "miss"
        assert b_again.text != b.text
        stats = cache_stats(s)
        assert stats["evictions"] >= 2
        assert stats["entries"] == 2
        assert 1800 <= stats["bytes"] <= stats["max_bytes"] == 2097


def test_empty_responses_count_against_the_bound_too():
    # 2,000 distinct empty responses under a 0.1 MB bound: each costs at
    # least its overhead, so old ones are evicted and the bound holds. The
    # cache's own arithmetic, so the app runs in process (no server needed).
    from owt.options import ServeOptions
    from owt.server import create_app

    client = create_app(ServeOptions(cache_mb=0.1)).test_client()
    for i in range(2000):
        body = {
            "code": "def run():\n    return ''\n",
            "use_cache": True,
            "cache_key_override": f"empty-{i}",
        }
        with client.post("/", json=body) as response:  # closing frees its slot
            assert response.status_code == 200
    stats = client.get("/_owt/cache").get_json()
    assert stats["bytes"] <= stats["max_bytes"]
    assert stats["entries"] <= stats["max_bytes"] // 512
    assert stats["evictions"] >= 2000 - stats["entries"]


def test_responses_bigger_than_the_bound_are_served_but_not_stored():
    big = "import time\ndef run():\n    return str(time.time_ns()).ljust(3000, '.')\n"
    stream = (
        "import time\n"
        "def run():\n"
        "    stamp = str(time.time_ns())\n"
        "    return (stamp.ljust(600, str(i)) for i in range(3))\n"
    )
    with running_owt("--cache-mb", "0.001") as s:
        for code in (big, stream):
            first = s.post(code, path="/big", use_cache=True)
            second = s.post(code, path="/big", use_cache=True)
            for response in (first, second):
                assert response.status_code == 200
                assert state(response) == "miss"
            assert len(first.text) == len(second.text) > 1048
            assert first.text != second.text
        stats = cache_stats(s)
        assert stats["entries"] == 0
        assert stats["too_large"] >= 4


def test_entries_expire_after_the_ttl():
    with running_owt("--cache-ttl", "1") as s:
        first = s.post(TIME_NS, path="/ttl", use_cache=True)
        second = s.post(TIME_NS, path="/ttl", use_cache=True)
        assert (state(second), second.text) == ("hit", first.text)
        time.sleep(1.3)
        third = s.post(TIME_NS, path="/ttl", use_cache=True)
        assert state(third) == "miss"
        assert third.text != first.text
        stats = cache_stats(s)
        assert stats["ttl_s"] == 1.0
        assert stats["expired"] >= 1


# -- management ---------------------------------------------------------------


def test_stats_and_clear():
    with running_owt(env={"OWT_CACHE_MB": "2"}) as s:
        stats = cache_stats(s)
        assert stats["max_bytes"] == 2 * MB
        assert stats["ttl_s"] is None
        assert (stats["entries"], stats["bytes"], stats["hits"]) == (0, 0, 0)

        s.post(TIME_NS, path="/s", use_cache=True)
        s.post(TIME_NS, path="/s", use_cache=True)
        s.post(TIME_NS, path="/s")  # bypass: not counted
        s.post(png_adaptor(tiny_png((0, 0, 0))), path="/icon.png", pin=True)
        stats = cache_stats(s)
        assert (stats["entries"], stats["hits"], stats["misses"]) == (1, 1, 1)
        assert stats["evictions"] == 0
        assert stats["bytes"] > 0
        assert stats["pins"]["/icon.png"]["content_type"] == "image/png"

        cleared = requests.delete(s.url + "/_owt/cache", timeout=10)
        assert cleared.status_code == 200
        assert cleared.json() == {"cleared": {"entries": 1, "pins": 1}}
        stats = cache_stats(s)
        assert (stats["entries"], stats["bytes"], stats["pins"]) == (0, 0, {})
        assert state(s.post(TIME_NS, path="/s", use_cache=True)) == "miss"
        assert requests.get(s.url + "/icon.png", timeout=10).status_code == 400


def test_cache_endpoints_and_pins_are_behind_auth():
    password = "sesame"
    digest = hashlib.sha256(password.encode()).hexdigest()
    with running_owt("--auth", f"me:{digest}") as s:
        auth = ("me", password)
        pinned = requests.post(
            s.url + "/favicon.ico",
            json={"code_b64": b64(png_adaptor(tiny_png((1, 2, 3)))), "pin": True},
            auth=auth,
            timeout=10,
        )
        assert pinned.status_code == 200

        for method in ("GET", "DELETE"):
            refused = requests.request(method, s.url + "/_owt/cache", timeout=10)
            assert refused.status_code == 401
            assert "WWW-Authenticate" in refused.headers
        assert requests.get(s.url + "/favicon.ico", timeout=10).status_code == 401

        stats = cache_stats(s, auth=auth)
        assert "/favicon.ico" in stats["pins"]
        icon = requests.get(s.url + "/favicon.ico", auth=auth, timeout=10)
        assert icon.headers["Content-Type"] == "image/png"
        cleared = requests.delete(s.url + "/_owt/cache", auth=auth, timeout=10)
        assert cleared.status_code == 200


@pytest.mark.parametrize(
    ("option", "value"),
    [("--cache-mb", "-1"), ("--cache-ttl", "0"), ("--cache-ttl", "soon")],
)
def test_bad_cache_options_are_refused(option, value):
    result = CliRunner().invoke(cli_main, ["serve", option, value])
    assert result.exit_code == 2
    assert option in result.output
