"""A stream that fails after it started must not look like a success
(issue 13): a plain stream is cut off without its last chunk, so curl,
requests, ``owt call`` and the Python client all report a failure (when
the failure comes at once, the front may close the connection even before
the response's head: a failure all the same); a
server-sent-event stream ends with ``event: error``. Whatever the adaptor's
message holds, it can't forge a line of owt's log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import requests

from owt.client import Client
from owt.client import OwtClientError
from tests.owtserver import REPO
from tests.owtserver import running_owt
from tests.workers.procs import PROCESS
from tests.workers.procs import wait_for_workers

FAILS_AFTER_ONE = 'def run():\n    yield "one\\n"\n    raise RuntimeError("boom")\n'
SSE_FAILS_AFTER_ONE = (
    "def run():\n"
    "    def events():\n"
    '        yield "data: one\\n\\n"\n'
    '        raise RuntimeError("boom")\n'
    '    return events(), {"Content-Type": "text/event-stream"}\n'
)


@pytest.fixture(scope="module", params=["inline", "process"])
def server(request, tmp_path_factory):
    args = PROCESS if request.param == "process" else ()
    with running_owt(*args, log_dir=tmp_path_factory.mktemp("logs")) as owt:
        if request.param == "process":
            wait_for_workers(owt, 1)
        yield owt


CUT_OFF = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
)


def test_requests_raises_on_a_plain_stream_that_fails(server):
    with pytest.raises(CUT_OFF):
        server.post(FAILS_AFTER_ONE, path="/x")


def test_curl_exits_non_zero_after_the_first_chunk(server):
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-N",
            "--json",
            json.dumps({"code": FAILS_AFTER_ONE}),
            server.url + "/x",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout in ("one\n", "")
    assert done.returncode != 0, done.stderr


def test_owt_call_exits_1(server, tmp_path):
    adaptor = tmp_path / "fails.py"
    adaptor.write_text(FAILS_AFTER_ONE)
    done = subprocess.run(
        [sys.executable, "-m", "owt", "call", server.url + "/x", str(adaptor)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout in ("one\n", "")
    assert done.returncode == 1
    assert done.stderr.strip()


def test_python_client_call_and_stream_raise(server):
    client = Client(server.url)
    with pytest.raises(OwtClientError):
        client.call(FAILS_AFTER_ONE)
    with pytest.raises(OwtClientError):
        for _ in client.stream(FAILS_AFTER_ONE):
            pass


def test_the_log_names_the_request_and_the_error(server):
    path = f"/named-{time.monotonic_ns()}"
    with pytest.raises(CUT_OFF):
        server.post(FAILS_AFTER_ONE, path=path)
    deadline = time.monotonic() + 5
    while path not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.output()
    access = [line for line in log.splitlines() if f"POST {path} " in line]
    request_id = access[0].rsplit("id=", 1)[1]
    named = [line for line in log.splitlines() if request_id in line]
    assert any("boom" in line for line in named), log[-2000:]


def test_an_event_stream_still_ends_with_an_error_event(server):
    response = server.post(SSE_FAILS_AFTER_ONE, path="/events")
    assert response.status_code == 200
    assert response.text.startswith("data: one\n\n")
    assert "event: error" in response.text
    assert "boom" in response.text


def test_a_complete_plain_stream_is_still_a_success(server):
    code = 'def run():\n    yield "one\\n"\n    yield "two\\n"\n'
    assert server.post(code).text == "one\ntwo\n"


FORGED = "2026-01-01 00:00:00,000 INFO GET /forged code=- status=200 0.1ms id=x"


@pytest.mark.parametrize(
    "code",
    [
        f"def run():\n    raise RuntimeError('boom\\n{FORGED}')\n",
        f"def run():\n    yield 'a'\n    raise RuntimeError('boom\\r\\n{FORGED}')\n",
    ],
    ids=["error", "stream"],
)
def test_an_error_message_cannot_forge_a_log_line(server, code):
    try:
        server.post(code, path="/forge")
    except CUT_OFF:
        pass
    log = server.output()
    assert "GET /forged" in log  # the text is logged...
    # ...but never at the start of a line, where a real record starts.
    assert not re.search(r"^\S+ \S+ INFO GET /forged", log, re.MULTILINE), log[-3000:]
    assert "\r" not in log
