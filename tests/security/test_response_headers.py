"""Headers an adaptor returns can't break the HTTP response (issue 7)."""

from __future__ import annotations

import socket
import urllib.parse

import pytest
import requests

from tests.owtserver import b64
from tests.security.conftest import assert_error_shape
from tests.security.conftest import still_serves


def raw_get(port: int, code: str) -> bytes:
    """The response exactly as it came off the wire."""
    query = "code_b64=" + urllib.parse.quote(b64(code), safe="")
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(
            f"GET /?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


INJECTIONS = {
    "CRLF in value": "{'X-Note': 'a\\r\\nSet-Cookie: stolen=1'}",
    "LF in value": "{'X-Note': 'a\\nSet-Cookie: stolen=1'}",
    "CR in value": "{'X-Note': 'a\\rSet-Cookie: stolen=1'}",
    "CRLF in name": "{'X-Note\\r\\nSet-Cookie': 'stolen=1'}",
    "NUL in value": "{'X-Note': 'a\\x00b'}",
    "body splitting": "{'X-Note': 'a\\r\\n\\r\\n<script>alert(1)</script>'}",
    "as a list of pairs": "[('X-Note', 'a\\r\\nSet-Cookie: stolen=1')]",
    "with a status": "201, {'X-Note': 'a\\r\\nSet-Cookie: stolen=1'}",
}


@pytest.mark.parametrize("headers", INJECTIONS.values(), ids=INJECTIONS)
@pytest.mark.parametrize("body", ["'text'", "iter(['a', 'b'])"], ids=["text", "stream"])
def test_line_breaks_in_adaptor_headers_are_a_structured_500(owt, headers, body):
    code = f"def run():\n    return {body}, {headers}\n"
    wire = raw_get(owt.port, code)
    head = wire.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 500"), wire[:300]
    assert (
        b"stolen" not in head and b"<script>" not in wire.split(b"\r\n\r\n", 1)[1][:10]
    )
    assert b"\r\nSet-Cookie" not in head
    response = owt.get(code)
    body_json = assert_error_shape(response, 500, "bad_adaptor_result")
    assert "header" in body_json["message"]
    still_serves(owt)


def test_flask_response_with_a_line_break_is_refused_too(owt):
    code = (
        "from flask import Response\n"
        "def run():\n"
        "    r = Response('x')\n"
        "    r.headers['X-Ok'] = 'fine'\n"
        "    return r\n"
    )
    assert owt.get(code).headers["X-Ok"] == "fine"
    bad = (
        "from flask import Response\n"
        "def run():\n"
        "    return Response('x', headers={'X-Note': 'a\\nSet-Cookie: s=1'})\n"
    )
    response = owt.get(bad)
    assert_error_shape(response, 500)
    assert "Set-Cookie" not in response.headers
    still_serves(owt)


@pytest.mark.parametrize(
    "headers",
    [
        "{'X-Name': '日本'}",
        "{'Transfer-Encoding': 'chunked'}",
        "{'Connection': 'keep-alive'}",
        "{'Upgrade': 'websocket'}",
        "{'': 'empty name'}",
        "{'Bad Name': 'x'}",
        "{'X-Bad:Name': 'x'}",
    ],
)
def test_headers_http_cannot_carry_are_a_structured_500(owt, headers):
    code = f"def run():\n    return 'text', {headers}\n"
    wire = raw_get(owt.port, code)
    assert wire.startswith(b"HTTP/1.1 500"), wire[:300]
    assert_error_shape(owt.get(code), 500, "bad_adaptor_result")
    still_serves(owt)


def test_ordinary_adaptor_headers_pass(owt):
    code = (
        "def run():\n"
        "    return 'hi', {'X-Custom': 'caf\\u00e9 ok', 'Cache-Control': 'no-store'}\n"
    )
    response = owt.get(code)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # The front sends a header value's text as UTF-8 (requests reads the
    # bytes back as latin-1).
    assert response.headers["X-Custom"].encode("latin-1") == "café ok".encode()


@pytest.mark.parametrize(
    "returned",
    [
        "Response('hi', headers={'Transfer-Encoding': 'chunked'})",
        "(Response('hi', headers={'Upgrade': 'h2c'}), 200)",
        "(Response('hi'), 201, {'Connection': 'close'})",
        "Response('hi', headers={'X-Evil': 'a\\x00b'})",
    ],
    ids=["transfer-encoding", "upgrade-in-tuple", "connection-added", "nul"],
)
def test_an_adaptors_own_response_gets_the_same_header_checks(owt, returned):
    code = f"from flask import Response\ndef run():\n    return {returned}\n"
    response = owt.post(code)
    assert response.status_code == 500
    assert response.json()["error"] == "bad_adaptor_result"
    still_serves(owt)


def test_a_wrong_content_length_cannot_smuggle_a_second_response(owt):
    # The body says more than its Content-Length; on a kept-alive connection
    # the rest would read as a second response if it went out as claimed.
    code = (
        "from flask import Response\n"
        "def run():\n"
        "    smuggled = 'HTTP/1.1 200 OK\\r\\nContent-Length: 6\\r\\n\\r\\nforged'\n"
        "    return Response('ok' + smuggled, headers={'Content-Length': '2'})\n"
    )
    with requests.Session() as session:
        first = session.post(owt.url, json={"code": code}, timeout=30)
        second = session.get(owt.url + "/_owt/health", timeout=30)
    assert first.status_code == 200
    assert first.text.startswith("ok") and len(first.content) == int(
        first.headers["Content-Length"]
    )
    assert second.status_code == 200 and second.json()["status"] == "ok"
