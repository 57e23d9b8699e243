"""owt.response: what an adaptor's result becomes on the wire, in process."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from werkzeug.datastructures import Headers

from owt import response
from owt.errors import AdaptorError
from owt.errors import BadAdaptorResult
from owt.errors import BadRequest
from owt.errors import Overloaded
from owt.errors import PayloadTooLarge
from owt.errors import Unauthorized


def refused(function, *args) -> BadAdaptorResult:
    """The error ``function(*args)`` refuses an adaptor's result with."""
    with pytest.raises(BadAdaptorResult) as caught:
        function(*args)
    assert (caught.value.status, caught.value.kind) == (500, "bad_adaptor_result")
    return caught.value


# --- map_body ------------------------------------------------------------------------


def test_text_is_utf8_html():
    body = response.map_body("<b>héllo</b>")
    assert (body.content_type, body.data, body.stream) == (
        "text/html; charset=utf-8",
        "<b>héllo</b>".encode(),
        None,
    )


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\xff",
        bytearray(b"\x00\xff"),
        memoryview(b"\x00\xff"),
        io.BytesIO(b"\x00\xff"),
    ],
)
def test_binary_is_octet_stream(value):
    body = response.map_body(value)
    assert (body.content_type, body.data) == ("application/octet-stream", b"\x00\xff")


@pytest.mark.parametrize(
    ("value", "text"), [(42, b"42"), (2.5, b"2.5"), (True, b"True")]
)
def test_numbers_are_plain_text(value, text):
    body = response.map_body(value)
    assert (body.content_type, body.data) == ("text/plain; charset=utf-8", text)


@pytest.mark.parametrize(
    ("value", "document"),
    [
        ({"name": "owt ✓", "n": [1, None]}, {"name": "owt ✓", "n": [1, None]}),
        ([1, "a"], [1, "a"]),
        ((1, 2), [1, 2]),
        ({3}, [3]),
        ({"raw": b"bytes"}, {"raw": "bytes"}),
    ],
)
def test_data_is_json(value, document):
    body = response.map_body(value)
    assert body.content_type == "application/json"
    assert json.loads(body.data) == document


def test_non_ascii_json_is_sent_as_utf8_not_escaped():
    assert response.map_body({"a": "é"}).data == '{"a": "é"}'.encode()


def test_a_dataclass_is_json():
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    body = response.map_body(Point(1, 2))
    assert (body.content_type, json.loads(body.data)) == (
        "application/json",
        {"x": 1, "y": 2},
    )


def test_an_array_like_value_is_json_through_tolist():
    class Array:
        def tolist(self):
            return [[1, 2], [3, 4]]

    assert json.loads(response.map_body(Array()).data) == [[1, 2], [3, 4]]
    assert json.loads(response.map_body({"m": Array()}).data) == {"m": [[1, 2], [3, 4]]}


def test_none_is_an_empty_body():
    body = response.map_body(None)
    assert (body.content_type, body.data, body.stream) == (None, b"", None)


def test_a_generator_is_streamed_unconsumed():
    produced = []

    def chunks():
        for word in ("a", "b"):
            produced.append(word)
            yield word

    body = response.map_body(chunks())
    assert (body.content_type, body.data) == (None, b"")
    assert produced == []  # nothing runs before the response is sent
    assert list(body.stream) == ["a", "b"]


def test_a_readable_file_is_streamed_and_closed():
    source = io.StringIO("text from a file")
    body = response.map_body(source)
    assert body.content_type == "application/octet-stream"
    assert b"".join(body.stream) == b"text from a file"
    assert source.closed


def test_a_value_owt_cannot_send_is_named():
    error = refused(response.map_body, object())
    assert error.message.startswith(
        "The adaptor returned a object, which owt can't send."
    )


def test_data_that_is_not_json_is_refused_saying_why():
    error = refused(response.map_body, {"when": object()})
    assert error.message == (
        "The adaptor's result is not JSON data: object is not JSON serialisable."
    )


def test_to_json_refuses_a_cycle():
    loop: list = []
    loop.append(loop)
    error = refused(response.to_json, loop)
    assert error.message.startswith("The adaptor's result is not JSON data:")


def test_to_json_bytes():
    assert response.to_json({"a": [1, 2]}) == b'{"a": [1, 2]}'


# --- split_result ---------------------------------------------------------------------


def test_a_plain_result_is_200_without_headers():
    assert response.split_result("hi") == ("hi", 200, [])


def test_body_and_status():
    assert response.split_result(("gone", 410)) == ("gone", 410, [])


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "1"}, [("X-A", "1")], [["X-A", 1]], Headers([("X-A", "1")])],
)
def test_body_and_headers(headers):
    assert response.split_result(("hi", headers)) == ("hi", 200, [("X-A", "1")])


def test_body_status_and_headers():
    result = ({"a": 1}, 201, {"Location": "/a"})
    assert response.split_result(result) == ({"a": 1}, 201, [("Location", "/a")])


@pytest.mark.parametrize("value", [("a", "b"), (1, 2.5), ("a", True), (1, 2, 3, 4)])
def test_other_tuples_are_data(value):
    assert response.split_result(value) == (value, 200, [])


def test_a_list_is_always_data():
    assert response.split_result(["hi", 200]) == (["hi", 200], 200, [])


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        (("x", {"X-A": "1"}, 200), "(str, dict, int)"),
        (("x", 200, 201), "(str, int, int)"),
        (("x", 200, "text"), "(str, int, str)"),
    ],
)
def test_a_bad_three_tuple_says_what_it_should_be(value, shape):
    error = refused(response.split_result, value)
    assert error.message == (
        f"A 3-tuple result must be (body, status, headers); got {shape}."
    )


@pytest.mark.parametrize("status", [99, 600, -1])
def test_a_status_out_of_range_is_refused(status):
    error = refused(response.split_result, ("x", status))
    assert error.message == f"The adaptor returned status {status}; use 100-599."


# --- check_header ---------------------------------------------------------------------


def test_a_good_header_is_returned_as_text():
    assert response.check_header("X-Count", 3) == ("X-Count", "3")
    assert response.check_header("X-Name", "café") == ("X-Name", "café")  # Latin-1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-A", "1\r\nSet-Cookie: a=b"),
        ("X-A", "1\nX-B: 2"),
        ("X-A", "a\0b"),
        ("X-A\r\nX-B", "1"),
    ],
)
def test_a_line_break_or_nul_is_refused(name, value):
    error = refused(response.check_header, name, value)
    assert "containing a line break or NUL" in error.message
    assert repr(name) in error.message


def test_a_header_injection_is_refused_through_split_result():
    refused(response.split_result, ("x", {"X-A": "1\r\nSet-Cookie: session=evil"}))


@pytest.mark.parametrize("name", ["", "X A", "X:A", "X(A)", "X/A"])
def test_a_malformed_header_name_is_refused(name):
    error = refused(response.check_header, name, "1")
    assert error.message == f"The adaptor returned an invalid header name {name!r}."


@pytest.mark.parametrize("name", ["X\x01A", "X\x7fA"])
def test_a_header_name_with_a_control_character_is_refused(name):
    refused(response.check_header, name, "1")


@pytest.mark.parametrize(("name", "value"), [("X-Ñ", "1"), ("X-A", "✓")])
def test_characters_http_cannot_carry_are_refused(name, value):
    error = refused(response.check_header, name, value)
    assert "percent-encode the value" in error.message


@pytest.mark.parametrize(
    "name", ["Connection", "transfer-encoding", "Keep-Alive", "Upgrade", "TE"]
)
def test_hop_by_hop_headers_are_refused(name):
    error = refused(response.check_header, name, "close")
    assert error.message.startswith(
        f"The adaptor returned header {name!r}, which only owt's HTTP server may set"
    )


# --- streams --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "data"),
    [
        (b"\x00raw", b"\x00raw"),
        ("tëxt", "tëxt".encode()),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        ({"a": "é"}, '{"a": "é"}\n'.encode()),
        ([1, 2], b"[1, 2]\n"),
        (7, b"7"),
    ],
)
def test_encode_chunk(chunk, data):
    assert response.encode_chunk(chunk) == data


def test_a_chunk_that_is_not_json_is_refused():
    refused(response.encode_chunk, {"a": object()})


@pytest.mark.parametrize(
    ("first", "content_type"),
    [
        (b"\x89PNG", "application/octet-stream"),
        (bytearray(b"x"), "application/octet-stream"),
        ("text", "text/plain; charset=utf-8"),
        ({"a": 1}, "text/plain; charset=utf-8"),
    ],
)
def test_stream_content_type_follows_the_first_chunk(first, content_type):
    assert response.stream_content_type(first) == content_type


def test_is_event_stream():
    assert response.is_event_stream(Headers({"Content-Type": "text/event-stream"}))
    assert response.is_event_stream(
        Headers({"Content-Type": "text/event-stream; charset=utf-8"})
    )
    assert not response.is_event_stream(Headers({"Content-Type": "text/plain"}))
    assert not response.is_event_stream(Headers())


def test_sse_error_event_is_one_framed_event():
    event = response.sse_error_event("adaptor_error", "line one\nline two: é")
    assert event.endswith(b"\n\n") and event.count(b"\n\n") == 1
    lines = event.decode("utf-8").rstrip("\n").split("\n")
    assert lines[0] == "event: error"
    assert len(lines) == 2 and lines[1].startswith("data: ")
    assert json.loads(lines[1][len("data: ") :]) == {
        "error": "adaptor_error",
        "message": "line one\nline two: é",
    }


# --- error_response ---------------------------------------------------------------------


def test_error_response_has_the_one_json_shape():
    error = BadRequest("fn_name must be a Python identifier.", field="fn_name")
    answer = response.error_response(error, "abc123")
    assert answer.status_code == 400
    assert answer.mimetype == "application/json"
    assert json.loads(answer.get_data()) == {
        "error": "bad_request",
        "message": "fn_name must be a Python identifier.",
        "request_id": "abc123",
        "field": "fn_name",
    }


def test_error_response_without_a_request_id_says_null():
    answer = response.error_response(BadRequest("no"), None)
    assert json.loads(answer.get_data())["request_id"] is None


def adaptor_error() -> AdaptorError:
    return AdaptorError(
        "ValueError while running the adaptor: boom",
        type="ValueError",
        traceback="Traceback (most recent call last):\nValueError: boom\n",
    )


def test_an_adaptor_error_carries_its_type_and_traceback():
    body = json.loads(response.error_response(adaptor_error(), "r1").get_data())
    assert body["error"] == "adaptor_error"
    assert (body["type"], body["request_id"]) == ("ValueError", "r1")
    assert body["traceback"].endswith("ValueError: boom\n")


def test_hide_tracebacks_drops_only_the_traceback():
    error = adaptor_error()
    answer = response.error_response(error, "r1", hide_tracebacks=True)
    assert answer.status_code == 500
    body = json.loads(answer.get_data())
    assert "traceback" not in body
    assert (body["type"], body["message"]) == ("ValueError", error.message)
    # The error itself still holds it, for the server's log.
    assert "traceback" in error.details


@pytest.mark.parametrize(
    ("error", "header", "value"),
    [
        (
            Unauthorized("who?"),
            "WWW-Authenticate",
            'Basic realm="owt", charset="UTF-8"',
        ),
        (PayloadTooLarge("big"), "Connection", "close"),
        (Overloaded("busy"), "Retry-After", "1"),
    ],
)
def test_error_responses_carry_the_headers_their_status_needs(error, header, value):
    answer = response.error_response(error, "r")
    assert answer.status_code == error.status
    assert answer.headers[header] == value
