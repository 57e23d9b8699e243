"""The response cache in Redis (``--cache-url``), shared by front ends.

Each test runs a real ``redis-server`` on a loopback port and two real owt
front ends on two ports that use it, as a deployment behind a load balancer
would: what one front end stores, pins or is running, the other sees.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pytest
import requests

from owt.cache import plan_for
from owt.execute import code_digest
from owt.request import Call
from tests.owtserver import running_owt
from tests.redisserver import RedisProcess
from tests.redisserver import running_redis

STAMP = (
    "import time\n"
    "def run(x, log=None):\n"
    "    if log:\n"
    "        open(log, 'a').write('ran\\n')\n"
    "    time.sleep(0.5)\n"
    "    return f'{x} {time.time_ns()}'\n"
)
STREAM = (
    "import time\n"
    "def run():\n"
    "    stamp = time.time_ns()\n"
    "    for i in range(3):\n"
    "        yield f'{stamp}-{i};'\n"
)


@pytest.fixture
def redis_server(tmp_path):
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def fronts(redis_server, tmp_path):
    """Two owt front ends sharing ``redis_server``."""
    logs = tmp_path / "logs"
    with (
        running_owt("--cache-url", redis_server.url, log_dir=logs / "a") as a,
        running_owt("--cache-url", redis_server.url, log_dir=logs / "b") as b,
    ):
        yield a, b


def cached(front, code, kwargs=None, path="/x", **fields):
    body = {"code": code, "kwargs": kwargs or {}, "use_cache": True, **fields}
    return requests.post(front.url + path, json=body, timeout=30)


def test_an_entry_stored_by_one_front_end_is_a_hit_on_the_other(fronts):
    a, b = fronts
    first = cached(a, STAMP, {"x": 1})
    second = cached(b, STAMP, {"x": 1})
    assert first.headers["X-Owt-Cache"] == "miss"
    assert second.headers["X-Owt-Cache"] == "hit"
    assert second.text == first.text and second.status_code == 200
    stats = requests.get(b.url + "/_owt/cache", timeout=10).json()
    assert stats["store"] == "redis"
    assert (stats["entries"], stats["hits"], stats["misses"]) == (1, 1, 1)


def test_identical_misses_on_two_front_ends_run_once(fronts, tmp_path):
    a, b = fronts
    log = tmp_path / "runs.log"
    kwargs = {"x": 2, "log": str(log)}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda f: cached(f, STAMP, kwargs, cache_kwargs=False), [a, b] * 2)
        )
    assert log.read_text() == "ran\n"
    assert len({r.text for r in answers}) == 1
    states = sorted(r.headers["X-Owt-Cache"] for r in answers)
    assert states == ["hit", "hit", "hit", "miss"]


def test_a_pin_made_on_one_front_end_answers_on_the_other(fronts):
    a, b = fronts
    pinned = cached(a, STAMP, {"x": 3}, path="/favicon.ico", pin=True)
    assert pinned.status_code == 200
    answer = requests.get(b.url + "/favicon.ico", timeout=10)
    assert (answer.status_code, answer.text) == (200, pinned.text)
    assert answer.headers["X-Owt-Cache"] == "hit"
    stats = requests.get(a.url + "/_owt/cache", timeout=10).json()
    assert list(stats["pins"]) == ["/favicon.ico"]
    gone = requests.delete(b.url + "/_owt/cache?path=/favicon.ico", timeout=10)
    assert gone.json() == {"unpinned": "/favicon.ico"}
    assert requests.get(a.url + "/favicon.ico", timeout=10).status_code == 400


def test_a_stream_is_recorded_once_and_replayed_as_a_stream_elsewhere(fronts):
    a, b = fronts
    first = cached(a, STREAM)
    second = cached(b, STREAM)
    assert first.headers["X-Owt-Cache"] == "miss"
    assert second.headers["X-Owt-Cache"] == "hit"
    assert second.text == first.text and first.text.count(";") == 3
    assert second.headers.get("Transfer-Encoding") == "chunked"


def test_errors_are_not_stored(fronts):
    a, b = fronts
    failing = "def run():\n    raise ValueError('no')\n"
    assert cached(a, failing).status_code == 500
    again = cached(b, failing)
    assert again.status_code == 500
    assert again.headers["X-Owt-Cache"] == "miss"
    assert again.json()["error"] == "adaptor_error"


def test_delete_clears_the_cache_of_every_front_end(fronts):
    a, b = fronts
    cached(a, STAMP, {"x": 4})
    cleared = requests.delete(b.url + "/_owt/cache", timeout=10).json()
    assert cleared == {"cleared": {"entries": 1, "pins": 0}}
    assert cached(a, STAMP, {"x": 4}).headers["X-Owt-Cache"] == "miss"


def test_the_cache_endpoint_reports_redis_bound_and_policy(fronts):
    stats = requests.get(fronts[0].url + "/_owt/cache", timeout=10).json()
    assert stats["maxmemory"] == 64 * 1024 * 1024
    assert stats["maxmemory_policy"] == "volatile-lru"
    assert stats["url"].startswith("redis://127.0.0.1:")


def test_cache_ttl_becomes_the_redis_expiry(redis_server, tmp_path):
    with running_owt(
        "--cache-url", redis_server.url, "--cache-ttl", "1", log_dir=tmp_path
    ) as front:
        assert cached(front, STAMP, {"x": 5}).headers["X-Owt-Cache"] == "miss"
        client = redis_server.client()
        (name,) = client.keys("owt:e:*")
        assert 0 < client.pttl(name) <= 1000
        time.sleep(1.2)
        assert cached(front, STAMP, {"x": 5}).headers["X-Owt-Cache"] == "miss"


def test_a_front_end_that_died_mid_miss_blocks_the_key_only_until_its_lock_expires(
    redis_server, tmp_path
):
    # A lock as a front end leaves it when it dies while running the call:
    # nobody renews it, so it expires and the next request runs the call.
    code = "def run():\n    return 'ran'\n"
    call = Call(code, {}, use_cache=True, path="/x", digest=code_digest(code))
    key = plan_for(call).key
    redis_server.client().set(f"owt:f:{key}", "dead-front-end", px=1500)
    with running_owt("--cache-url", redis_server.url, log_dir=tmp_path) as front:
        started = time.monotonic()
        answer = cached(front, code)
        waited = time.monotonic() - started
    assert answer.text == "ran"
    assert 0.5 < waited < 5


def test_requests_run_uncached_while_redis_is_down_and_caching_resumes(
    redis_server: RedisProcess, tmp_path: Path
):
    with running_owt("--cache-url", redis_server.url, log_dir=tmp_path) as front:
        assert cached(front, STAMP, {"x": 6}).headers["X-Owt-Cache"] == "miss"
        redis_server.stop()
        down = cached(front, STAMP, {"x": 6})
        assert down.status_code == 200 and down.text.startswith("6 ")
        assert down.headers["X-Owt-Cache"] == "bypass"
        stats = requests.get(front.url + "/_owt/cache", timeout=10)
        assert stats.status_code == 503
        assert stats.json()["error"] == "cache_unavailable"
        assert "Redis at redis://127.0.0.1:" in stats.json()["message"]
        assert "response cache unavailable" in front.output()
        redis_server.start()
        deadline = time.monotonic() + 10
        states = []
        while time.monotonic() < deadline and "hit" not in states:
            states.append(cached(front, STAMP, {"x": 6}).headers["X-Owt-Cache"])
            time.sleep(0.2)
        assert states[-2:] == ["miss", "hit"]
        assert "response cache available again" in front.output()


def test_the_password_may_come_from_the_environment(tmp_path):
    with running_redis(tmp_path, password="s3cret-pw") as server:
        with running_owt(
            "--cache-url",
            server.url,
            env={"OWT_CACHE_PASSWORD": "s3cret-pw"},
            log_dir=tmp_path / "good",
        ) as front:
            cached(front, STAMP, {"x": 7})
            assert cached(front, STAMP, {"x": 7}).headers["X-Owt-Cache"] == "hit"
        with running_owt("--cache-url", server.url, log_dir=tmp_path / "bad") as front:
            refused = cached(front, STAMP, {"x": 7})
            assert refused.status_code == 200
            assert refused.headers["X-Owt-Cache"] == "bypass"
            assert "response cache unavailable" in front.output()
