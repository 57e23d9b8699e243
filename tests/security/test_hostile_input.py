"""Hostile and broken requests: each gets a clear answer, and the very next
normal request still succeeds (issue 7, "Hostile input")."""

from __future__ import annotations

import base64
import json
import signal
import socket
import time

import pytest
import requests

from tests.owtserver import b64
from tests.owtserver import running_owt
from tests.security.conftest import assert_error_shape
from tests.security.conftest import marker_code
from tests.security.conftest import markers
from tests.security.conftest import still_serves

ECHO = "def run(**kwargs):\n    return kwargs\n"


def raw_b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


BAD_REQUESTS = {
    "no code at all": ({"kwargs_b64": b64("{}")}, "missing_code"),
    "empty code": ({"code_b64": ""}, "missing_code"),
    "code_b64 is not base64": ({"code_b64": "%%%not base64%%%"}, "bad_encoding"),
    "code is not UTF-8": ({"code_b64": raw_b64(b"def run():\xff\xfe")}, "bad_encoding"),
    "code is a number": ({"code_b64": 12}, "bad_request"),
    "no run function": ({"code_b64": b64("def walk():\n    pass\n")}, None),
    "kwargs neither JSON nor Python": (
        {"code_b64": b64(ECHO), "kwargs_b64": b64("{name: ??? }")},
        "bad_encoding",
    ),
    "kwargs not base64": (
        {"code_b64": b64(ECHO), "kwargs_b64": "!!!"},
        "bad_encoding",
    ),
    "kwargs not UTF-8": (
        {"code_b64": b64(ECHO), "kwargs_b64": raw_b64(b"\xc3\x28")},
        "bad_encoding",
    ),
    "fn_name is not an identifier": (
        {"code_b64": b64(ECHO), "fn_name": "run; import os"},
        "bad_request",
    ),
    "use_cache is not a boolean": (
        {"code_b64": b64(ECHO), "use_cache": "perhaps"},
        "bad_encoding",
    ),
}


@pytest.mark.parametrize("payload,kind", BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_fields_are_400_and_owt_keeps_serving(owt, payload, kind):
    response = requests.post(owt.url + "/x", json=payload, timeout=15)
    body = assert_error_shape(response, 400, kind, adaptor=False)
    if kind is None:
        assert body["error"] == "entrypoint_not_found"
        assert "run" in body["message"] and "walk" in body["message"]
    still_serves(owt)


def test_syntax_error_names_its_line_and_owt_keeps_serving(owt):
    code = "def run():\n    return 1\n\ndef broken(:\n    pass\n"
    body = assert_error_shape(owt.post(code), 400, "syntax_error")
    assert body["line"] == 4
    assert "line 4" in body["message"]
    still_serves(owt)


@pytest.mark.parametrize(
    "content_type,data,kind",
    [
        ("application/json", b'{"code_b64": "abc",', "bad_request"),
        ("application/json", b"[1, 2, 3]", "bad_request"),
        ("application/json", b"\xff\xfe\x00garbage", "bad_request"),
        ("text/plain", json.dumps({"code_b64": b64(ECHO)}).encode(), "missing_code"),
        ("application/octet-stream", b"\x00\x01\x02", "missing_code"),
        (None, b"code_b64=abc", "missing_code"),
    ],
    ids=[
        "truncated-json",
        "json-array",
        "binary-as-json",
        "text-plain",
        "binary",
        "none",
    ],
)
def test_unreadable_post_bodies_are_400(owt, content_type, data, kind):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.post(owt.url + "/", data=data, headers=headers, timeout=15)
    body = assert_error_shape(response, 400, kind)
    if content_type == "text/plain":
        # The message says why a well-formed payload was not read.
        assert "text/plain" in body["message"]
    still_serves(owt)


@pytest.mark.parametrize(
    "depth,kind", [(200, "kwargs_too_deep"), (5000, None)], ids=["200", "5000"]
)
def test_deeply_nested_kwargs_are_refused(owt, depth, kind):
    nested = "[" * depth + "]" * depth
    response = owt.get(ECHO, None, kwargs_b64=b64('{"a": ' + nested + "}"))
    body = assert_error_shape(response, 400, kind)
    assert body["error"] in ("kwargs_too_deep", "bad_encoding")
    # The same, as a plain JSON body.
    code = b64(ECHO)
    raw = '{"code_b64": "' + code + '", "kwargs": {"a": ' + nested + "}}"
    response = requests.post(
        owt.url, data=raw, headers={"Content-Type": "application/json"}, timeout=15
    )
    assert_error_shape(response, 400)
    still_serves(owt)


def test_kwargs_nesting_up_to_the_limit_is_accepted(owt):
    # --max-kwargs-depth defaults to 64: the top-level dict doesn't count.
    value: object = 1
    for _ in range(64):
        value = [value]
    assert owt.post(ECHO, {"a": value}).json() == {"a": value}
    too_deep = owt.post(ECHO, {"a": [value]})
    assert_error_shape(too_deep, 400, "kwargs_too_deep")
    assert "--max-kwargs-depth" in too_deep.json()["message"]


@pytest.mark.parametrize(
    "expression",
    ["exit()", "(_ for _ in ()).throw(KeyboardInterrupt)", "1/0", "[][0]"],
    ids=["exit", "keyboard-interrupt", "zero-division", "index-error"],
)
def test_python_kwargs_that_raise_are_400_not_a_dropped_connection(owt, expression):
    response = owt.get(ECHO, None, kwargs_b64=b64(expression))
    assert_error_shape(response, 400, "bad_encoding")
    still_serves(owt)


@pytest.mark.parametrize(
    "value",
    [
        "héllo wörld ✓ 漢字 🐍",
        "nul\x00byte",
        "line\nbreak\r\n",
        "\u202etlo",
        "\ud7ff\ue000",
    ],
    ids=["unicode", "nul", "newlines", "bidi", "edge-codepoints"],
)
def test_unicode_and_nul_in_kwargs_reach_the_adaptor_intact(owt, value):
    assert owt.post(ECHO, {"v": value}).json() == {"v": value}
    assert owt.get(ECHO, {"v": value}).json() == {"v": value}


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/a%00b/c",
        "/caf%C3%A9/%E2%9C%93",
        "/%F0%9F%90%8D",
        "/%ff%fe",
        "/x%0d%0aInjected:1",
    ],
    ids=["nul", "inner-nul", "utf8", "emoji", "not-utf8", "crlf"],
)
def test_odd_paths_reach_adaptors_and_cannot_forge_log_lines(owt, path):
    code = "def run(request):\n    return {'path': request.path}\n"
    response = requests.post(owt.url + path, json={"code_b64": b64(code)}, timeout=15)
    assert response.status_code == 200, response.text
    assert response.json()["path"].startswith("/")
    time.sleep(0.2)
    for line in owt.output().splitlines():
        assert not line.startswith("Injected"), line
        assert "\x00" not in line
    still_serves(owt)


@pytest.mark.parametrize(
    "code,type_name",
    [
        ("import sys\ndef run():\n    sys.exit(3)\n", "SystemExit"),
        ("def run():\n    raise SystemExit\n", "SystemExit"),
        ("def run():\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("import sys\nsys.exit('at the top level')\n", "SystemExit"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("def run():\n    raise GeneratorExit\n", "GeneratorExit"),
    ],
    ids=[
        "sys.exit",
        "SystemExit",
        "KeyboardInterrupt",
        "top-exit",
        "top-ki",
        "genexit",
    ],
)
def test_exit_and_interrupt_are_adaptor_errors(owt, code, type_name):
    body = assert_error_shape(owt.post(code), 500, "adaptor_error")
    assert body["type"] == type_name
    still_serves(owt)


def test_adaptor_prints_come_back_with_its_error(owt):
    code = (
        "import sys\n"
        "def run():\n"
        "    print('to stdout')\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    raise ValueError('broken')\n"
    )
    body = assert_error_shape(owt.post(code), 500, "adaptor_error")
    assert body["type"] == "ValueError"
    assert body["stdout"] == "to stdout\n"
    assert body["stderr"] == "to stderr\n"
    assert "broken" in body["message"] and "line 5" in body["traceback"]


def test_generator_failing_halfway_cuts_a_plain_stream_and_ends_sse_with_an_error(
    owt,
):
    code = (
        "def run():\n"
        "    def chunks():\n"
        "        yield 'one\\n'\n"
        "        yield 'two\\n'\n"
        "        raise RuntimeError('halfway')\n"
        "    return chunks()\n"
    )
    received = b""
    with owt.get(code, stream=True) as response:
        assert response.status_code == 200
        # Cut off without the chunked body's last chunk, so that no client
        # takes the failure for a success (issue 13).
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(None):
                received += chunk
    # What was sent before the cut (the front may not flush the last chunk).
    assert received and b"one\ntwo\n".startswith(received)
    sse = (
        "def run():\n"
        "    def events():\n"
        "        yield 'data: 1\\n\\n'\n"
        "        raise RuntimeError('halfway')\n"
        "    return events(), {'Content-Type': 'text/event-stream'}\n"
    )
    with owt.get(sse, stream=True) as response:
        text = b"".join(response.iter_content(None)).decode()
    assert text.startswith("data: 1\n\n")
    assert "event: error" in text and "halfway" in text
    time.sleep(0.2)
    assert "halfway" in owt.output()  # and it is logged
    still_serves(owt)


def test_client_disconnecting_mid_stream_closes_the_generator(owt, marker_dir):
    code = (
        "import pathlib, time\n"
        "def run(marker):\n"
        "    def forever():\n"
        "        try:\n"
        "            n = 0\n"
        "            while True:\n"
        "                yield f'chunk {n}\\n'\n"
        "                n += 1\n"
        "                time.sleep(0.05)\n"
        "        finally:\n"
        "            pathlib.Path(marker).write_text('closed')\n"
        "    return forever()\n"
    )
    marker = marker_dir / "closed"
    response = owt.get(code, {"marker": str(marker)}, stream=True)
    first = next(response.iter_content(8))
    assert first.startswith(b"chunk 0")
    assert not marker.exists()
    response.close()  # hang up mid-stream
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "closed"
    still_serves(owt)


def test_half_sent_request_then_hang_up_leaves_owt_serving(owt):
    with socket.create_connection(("127.0.0.1", owt.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"code_b64": "'
        )
    with socket.create_connection(("127.0.0.1", owt.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage-tls-hello")
    still_serves(owt)


def test_os_exit_costs_its_caller_the_answer_but_owt_keeps_serving(tmp_path):
    """``os._exit`` ends the process that runs the adaptor. Inline (the
    default) that is one of owt's worker processes: its caller gets no
    success, and owt starts a new worker, also when it happens again and
    again in quick succession. Whatever executor runs it, owt never hangs,
    serves again within seconds, and still stops on SIGTERM."""
    with running_owt(log_dir=tmp_path) as server:
        for _ in range(3):
            try:
                response = server.post(
                    "import os\ndef run():\n    os._exit(7)\n", timeout=15
                )
            except requests.ConnectionError:
                pass
            else:  # an isolating executor answers for its dead worker
                assert_error_shape(response, response.status_code)
                assert response.status_code >= 500
            deadline = time.monotonic() + 15
            answer = None
            while answer is None and time.monotonic() < deadline:
                try:
                    answer = server.post("def run():\n    return 'back'\n", timeout=5)
                except requests.ConnectionError:
                    time.sleep(0.1)
            assert answer is not None and answer.text == "back"
            assert server.alive()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) is not None


def test_marker_code_helper_really_runs(owt, marker_dir):
    # The marker adaptor used by the browser tests does leave its marker.
    assert owt.post(marker_code(marker_dir), {"name": "direct"}).text == "ran direct"
    assert markers(marker_dir) == ["direct"]
