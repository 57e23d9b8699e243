"""owt.client: request building, SSE parsing, and calls against a live server."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import time
import urllib.parse

import pytest
import requests

from owt.client import AssignmentError
from owt.client import CallOptions
from owt.client import Client
from owt.client import CodeSourceError
from owt.client import Event
from owt.client import OwtClientError
from owt.client import SSEParser
from owt.client import build_fields
from owt.client import build_url
from owt.client import error_from_event
from owt.client import kwargs_text
from owt.client import load_source
from owt.client import parse_assignment
from owt.client import parse_assignments
from owt.client import parse_value
from owt.codec import MAX_REQUEST_TARGET
from owt.codec import check_url_length
from owt.codec import decode_code
from owt.codec import decode_kwargs
from owt.codec import parse_kwargs_text
from owt.errors import UrlTooLong
from tests.owtserver import running_owt

UNICODE = "こんにちは 🌍"

HELLO = "def run(name):\n    return f'Hello, {name}!'\n"

TICKS = """
import time

def run(n, pause=0.0, fail=False):
    def events():
        for i in range(n):
            yield f"data: {i}\\n\\n"
            time.sleep(pause)
        if fail:
            raise RuntimeError("boom after " + str(n))
        yield "data: [DONE]\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""


# --- arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-2.5", -2.5),
        ("true", True),
        ("null", None),
        ("[1,2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ('"3"', "3"),
        ("owt", "owt"),
        ("", ""),
        ("hello world", "hello world"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        (UNICODE, UNICODE),
    ],
)
def test_values_are_json_literals_when_they_parse_else_strings(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_assignment_splits_at_the_first_equals_sign():
    assert parse_assignment("query=a=b") == ("query", "a=b")
    assert parse_assignments(["n=1", "flag=false", "n=2"]) == {"n": 2, "flag": False}


@pytest.mark.parametrize("item", ["novalue", "=3", " =x"])
def test_malformed_assignments_say_what_is_expected(item):
    with pytest.raises(AssignmentError, match="NAME=VALUE"):
        parse_assignment(item)


def test_kwargs_text_is_json_for_plain_assignments():
    assert json.loads(kwargs_text(None, {"name": UNICODE, "n": 3})) == {
        "name": UNICODE,
        "n": 3,
    }
    assert kwargs_text(None, {}) is None
    assert kwargs_text("  ", {}) is None


def test_kwargs_text_merges_assignments_into_a_json_object():
    assert json.loads(kwargs_text('{"a": 1, "n": 0}', {"n": 3})) == {"a": 1, "n": 3}


def test_kwargs_text_keeps_a_python_expression_for_the_server_to_evaluate():
    assert kwargs_text("{'n': 2 ** 10}", {}) == "{'n': 2 ** 10}"
    merged = kwargs_text("{'n': 2 ** 10, 'm': 1}", {"m": None, "xs": [True, "é"]})
    assert "2 ** 10" in merged  # not evaluated on the client
    assert parse_kwargs_text(merged) == {"n": 1024, "m": None, "xs": [True, "é"]}


# --- code -----------------------------------------------------------------


def greet(name):
    return f"Hi {name}"


def test_load_source_reads_text_paths_and_functions(tmp_path):
    path = tmp_path / "adaptor.py"
    path.write_text(HELLO, encoding="utf-8")
    assert load_source(HELLO).text == HELLO
    assert load_source(str(path)).text == HELLO
    assert load_source(path).text == HELLO
    source = load_source(greet)
    assert source.text.startswith("def greet(name):")
    assert source.fn_name == "greet"


def test_a_one_line_string_that_is_no_file_is_source():
    assert load_source("run = lambda: 1").text == "run = lambda: 1"


def test_a_missing_py_file_is_an_error_not_source(tmp_path):
    with pytest.raises(CodeSourceError, match="no such file"):
        load_source(str(tmp_path / "missing.py"))
    with pytest.raises(CodeSourceError, match="no such file"):
        load_source("hello.py")


def test_lambdas_cannot_be_sent():
    with pytest.raises(CodeSourceError, match="lambda"):
        load_source(lambda: 1)


# --- fields and URLs ------------------------------------------------------


def test_build_fields_leaves_server_defaults_out():
    assert set(build_fields("x")) == {"code_b64"}
    fields = build_fields(
        "x",
        "{}",
        CallOptions(
            fn_name="main",
            use_cache=True,
            cache_kwargs=True,
            cache_key_override="k",
            pin=True,
            timeout=2.5,
        ),
    )
    assert {k: v for k, v in fields.items() if k != "code_b64"} == {
        "kwargs_b64": "e30=",
        "fn_name": "main",
        "use_cache": True,
        "cache_kwargs": True,
        "cache_key_override": "k",
        "pin": True,
        "timeout": 2.5,
    }


def test_build_url_round_trips_through_the_codec():
    fields = build_fields(HELLO, json.dumps({"name": UNICODE}), CallOptions(pin=True))
    url = build_url("http://127.0.0.1:9876/api?x=1#frag", fields)
    parts = urllib.parse.urlsplit(url)
    assert parts.path == "/api"
    assert parts.fragment == "frag"
    query = urllib.parse.parse_qs(parts.query)
    assert query["x"] == ["1"]
    assert query["pin"] == ["true"]
    assert decode_code(query["code_b64"][0]) == HELLO
    assert decode_kwargs(query["kwargs_b64"][0]) == {"name": UNICODE}


# --- SSE parsing ------------------------------------------------------------


def test_sse_parser_handles_line_endings_split_across_chunks():
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    events = parser.feed(b"\n\r\ndata: b\rdata:c\r\r") + parser.feed(b"data: d\n\n")
    assert [e.data for e in events] == ["a", "b\nc", "d"]


def test_sse_parser_joins_utf8_split_inside_a_character():
    raw = f"data: {UNICODE}\n\n".encode()
    parser = SSEParser()
    events = [e for i in range(len(raw)) for e in parser.feed(raw[i : i + 1])]
    assert events == [Event(UNICODE)]


def test_sse_parser_reads_fields_and_skips_comments_and_empty_events():
    parser = SSEParser()
    events = parser.feed(
        b'\xef\xbb\xbf: hello\n\nevent: tick\nid: 7\nretry: 10\ndata: {"n": 1}\n\n'
        b"event: lonely\n\ndata: unfinished"
    )
    assert events == [Event('{"n": 1}', "tick", "7", 10)]
    assert events[0].json() == {"n": 1}


def test_error_event_becomes_an_exception():
    error = error_from_event(
        Event('{"error": "adaptor_error", "message": "boom"}', "error")
    )
    assert isinstance(error, OwtClientError)
    assert (error.kind, error.message, error.status) == ("adaptor_error", "boom", 200)
    assert "in the stream" in str(error)
    assert error_from_event(Event("x")) is None


# --- against a live server --------------------------------------------------


@pytest.fixture
def client(owt_server):
    return Client(owt_server.url)


def test_call_returns_text_json_and_bytes_by_content_type(client):
    assert client.call(HELLO, name="owt") == "Hello, owt!"
    assert client.call("def run(**kw):\n    return kw\n", n=3, xs=[1, 2]) == {
        "n": 3,
        "xs": [1, 2],
    }
    data = client.call("def run():\n    return bytes(range(256))\n")
    assert data == bytes(range(256))


def test_call_round_trips_unicode(client):
    assert client.call(HELLO, name=UNICODE) == f"Hello, {UNICODE}!"


def test_call_sends_a_function_and_calls_it_by_name(client):
    assert client.call(greet, name="owt") == "Hi owt"


def test_call_sends_a_file(client, tmp_path):
    path = tmp_path / "echo.py"
    path.write_text(HELLO, encoding="utf-8")
    assert client.call(path, name="file") == "Hello, file!"
    assert client.call(str(path), name="file") == "Hello, file!"


def test_the_url_path_reaches_the_adaptor(owt_server):
    code = "from flask import request\n\ndef run():\n    return request.path\n"
    assert Client(owt_server.url + "/some/path").call(code) == "/some/path"


def test_using_sets_protocol_options(client):
    code = "def run():\n    return 'run'\n\ndef other(x):\n    return f'other {x}'\n"
    assert client.using(fn_name="other").call(code, x=1) == "other 1"
    assert client.call(code) == "run"


def test_url_builds_a_get_url_any_http_client_can_open(client):
    import requests

    url = client.url(HELLO, name=UNICODE)
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.text == f"Hello, {UNICODE}!"


def test_send_by_get_works_too(client):
    response = client.send(HELLO, json.dumps({"name": "get"}), method="GET")
    assert response.text == "Hello, get!"


def test_stream_yields_events_as_they_are_produced(client):
    started = time.monotonic()
    seen = []
    with client.stream(TICKS, n=3, pause=0.4) as events:
        for event in events:
            seen.append((event.data, time.monotonic() - started))
    assert [data for data, _ in seen] == ["0", "1", "2", "[DONE]"]
    # The first event arrived long before the generator finished (3 x 0.4 s).
    assert seen[0][1] < seen[-1][1] - 0.7, seen


def test_stream_yields_byte_chunks_for_other_streams(client):
    code = (
        "import time\n\ndef run():\n    def parts():\n"
        "        for w in 'abc':\n            yield w.encode() * 3\n"
        "            time.sleep(0.05)\n    return parts()\n"
    )
    chunks = list(client.stream(code))
    assert all(isinstance(c, bytes) for c in chunks)
    assert b"".join(chunks) == b"aaabbbccc"


def test_an_error_event_mid_stream_raises_after_the_earlier_events(client):
    seen = []
    with pytest.raises(OwtClientError) as info:
        for event in client.stream(TICKS, n=2, fail=True):
            seen.append(event.data)
    assert seen == ["0", "1"]
    assert info.value.kind == "adaptor_error"
    assert "boom after 2" in info.value.message


def test_adaptor_errors_raise_with_the_servers_message_and_traceback(client):
    with pytest.raises(OwtClientError) as info:
        client.call("def run():\n    return 1 / 0\n")
    error = info.value
    assert error.status == 500
    assert error.kind == "adaptor_error"
    assert "division by zero" in error.message
    assert "ZeroDivisionError" in (error.traceback or "")
    assert error.error_type == "ZeroDivisionError"
    assert error.request_id
    assert "ZeroDivisionError" in str(error)  # seen when nobody catches it
    assert f"request id: {error.request_id}" in error.describe()


def test_a_syntax_error_is_a_400(client):
    with pytest.raises(OwtClientError) as info:
        client.call("def run(:\n")
    assert (info.value.status, info.value.kind) == (400, "syntax_error")


def test_the_server_keeps_serving_after_an_error(client):
    with pytest.raises(OwtClientError):
        client.call("raise SystemExit(3)\n")
    assert client.call(HELLO, name="again") == "Hello, again!"


@pytest.fixture(scope="module")
def auth_server():
    password = "pässwörd 🔑"
    digest = hashlib.sha256(password.encode()).hexdigest()
    with running_owt("--auth", f"me:{digest}") as server:
        yield server, password


def test_auth_is_sent_as_a_string_or_a_tuple(auth_server):
    server, password = auth_server
    assert Client(server.url, f"me:{password}").call(HELLO, name="a") == "Hello, a!"
    assert Client(server.url, ("me", password)).call(HELLO, name="b") == "Hello, b!"
    events = list(Client(server.url, ("me", password)).stream(TICKS, n=1))
    assert [e.data for e in events] == ["0", "[DONE]"]


@pytest.mark.parametrize("auth", [None, "me:wrong", "you:pässwörd 🔑"])
def test_missing_or_wrong_credentials_raise_unauthorized(auth_server, auth):
    server, _ = auth_server
    with pytest.raises(OwtClientError) as info:
        Client(server.url, auth).call(HELLO, name="x")
    assert (info.value.status, info.value.kind) == (401, "unauthorized")


# --- the longest URL the server accepts ---------------------------------------

#: Hello, padded to about 48 KB: near the most source a GET URL can carry.
BIG_HELLO = HELLO + ("# " + "x" * 78 + "\n") * 590


def too_long(size: int) -> str:
    """The message for a request target of ``size`` bytes, as a regex."""
    return re.escape(
        f"This URL's path and query string are {size:,} bytes, over the 65,534 "
        "bytes owt's HTTP front accepts on a request line; send the call by "
        "POST (JSON body) instead."
    )


def target_size(url: str) -> int:
    """Bytes of path, '?' and query: all ASCII in a URL owt's clients build."""
    parts = urllib.parse.urlsplit(url)
    return len(parts.path) + 1 + len(parts.query)


def client_at(server_url: str, size: int, **kwargs: object) -> Client:
    """A client whose URL for BIG_HELLO and ``kwargs`` has a target of ``size`` bytes."""
    short = target_size(Client(server_url + "/p").url(BIG_HELLO, **kwargs))
    return Client(server_url + "/p" + "a" * (size - short))


def test_check_url_length_measures_the_target_as_sent():
    assert MAX_REQUEST_TARGET == 65_534
    path = "/" + "a" * (MAX_REQUEST_TARGET - 1)
    for url in (path, "http://h:1" + path, "https://h" + path + "#" + "f" * 100):
        assert check_url_length(url) == url
    with pytest.raises(UrlTooLong, match=too_long(65_535)) as info:
        check_url_length("http://h:1" + path + "b")
    assert (info.value.status, info.value.kind) == (414, "url_too_long")
    # Non-ASCII goes out percent-encoded: "é" is six bytes on the wire.
    with pytest.raises(UrlTooLong, match=too_long(65_539)):
        check_url_length(path[:-1] + "é")
    assert check_url_length("http://h/?q=" + "%41" * 21_000)  # already encoded


def test_a_url_just_under_the_cap_is_answered_by_get(owt_server):
    client = client_at(owt_server.url, MAX_REQUEST_TARGET, name="get")
    url = client.url(BIG_HELLO, name="get")
    assert target_size(url) == MAX_REQUEST_TARGET
    response = requests.get(url, timeout=30)
    assert (response.status_code, response.text) == (200, "Hello, get!")
    sent = client.send(BIG_HELLO, json.dumps({"name": "GET"}), method="GET")
    assert sent.text == "Hello, GET!"


def test_one_byte_over_the_cap_get_is_refused_and_post_works(owt_server):
    client = client_at(owt_server.url, MAX_REQUEST_TARGET + 1, name="get")
    with pytest.raises(UrlTooLong, match=too_long(MAX_REQUEST_TARGET + 1)):
        client.url(BIG_HELLO, name="get")
    with pytest.raises(UrlTooLong, match=too_long(MAX_REQUEST_TARGET + 1)):
        client.send(BIG_HELLO, json.dumps({"name": "get"}), method="GET")
    # call and stream send a POST: the same code and path are fine.
    assert client.call(BIG_HELLO, name="post") == "Hello, post!"
    assert b"".join(client.stream(BIG_HELLO, name="stream")) == b"Hello, stream!"


@pytest.mark.parametrize("size", [MAX_REQUEST_TARGET, MAX_REQUEST_TARGET + 1])
def test_the_cap_is_the_servers(owt_server, size):
    connection = http.client.HTTPConnection(
        owt_server.host, owt_server.port, timeout=30
    )
    try:
        connection.request("GET", "/" + "a" * (size - 1))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if size <= MAX_REQUEST_TARGET:
        assert response.status == 400  # owt read it: no code was sent
        assert json.loads(body)["error"] == "missing_code"
    else:
        # The HTTP front refused it: a bare 414 that owt never saw.
        assert (response.status, body) == (414, b"")
        assert response.getheader("X-Request-Id") is None
