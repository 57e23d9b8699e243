"""owt/cachefront.py: GET cache hits and pins answered before Flask, after
the same access checks, with the same headers as the app's answers."""

from __future__ import annotations

import base64
import json
import typing as t

import pytest
from flask import Flask

from owt.cachefront import CacheFront
from owt.options import ServeOptions
from owt.security import hash_password
from owt.server import create_app

CODE = "import time\ndef run(name='x'):\n    return f'{name} {time.time_ns()}'\n"
STREAM = (
    "def run():\n"
    "    def events():\n"
    "        yield 'data: one\\n\\n'\n"
    "        yield 'data: two\\n\\n'\n"
    "    return events(), {'Content-Type': 'text/event-stream'}\n"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def query(code: str = CODE, **fields: t.Any) -> dict[str, str]:
    out = {"code_b64": b64(code), "use_cache": "true"}
    out.update({k: str(v) for k, v in fields.items()})
    return out


class FlaskRequests:
    """Counts the requests that get past the cache front, on to the app."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        front = app.wsgi_app.app  # AccessLog(CacheFront(...))
        assert isinstance(front, CacheFront)
        inner = front.app

        def counting(environ: t.Any, start_response: t.Any) -> t.Any:
            self.count += 1
            return inner(environ, start_response)

        front.app = counting


def test_a_hit_never_reaches_flask_and_says_hit(client, app):
    seen = FlaskRequests(app)
    first = client.get("/x", query_string=query())
    assert first.headers["X-Owt-Cache"] == "miss"
    assert seen.count == 1
    again = client.get("/x", query_string=query())
    assert seen.count == 1  # answered in front of Flask
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["X-Owt-Cache"] == "hit"
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert int(again.headers["Content-Length"]) == len(first.get_data())
    assert len(again.headers["X-Request-Id"]) == 16
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    stats = client.get("/_owt/cache").get_json()
    assert (stats["hits"], stats["misses"]) == (1, 1)


def test_a_pin_is_answered_before_flask(client, app):
    pinned = client.get("/pinned", query_string=query(pin="true"))
    assert pinned.status_code == 200
    seen = FlaskRequests(app)
    bare = client.get("/pinned")
    assert seen.count == 0
    assert bare.get_data() == pinned.get_data()
    assert bare.headers["X-Owt-Cache"] == "hit"
    # Another path has no pin: the app answers (and says code is missing).
    assert client.get("/elsewhere").status_code == 400
    assert seen.count == 1


def test_a_stream_is_replayed_as_a_stream(client, app):
    first = client.get("/s", query_string=query(STREAM))
    seen = FlaskRequests(app)
    again = client.get("/s", query_string=query(STREAM))
    assert seen.count == 0
    assert again.headers["Content-Type"].startswith("text/event-stream")
    assert again.get_data() == first.get_data() == b"data: one\n\ndata: two\n\n"


def test_the_checks_come_first():
    app = create_app(ServeOptions(auth="me:" + hash_password("pw")))
    client = app.test_client()
    auth = {"Authorization": "Basic " + b64("me:pw")}
    assert client.get("/x", query_string=query(), headers=auth).status_code == 200
    assert (
        client.get("/x", query_string=query(), headers=auth).headers["X-Owt-Cache"]
        == "hit"
    )
    refused = client.get("/x", query_string=query())
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "unauthorized"
    foreign = client.get(
        "/x", query_string=query(), headers={**auth, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    wrong_host = client.get(
        "/x", query_string=query(), headers={**auth, "Host": "evil.example"}
    )
    assert wrong_host.status_code == 403


def test_an_allowed_origin_gets_its_cors_headers_on_a_hit():
    app = create_app(ServeOptions(allow_origins=("http://page.example",)))
    client = app.test_client()
    origin = {"Origin": "http://page.example"}
    client.get("/x", query_string=query(), headers=origin)
    hit = client.get("/x", query_string=query(), headers=origin)
    assert hit.headers["X-Owt-Cache"] == "hit"
    assert hit.headers["Access-Control-Allow-Origin"] == "http://page.example"


def test_a_request_the_app_would_refuse_is_still_refused(client):
    client.get("/x", query_string=query())
    broken = query()
    broken["kwargs_b64"] = "%%%"
    refused = client.get("/x", query_string=broken)
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "extra",
    [{"cache_kwargs": "true", "kwargs": json.dumps({"name": "a"})}],
)
def test_keys_are_the_apps_own(client, extra):
    a = client.get("/k", query_string=query(**extra))
    assert a.headers["X-Owt-Cache"] == "miss"
    other = dict(extra, kwargs=json.dumps({"name": "b"}))
    b = client.get("/k", query_string=query(**other))
    assert b.headers["X-Owt-Cache"] == "miss"
    assert client.get("/k", query_string=query(**extra)).get_data() == a.get_data()
    assert client.get("/k", query_string=query(**other)).get_data() == b.get_data()
    assert (
        client.get("/other-path", query_string=query(**extra)).headers["X-Owt-Cache"]
        == "miss"
    )


def test_a_post_is_left_to_the_app(client, app):
    body = {"code": CODE, "use_cache": True}
    client.post("/p", json=body)
    seen = FlaskRequests(app)
    hit = client.post("/p", json=body)
    assert hit.headers["X-Owt-Cache"] == "hit"
    assert seen.count == 1
