"""One JSON error shape on every error path, its request id in the
X-Request-Id header and in the log line (issue 7, "Structured errors")."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from owt.security import hash_password
from tests.owtserver import b64
from tests.owtserver import fields
from tests.owtserver import running_owt
from tests.security.conftest import assert_error_shape

AUTH = ("ops", "s3cret")
CREDENTIALS = "Basic " + base64.b64encode(b"ops:s3cret").decode()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with running_owt(
        "--auth",
        f"ops:{hash_password('s3cret')}",
        "--max-concurrency",
        "1",
        "--max-request-mb",
        "1",
        "--max-kwargs-depth",
        "3",
        log_dir=tmp_path_factory.mktemp("logs"),
    ) as server:
        yield server


def post(server, payload, path="/x", **kw):
    kw.setdefault("auth", AUTH)
    return requests.post(server.url + path, json=payload, timeout=15, **kw)


RAISES = "import sys\ndef run():\n    print('out'); print('err', file=sys.stderr)\n    raise ValueError('no')\n"
STREAM_RAISES = "def run():\n    def g():\n        raise ValueError('first')\n        yield 1\n    return g()\n"

ERROR_PATHS = {
    "missing code": (lambda s: post(s, {}), 400, "missing_code"),
    "bad base64": (lambda s: post(s, {"code_b64": "@@"}), 400, "bad_encoding"),
    "not utf-8": (
        lambda s: post(s, {"code_b64": base64.b64encode(b"\xff").decode()}),
        400,
        "bad_encoding",
    ),
    "syntax error": (lambda s: post(s, fields("def run(:\n")), 400, "syntax_error"),
    "no run": (lambda s: post(s, fields("x = 1\n")), 400, "entrypoint_not_found"),
    "bad kwargs": (
        lambda s: post(s, {**fields("def run(): pass"), "kwargs_b64": b64("{{")}),
        400,
        "bad_encoding",
    ),
    "kwargs too deep": (
        lambda s: post(s, fields("def run(**k): pass", {"a": [[[[1]]]]})),
        400,
        "kwargs_too_deep",
    ),
    "not a JSON body": (
        lambda s: requests.post(
            s.url,
            data=b"{oops",
            auth=AUTH,
            timeout=15,
            headers={"Content-Type": "application/json"},
        ),
        400,
        "bad_request",
    ),
    "no credentials": (
        lambda s: post(s, fields("def run(): pass"), auth=None),
        401,
        "unauthorized",
    ),
    "foreign origin": (
        lambda s: post(
            s, fields("def run(): pass"), headers={"Origin": "http://evil.example"}
        ),
        403,
        "forbidden",
    ),
    "cross-site fetch": (
        lambda s: post(
            s, fields("def run(): pass"), headers={"Sec-Fetch-Site": "cross-site"}
        ),
        403,
        "forbidden",
    ),
    "rebinding host": (
        lambda s: post(s, fields("def run(): pass"), headers={"Host": "evil.example"}),
        403,
        "forbidden",
    ),
    "reserved path": (
        lambda s: requests.get(s.url + "/_owt/nope", auth=AUTH, timeout=15),
        404,
        "not_found",
    ),
    "method not allowed": (
        lambda s: requests.put(s.url + "/x", data=b"", auth=AUTH, timeout=15),
        405,
        None,
    ),
    "too large": (
        lambda s: post(s, fields("def run(**k): pass", {"blob": "x" * 2_000_000})),
        413,
        "payload_too_large",
    ),
    "adaptor raises": (lambda s: post(s, fields(RAISES)), 500, "adaptor_error"),
    "top level raises": (lambda s: post(s, fields("1/0\n")), 500, "adaptor_error"),
    "stream fails at once": (
        lambda s: post(s, fields(STREAM_RAISES)),
        500,
        "adaptor_error",
    ),
    "sys.exit": (
        lambda s: post(s, fields("import sys\ndef run(): sys.exit(2)")),
        500,
        "adaptor_error",
    ),
    "unsendable result": (
        lambda s: post(s, fields("def run(): return object()")),
        500,
        "bad_adaptor_result",
    ),
    "bad header": (
        lambda s: post(s, fields("def run(): return 'x', {'A': 'b\\nc'}")),
        500,
        "bad_adaptor_result",
    ),
    "bad status": (
        lambda s: post(s, fields("def run(): return 'x', 1000")),
        500,
        "bad_adaptor_result",
    ),
}


@pytest.mark.parametrize("make,status,kind", ERROR_PATHS.values(), ids=ERROR_PATHS)
def test_every_error_has_the_one_shape_and_a_logged_request_id(
    strict, make, status, kind
):
    response = make(strict)
    body = assert_error_shape(response, status, kind)
    if status == 405:
        assert body["error"] == "method_not_allowed"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    request_id = response.headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while request_id not in strict.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(
        line for line in strict.output().splitlines() if f"id={request_id}" in line
    )
    assert f"status={status}" in line


def test_adaptor_failure_carries_type_traceback_and_its_output(strict):
    body = assert_error_shape(post(strict, fields(RAISES)), 500, "adaptor_error")
    assert body["type"] == "ValueError"
    assert body["stdout"] == "out\n" and body["stderr"] == "err\n"
    assert "line 4, in run" in body["traceback"]


def test_overloaded_is_503_with_retry_after(strict, tmp_path):
    release = tmp_path / "release"
    code = (
        "import os, time\n"
        "def run(release):\n"
        "    def held():\n"
        "        yield 'go\\n'\n"
        "        for _ in range(400):\n"
        "            if os.path.exists(release):\n"
        "                break\n"
        "            time.sleep(0.05)\n"
        "    return held()\n"
    )
    held = requests.post(
        strict.url,
        json=fields(code, {"release": str(release)}),
        auth=AUTH,
        stream=True,
        timeout=15,
    )
    try:
        assert next(held.iter_content(None)) == b"go\n"
        response = post(strict, fields("def run(): return 1"))
        assert_error_shape(response, 503, "overloaded")
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        release.write_text("x")
        held.close()


def test_request_ids_are_unique(strict):
    ids = {post(strict, {}).headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20


def test_successful_responses_carry_a_request_id_too(strict):
    # The previous test's held stream may still be letting go of the one slot.
    deadline = time.monotonic() + 5
    response = post(strict, fields("def run(): return 'ok'"))
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
        response = post(strict, fields("def run(): return 'ok'"))
    assert response.status_code == 200
    request_id = response.headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while f"id={request_id}" not in strict.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"id={request_id}" in strict.output()


def test_hide_tracebacks_keeps_the_shape_without_tracebacks(tmp_path):
    with running_owt("--hide-tracebacks", log_dir=tmp_path) as server:
        response = server.post(RAISES)
        body = assert_error_shape(response, 500, "adaptor_error", tracebacks=False)
        assert body["type"] == "ValueError" and body["stdout"] == "out\n"
        assert "no" in body["message"]
        # Still logged for the operator, traceback and all.
        deadline = time.monotonic() + 5
        while "line 4, in run" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Traceback" in server.output() and "line 4, in run" in server.output()


def test_hide_tracebacks_by_environment_variable(tmp_path):
    with running_owt(env={"OWT_HIDE_TRACEBACKS": "1"}, log_dir=tmp_path) as server:
        body = assert_error_shape(
            server.post(RAISES), 500, "adaptor_error", tracebacks=False
        )
        assert json.dumps(body).find("Traceback") == -1
