"""The owt app in process: requests through Flask's test client, no server."""

from __future__ import annotations

import base64
import hashlib

import pytest

import owt
from owt import codec
from owt.options import ServeOptions
from owt.server import create_app
from tests.conftest import owt_body

HELLO = "def run(name):\n    return f'Hello, {name}!'\n"
COUNTER = (
    "import itertools\n"
    "count = itertools.count(1)\n"
    "def run():\n"
    "    return f'call {next(count)}'\n"
)


def marker_code(path) -> str:
    """An adaptor that leaves a file at ``path`` if it ever runs."""
    return f"def run():\n    open({str(path)!r}, 'w').write('ran')\n    return 'ran'\n"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_error(response, status: int, kind: str) -> dict:
    """The JSON error body of ``response``, checked to be owt's one shape."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == kind
    assert isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


# --- calling an adaptor -------------------------------------------------------------


def test_echo_by_post_json(client):
    r = client.post("/hello", json=owt_body(HELLO, {"name": "owt"}))
    assert r.status_code == 200
    assert r.text == "Hello, owt!"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_echo_by_get_query(client):
    r = client.get(
        "/hello",
        query_string={
            "code_b64": codec.encode_code(HELLO),
            "kwargs_b64": codec.encode_kwargs({"name": "owt ✓"}),
        },
    )
    assert r.status_code == 200
    assert r.text == "Hello, owt ✓!"


def test_data_is_answered_as_json(client):
    r = client.post(
        "/data",
        json=owt_body("def run(n):\n    return {'n': n, 'sq': n * n}", {"n": 3}),
    )
    assert r.status_code == 200
    assert r.get_json() == {"n": 3, "sq": 9}


def test_every_response_has_its_own_request_id(client):
    responses = [
        client.post("/hello", json=owt_body(HELLO, {"name": "a"})),
        client.get("/x"),  # 400
        client.get("/_owt/health"),
        client.get("/_owt/nope"),  # 404
        client.put("/x"),  # 405
        client.options("/x"),
        client.get("/x", headers={"Origin": "http://evil.example"}),  # 403
    ]
    ids = [r.headers.get("X-Request-Id", "") for r in responses]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_x_owt_cache_says_bypass_miss_then_hit(client):
    assert client.post("/c", json=owt_body(COUNTER)).headers["X-Owt-Cache"] == "bypass"
    cached = owt_body(COUNTER, use_cache=True)
    miss = client.post("/c", json=cached)
    hit = client.post("/c", json=cached)
    assert (miss.headers["X-Owt-Cache"], hit.headers["X-Owt-Cache"]) == ("miss", "hit")
    assert miss.text == hit.text == "call 2"  # the hit did not run the adaptor
    assert miss.headers["X-Request-Id"] != hit.headers["X-Request-Id"]
    assert client.post("/c", json=owt_body(COUNTER)).text == "call 3"


def test_cache_kwargs_keys_on_the_arguments(client):
    def greet(name):
        return client.post(
            "/hello",
            json=owt_body(HELLO, {"name": name}, use_cache=True, cache_kwargs=True),
        )

    assert (greet("a").text, greet("b").text) == ("Hello, a!", "Hello, b!")
    assert greet("a").headers["X-Owt-Cache"] == "hit"


def test_a_generator_is_streamed_chunk_by_chunk(client):
    code = "def run():\n    yield 'one '\n    yield 'two'\n"
    r = client.post("/s", json=owt_body(code), buffered=False)
    try:
        assert r.status_code == 200
        assert r.is_streamed
        assert "Content-Length" not in r.headers
        assert [chunk for chunk in r.response if chunk] == [b"one ", b"two"]
    finally:
        r.close()


def test_a_cached_stream_is_replayed(client):
    code = (
        "import time\ndef run():\n    yield str(time.monotonic_ns())\n    yield '.'\n"
    )
    first = client.post("/s", json=owt_body(code, use_cache=True))
    sent = first.data  # read to the end: only then is the stream stored
    second = client.post("/s", json=owt_body(code, use_cache=True))
    assert (first.headers["X-Owt-Cache"], second.headers["X-Owt-Cache"]) == (
        "miss",
        "hit",
    )
    assert second.data == sent


# --- errors ---------------------------------------------------------------------------


def test_missing_code_is_a_400(client):
    assert_error(client.get("/x"), 400, "missing_code")
    assert_error(client.post("/x", json={"kwargs": {}}), 400, "missing_code")


def test_an_adaptor_exception_is_a_500_with_its_traceback(client):
    code = "def run():\n    raise ValueError('boom')\n"
    r = client.post("/boom", json=owt_body(code))
    body = assert_error(r, 500, "adaptor_error")
    assert body["type"] == "ValueError"
    assert "boom" in body["message"]
    assert "ValueError: boom" in body["traceback"]
    assert r.headers["X-Owt-Cache"] == "bypass"
    # and owt goes on serving
    assert (
        client.post("/hello", json=owt_body(HELLO, {"name": "x"})).text == "Hello, x!"
    )


def test_an_adaptor_exception_with_use_cache_is_a_miss_and_not_stored(client):
    code = "def run():\n    raise ValueError('boom')\n"
    for _ in range(2):
        r = client.post("/boom", json=owt_body(code, use_cache=True))
        assert_error(r, 500, "adaptor_error")
        assert r.headers["X-Owt-Cache"] == "miss"


def test_an_unsupported_method_is_a_405_in_the_json_shape(client):
    r = client.put("/x", json=owt_body(HELLO, {"name": "x"}))
    body = assert_error(r, 405, "method_not_allowed")
    assert set(body) == {"error", "message", "request_id"}


def test_a_405_names_the_allowed_methods(client):
    r = client.put("/x")
    assert r.status_code == 405
    assert "GET" in r.headers.get("Allow", "")


# --- pins, HEAD and OPTIONS -----------------------------------------------------------


def test_a_pinned_response_answers_later_requests_without_code(client):
    icon = "def run():\n    return b'ICON', {'Content-Type': 'image/x-icon'}\n"
    pinned = client.post("/favicon.ico", json=owt_body(icon, pin=True))
    assert pinned.data == b"ICON"
    r = client.get("/favicon.ico")
    assert (r.status_code, r.data) == (200, b"ICON")
    assert r.headers["Content-Type"] == "image/x-icon"
    assert r.headers["X-Owt-Cache"] == "hit"
    # Another path has no pin.
    assert_error(client.get("/other.ico"), 400, "missing_code")


def test_head_of_a_pinned_path_describes_it_without_a_body(client):
    icon = "def run():\n    return b'ICON', {'Content-Type': 'image/x-icon'}\n"
    client.post("/favicon.ico", json=owt_body(icon, pin=True))
    r = client.head("/favicon.ico")
    assert r.status_code == 200
    assert r.data == b""
    assert r.headers["Content-Type"] == "image/x-icon"
    assert r.headers["Content-Length"] == "4"
    assert r.headers["X-Owt-Cache"] == "hit"


def test_head_and_options_never_run_code(client, tmp_path):
    marker = tmp_path / "ran"
    fields = {"code_b64": codec.encode_code(marker_code(marker))}
    head = client.head("/x", query_string=fields)
    options = client.options("/x", query_string=fields)
    for r in (head, options):
        assert r.status_code == 204
        assert r.headers["Allow"] == "GET, POST, HEAD, OPTIONS"
        assert r.data == b""
    assert not marker.exists()


# --- /_owt/ ---------------------------------------------------------------------------


def test_health(client):
    before = client.get("/_owt/health")
    assert before.status_code == 200
    body = before.get_json()
    assert set(body) == {"status", "version", "uptime_s", "warm_adaptors"}
    assert (body["status"], body["version"]) == ("ok", owt.__version__)
    assert isinstance(body["uptime_s"], int | float) and body["uptime_s"] >= 0
    assert body["warm_adaptors"] == 0
    client.post("/hello", json=owt_body(HELLO, {"name": "x"}))
    assert client.get("/_owt/health").get_json()["warm_adaptors"] == 1


def test_each_app_has_its_own_state(app, client):
    client.post("/c", json=owt_body(COUNTER, use_cache=True))
    other = create_app(ServeOptions()).test_client()
    assert other.get("/_owt/cache").get_json()["entries"] == 0
    assert other.get("/_owt/health").get_json()["warm_adaptors"] == 0
    assert client.get("/_owt/cache").get_json()["entries"] == 1


def test_cache_figures_and_clearing(client):
    stats = client.get("/_owt/cache").get_json()
    assert (stats["entries"], stats["hits"], stats["misses"], stats["pins"]) == (
        0,
        0,
        0,
        {},
    )
    assert stats["max_bytes"] == 512 * 1024 * 1024
    client.post("/c", json=owt_body(COUNTER, use_cache=True))
    client.post("/c", json=owt_body(COUNTER, use_cache=True))
    client.post("/p", json=owt_body(HELLO, {"name": "p"}, pin=True))
    stats = client.get("/_owt/cache").get_json()
    assert (stats["entries"], stats["hits"], stats["misses"]) == (1, 1, 1)
    assert list(stats["pins"]) == ["/p"]
    cleared = client.delete("/_owt/cache")
    assert cleared.get_json() == {"cleared": {"entries": 1, "pins": 1}}
    assert client.get("/_owt/cache").get_json()["entries"] == 0
    assert (
        client.post("/c", json=owt_body(COUNTER, use_cache=True)).headers["X-Owt-Cache"]
        == "miss"
    )


def test_removing_one_pin(client):
    client.post("/p", json=owt_body(HELLO, {"name": "p"}, pin=True))
    r = client.delete("/_owt/cache", query_string={"path": "/p"})
    assert r.get_json() == {"unpinned": "/p"}
    assert_error(client.get("/p"), 400, "missing_code")


def test_removing_a_pin_that_does_not_exist_is_a_404(client):
    assert_error(client.delete("/_owt/cache?path=/nope"), 404, "not_found")


def test_workers_names_the_inline_executor(client):
    r = client.get("/_owt/workers")
    assert (r.status_code, r.get_json()) == (200, {"executor": "inline"})


def test_cancelling_is_refused_by_the_inline_executor(client):
    assert_error(client.delete("/_owt/requests/x"), 409, "cancel_unsupported")


def test_other_owt_paths_are_404_and_never_run_code(client, tmp_path):
    marker = tmp_path / "ran"
    assert_error(client.get("/_owt/x"), 404, "not_found")
    r = client.post("/_owt/x", json=owt_body(marker_code(marker)))
    assert_error(r, 404, "not_found")
    assert not marker.exists()


# --- who may call ---------------------------------------------------------------------


def test_a_page_of_another_origin_is_refused_and_runs_nothing(client, tmp_path):
    marker = tmp_path / "ran"
    r = client.post(
        "/x",
        json=owt_body(marker_code(marker)),
        headers={"Origin": "http://evil.example"},
    )
    assert_error(r, 403, "forbidden")
    assert "Access-Control-Allow-Origin" not in r.headers
    assert not marker.exists()


def test_a_foreign_host_header_is_refused(client, tmp_path):
    marker = tmp_path / "ran"
    r = client.post(
        "/x", json=owt_body(marker_code(marker)), headers={"Host": "evil.example"}
    )
    assert_error(r, 403, "forbidden")
    assert not marker.exists()
    assert (
        client.get("/_owt/health", headers={"Host": "evil.example"}).status_code == 403
    )
    assert (
        client.get("/_owt/health", headers={"Host": "127.0.0.1:9876"}).status_code
        == 200
    )


@pytest.fixture
def auth_client():
    digest = hashlib.sha256(b"pw").hexdigest()
    return create_app(ServeOptions(auth="user:" + digest)).test_client()


def test_with_auth_a_request_without_credentials_is_a_401(auth_client, tmp_path):
    marker = tmp_path / "ran"
    r = auth_client.post("/x", json=owt_body(marker_code(marker)))
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert not marker.exists()
    assert_error(auth_client.get("/_owt/health"), 401, "unauthorized")


def test_with_auth_wrong_credentials_are_a_401(auth_client):
    r = auth_client.get("/_owt/health", headers=basic("user", "wrong"))
    assert_error(r, 401, "unauthorized")
    r = auth_client.get("/_owt/health", headers=basic("other", "pw"))
    assert_error(r, 401, "unauthorized")


def test_with_auth_basic_credentials_are_let_in(auth_client):
    r = auth_client.post(
        "/hello", json=owt_body(HELLO, {"name": "me"}), headers=basic("user", "pw")
    )
    assert (r.status_code, r.text) == (200, "Hello, me!")
    assert (
        auth_client.get("/_owt/health", headers=basic("user", "pw")).status_code == 200
    )
