"""owt.response: what an adaptor's result becomes on the wire, in process."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import subprocess
import sys

import flask
import numpy
import pytest
from werkzeug.datastructures import Headers
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

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


def test_an_error_may_not_be_shown_in_a_frame(client):
    # A foreign page framing a refused owt URL gets a blank frame.
    refused = client.get("/_owt/", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert refused.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in refused.headers["Content-Security-Policy"]


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


# --- images, arrays and files -----------------------------------------------------------


def png_pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.mode, image.size, image.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "1", "P", "I;16"])
def test_a_pil_image_is_a_png_of_the_same_pixels(mode):
    from PIL import Image

    image = Image.linear_gradient("L").resize((7, 5)).convert(mode)
    body = response.map_body(image)
    assert (body.content_type, body.stream, body.headers) == ("image/png", None, [])
    assert png_pixels(body.data) == (mode, (7, 5), image.tobytes())


def test_an_image_mode_png_cannot_hold_is_refused_saying_how_to_convert():
    from PIL import Image

    error = refused(response.map_body, Image.new("CMYK", (2, 2)))
    assert error.message.startswith("The adaptor returned a CMYK image, which owt")
    assert "image.convert('RGB')" in error.message


def test_owt_imports_neither_pillow_nor_numpy_itself():
    script = (
        "import sys\n"
        "from owt.server import create_app\n"
        "from owt.options import ServeOptions\n"
        "from owt.executors.inline import build_response\n"
        "from werkzeug.datastructures import MIMEAccept\n"
        "create_app(ServeOptions())\n"
        "for value in ('a', b'b', 1, [1], {'a': 1}, (2,), None):\n"
        "    build_response(value, accept=MIMEAccept([('application/x-npy', 1)]))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PIL', 'numpy')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert out.stdout == "[]\n"


def test_something_that_merely_looks_like_an_image_is_not_one():
    class Image:
        mode = "RGB"

        def save(self, *args, **kwargs):
            raise AssertionError("not an image")

    refused(response.map_body, Image())


def accept(header: str) -> MIMEAccept:
    return parse_accept_header(header, MIMEAccept)


@pytest.mark.parametrize(
    ("header", "npy"),
    [
        ("application/x-npy", True),
        ("application/x-npy, application/json;q=0.5", True),
        ("*/*;q=0.1, application/x-npy", True),
        ("application/json;q=0, */*", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, application/x-npy", False),  # a tie: JSON
        ("application/x-npy;q=0.5, application/json", False),
        ("application/*", False),
        ("application/x-npy;q=0", False),
        ("text/html, application/xhtml+xml", False),
    ],
)
def test_wants_npy_reads_accept_with_its_qualities(header, npy):
    assert response.wants_npy(accept(header)) is npy


def test_wants_npy_without_a_request_is_json():
    assert response.wants_npy(None) is False


def test_a_numpy_array_is_json():
    array = numpy.arange(6, dtype=numpy.int16).reshape(2, 3)
    body = response.map_body(array)
    assert (body.content_type, json.loads(body.data)) == (
        "application/json",
        [[0, 1, 2], [3, 4, 5]],
    )
    assert body.headers == []  # not negotiated: no Vary


@pytest.mark.parametrize(
    ("value", "document"),
    [
        (numpy.float64(1.5), 1.5),
        (numpy.float32(0.5), 0.5),
        (numpy.int64(3), 3),
        (numpy.bool_(True), True),
    ],
)
def test_numpy_scalars_are_json(value, document):
    body = response.map_body(value, accept("*/*"))
    assert body.content_type == "application/json"
    assert json.loads(body.data) == document
    assert body.headers == [("Vary", "Accept")]


@pytest.mark.parametrize(
    "array",
    [
        numpy.arange(12, dtype=numpy.float32).reshape(3, 2, 2),
        numpy.array([[1 + 2j]], dtype=numpy.complex128),
        numpy.zeros((0, 4), dtype=numpy.uint8),
        numpy.array(["ab", "é"]),
        numpy.asfortranarray(numpy.arange(6, dtype=">i4").reshape(2, 3)),
        numpy.float64(2.5),
    ],
)
def test_an_array_is_npy_when_the_client_prefers_it(array):
    body = response.map_body(array, accept("application/x-npy"))
    assert body.content_type == "application/x-npy"
    assert body.headers == [("Vary", "Accept")]
    loaded = numpy.load(io.BytesIO(body.data), allow_pickle=False)
    assert (loaded.dtype, loaded.shape) == (
        numpy.asarray(array).dtype,
        numpy.shape(array),
    )
    assert numpy.array_equal(loaded, array)


def test_an_array_of_objects_is_not_pickled_into_npy():
    array = numpy.array([{"a": 1}, None], dtype=object)
    error = refused(response.map_body, array, accept("application/x-npy"))
    assert error.message.startswith(
        "The adaptor returned an array of dtype object, which owt can't send as .npy"
    )


def test_arrays_inside_json_data_stay_json():
    body = response.map_body({"v": numpy.arange(3)}, accept("application/x-npy"))
    assert (body.content_type, json.loads(body.data)) == (
        "application/json",
        {"v": [0, 1, 2]},
    )


def file_of(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_path_is_that_file_streamed_in_chunks(tmp_path):
    data = os.urandom(2 * response.FILE_CHUNK + 10)
    body = response.map_body(file_of(tmp_path, "blob.bin", data))
    assert (body.content_type, body.data) == ("application/octet-stream", b"")
    assert dict(body.headers) == {
        "Content-Length": str(len(data)),
        "Content-Disposition": 'inline; filename="blob.bin"',
    }
    chunks = list(body.stream)
    assert [len(c) for c in chunks] == [response.FILE_CHUNK, response.FILE_CHUNK, 10]
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p,
        lambda p: pathlib.PurePath(p),
        lambda p: pathlib.PurePosixPath(p),
    ],
)
def test_any_pure_path_is_a_file(tmp_path, make):
    body = response.map_body(make(file_of(tmp_path, "a.txt", b"hello\n")))
    assert body.content_type == "text/plain; charset=utf-8"
    assert b"".join(body.stream) == b"hello\n"


def test_a_file_is_closed_once_sent_or_when_the_stream_is_closed(tmp_path):
    path = file_of(tmp_path, "a.txt", b"x" * 10)
    sent = response.map_body(path).stream
    assert list(sent) == [b"x" * 10]
    assert sent._file.closed
    unread = response.map_body(path).stream
    assert not unread._file.closed
    unread.close()  # what the response does if its client goes away
    assert unread._file.closed
    assert list(unread) == []


def test_an_empty_file_is_an_empty_body(tmp_path):
    body = response.map_body(file_of(tmp_path, "empty.txt", b""))
    assert dict(body.headers)["Content-Length"] == "0"
    assert list(body.stream) == []


def test_a_file_that_grows_sends_what_content_length_promised(tmp_path):
    path = file_of(tmp_path, "log.txt", b"first\n")
    body = response.map_body(path)
    with path.open("ab") as more:
        more.write(b"second\n")
    assert b"".join(body.stream) == b"first\n"


def test_a_file_cut_short_while_sent_fails_the_stream(tmp_path):
    path = file_of(tmp_path, "big.bin", b"x" * (response.FILE_CHUNK + 5))
    stream = response.map_body(path).stream
    assert next(stream) == b"x" * response.FILE_CHUNK
    path.write_bytes(b"")  # truncated in place
    with pytest.raises(BadAdaptorResult, match="got shorter while owt was sending it"):
        next(stream)


def test_a_missing_path_is_refused_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "x.png"
    error = refused(response.map_body, missing)
    assert error.message == (
        f"The adaptor returned the path {str(missing)!r}, which owt can't send: "
        "it does not exist."
    )


def test_a_relative_path_is_named_with_owts_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = refused(response.map_body, pathlib.Path("missing.txt"))
    assert error.message == (
        f"The adaptor returned the path 'missing.txt' (from owt's directory "
        f"{os.getcwd()}), which owt can't send: it does not exist."
    )


def test_a_directory_is_refused(tmp_path):
    error = refused(response.map_body, tmp_path)
    assert error.message.endswith("which owt can't send: it is a directory.")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error = refused(response.map_body, fifo)
    assert error.message.endswith(
        "it is not a regular file (a device, FIFO or socket)."
    )


def test_a_device_is_refused():
    error = refused(response.map_body, pathlib.Path("/dev/zero"))
    assert "it is not a regular file" in error.message


def test_a_path_through_a_file_is_refused(tmp_path):
    path = file_of(tmp_path, "a.txt", b"") / "b.txt"
    error = refused(response.map_body, path)
    assert error.message.endswith(
        "which owt can't send: a part of it is not a directory."
    )


def test_a_file_owt_may_not_read_is_refused(tmp_path, monkeypatch):
    path = file_of(tmp_path, "secret.txt", b"s")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: be refused as others are

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(response.os, "open", refuse)
    error = refused(response.map_body, path)
    assert error.message.endswith(
        "which owt can't send: owt's process may not read it (permission denied)."
    )


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.png", "image/png"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("a.json", "application/json"),
        ("A.JPG", "image/jpeg"),
        ("a.tar.gz", "application/gzip"),
        ("a.unknown-kind", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
    ],
)
def test_file_type_is_guessed_from_the_name(name, content_type):
    assert response.file_type(name) == content_type


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("plot.png", 'inline; filename="plot.png"'),
        ("two words.txt", 'inline; filename="two words.txt"'),
        ('say "hi".txt', 'inline; filename="say \\"hi\\".txt"'),
        ("café.txt", "inline; filename=\"cafe.txt\"; filename*=UTF-8''caf%C3%A9.txt"),
        (
            "日本.txt",
            "inline; filename=\".txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt",
        ),
        ("a\nb.txt", "inline; filename=\"ab.txt\"; filename*=UTF-8''a%0Ab.txt"),
        ("\udcff.bin", "inline; filename=\".bin\"; filename*=UTF-8''%3F.bin"),
    ],
)
def test_content_disposition_is_quoted_and_says_the_exact_name(name, header):
    assert response.content_disposition(name) == header
    response.check_header("Content-Disposition", header)  # safe on the wire


# --- build_response: the headers a body brings -------------------------------------------


def built(result, header: str | None = None, streamed: bool = False):
    """build_response's answer for ``result`` and its body, read whole."""
    from owt.executors.inline import build_response

    with flask.Flask(__name__).test_request_context():
        answer = build_response(
            result, accept=None if header is None else accept(header)
        )
        assert answer.is_streamed is streamed
        return answer, answer.get_data()


def test_an_image_in_a_tuple_keeps_its_status_and_headers():
    from PIL import Image

    image = Image.new("RGB", (3, 2), (255, 0, 0))
    answer, data = built((image, 201, {"X-Kind": "red"}))
    assert (answer.status_code, answer.mimetype) == (201, "image/png")
    assert answer.headers["X-Kind"] == "red"
    assert png_pixels(data) == ("RGB", (3, 2), image.tobytes())


def test_an_array_says_it_varies_with_accept():
    answer, data = built(numpy.arange(3), "application/x-npy")
    assert (answer.mimetype, answer.headers["Vary"]) == ("application/x-npy", "Accept")
    assert numpy.load(io.BytesIO(data)).tolist() == [0, 1, 2]


def test_vary_joins_the_adaptors_own():
    answer, _ = built((numpy.arange(3), {"Vary": "Origin"}), "*/*")
    assert answer.headers["Vary"] == "Origin, Accept"
    answer, _ = built((numpy.arange(3), {"Vary": "accept"}), "*/*")
    assert answer.headers["Vary"] == "accept"


def test_an_adaptors_content_type_ends_the_negotiation():
    result = (numpy.arange(3), {"Content-Type": "application/json"})
    answer, data = built(result, "application/x-npy")
    assert (answer.mimetype, json.loads(data)) == ("application/json", [0, 1, 2])
    assert "Vary" not in answer.headers


def test_a_file_keeps_its_length_and_the_adaptor_its_disposition(tmp_path):
    path = file_of(tmp_path, "a.txt", b"hello")
    headers = {"Content-Disposition": "attachment", "Content-Length": "99"}
    answer, data = built((path, headers), streamed=True)
    assert data == b"hello"
    assert answer.headers["Content-Length"] == "5"
    assert answer.headers["Content-Disposition"] == "attachment"
