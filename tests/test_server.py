"""The foundation, black-box: a real ``owt serve`` spoken to over real HTTP."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from tests.owtserver import b64
from tests.owtserver import fields
from tests.owtserver import free_port
from tests.owtserver import running_owt
from tests.owtserver import wait_until_up

ECHO_SCRIPT = "def run(name: str):\n  return f'Hello, {name}!'\n"
ECHO_PY = (
    "from owt.server import Server\n\n\n"
    "def run(name=None):\n"
    '    return f"Hello, {name}, from {Server.sing().address}:{Server.sing().port}!"\n'
)


def spec_kwargs(text: str) -> str:
    """kwargs_b64 as the spec builds it: ``echo "{'name': 'owt'}" | base64``."""
    return b64(text + "\n")


# -- the spec's echo examples -------------------------------------------------


def test_echo_script_by_post_json(owt_server):
    r = requests.post(
        owt_server.url + "/hello",
        json={
            "code_b64": b64(ECHO_SCRIPT),
            "kwargs_b64": spec_kwargs("{'name': 'owt'}"),
        },
        timeout=10,
    )
    assert r.status_code == 200
    assert r.text == "Hello, owt!"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_echo_py_by_post_json_names_the_server(owt_server):
    r = requests.post(
        owt_server.url + "/hello",
        json={"code_b64": b64(ECHO_PY), "kwargs_b64": spec_kwargs("{'name': 'owt'}")},
        timeout=10,
    )
    assert r.text == f"Hello, owt, from 127.0.0.1:{owt_server.port}!"


def test_echo_py_by_get_query(owt_server):
    r = requests.get(
        owt_server.url,
        params={"code_b64": b64(ECHO_PY), "kwargs_b64": spec_kwargs("{'name': 'owt'}")},
        timeout=10,
    )
    assert r.text == f"Hello, owt, from 127.0.0.1:{owt_server.port}!"


def test_echo_by_form_body(owt_server):
    r = requests.post(
        owt_server.url + "/form",
        data={"code_b64": b64(ECHO_SCRIPT), "kwargs_b64": b64('{"name": "form"}')},
        timeout=10,
    )
    assert r.text == "Hello, form!"


def test_plain_code_and_kwargs_in_json_body(owt_server):
    r = requests.post(
        owt_server.url,
        json={"code": ECHO_SCRIPT, "kwargs": {"name": "plain"}},
        timeout=10,
    )
    assert r.text == "Hello, plain!"


def test_curl_json_as_the_spec_uses_it(owt_server):
    body = json.dumps(
        {"code_b64": b64(ECHO_SCRIPT), "kwargs_b64": b64("{'name': 'curl'}")}
    )
    out = subprocess.run(
        ["curl", "-s", "--json", body, owt_server.url + "/hello"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert out.stdout == "Hello, curl!"


def test_python_dash_m_owt_server_serves_and_knows_its_port():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "owt.server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, 20)
        r = requests.get(url, params=fields(ECHO_PY, {"name": "m"}), timeout=10)
        assert r.text == f"Hello, m, from 127.0.0.1:{port}!"
        code = (
            "def run():\n    return type(args.port).__name__ + ' ' + str(args.port)\n"
        )
        assert requests.get(url, params=fields(code), timeout=10).text == f"int {port}"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"Owt serving on 127.0.0.1:{port}" in out


def test_health_reports_status_version_and_uptime(owt_server):
    r = requests.get(owt_server.url + "/_owt/health", timeout=10)
    body = r.json()
    assert r.status_code == 200
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptime_s"] >= 0


def test_unknown_reserved_path_is_404_json(owt_server):
    r = requests.get(owt_server.url + "/_owt/nothing-here", timeout=10)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/", "/a", "/a/b/c", "//double", "/static/x", "/x/"])
def test_every_other_path_reaches_adaptors(owt_server, path):
    code = "from flask import request\ndef run():\n    return request.path\n"
    r = requests.get(owt_server.url + path, params=fields(code), timeout=10)
    assert r.status_code == 200
    # The HTTP server may fold a leading '//' (a network-path reference).
    assert r.text in (path, path[1:])


# -- adaptor forms and calling conventions --------------------------------------


def test_first_positional_parameter_receives_the_request(owt_server):
    code = "def run(_, prompt):\n    return f'{_.method} {_.path} {prompt}'\n"
    r = owt_server.post(code, {"prompt": "output SOTA results"}, path="/p")
    assert r.text == "POST /p output SOTA results"


def test_top_level_imports_and_helpers_are_visible_in_run(owt_server):
    code = textwrap.dedent(
        """
        import math
        from collections import Counter

        def helper(x):
            return math.sqrt(x)

        def run(x):
            return {"root": helper(x), "count": Counter("aab")["a"]}
        """
    )
    assert owt_server.post(code, {"x": 16}).json() == {"root": 4.0, "count": 2}


def test_fn_name_picks_another_function(owt_server):
    code = "def run():\n    return 'run'\n\ndef other(n):\n    return f'other {n}'\n"
    r = owt_server.post(code, {"n": 2}, fn_name="other")
    assert r.text == "other 2"


@pytest.mark.parametrize("name", ["pipe", "Server", "request", "args", "__import__"])
def test_fn_name_never_reaches_owts_own_names(owt_server, name):
    r = owt_server.post("def run():\n    return 1\n", fn_name=name)
    assert r.status_code == 400
    assert r.json()["error"] == "entrypoint_not_found"
    assert "run" in r.json()["message"]


def test_missing_function_is_400_naming_what_exists(owt_server):
    r = owt_server.post("def go():\n    return 1\n")
    assert r.status_code == 400
    assert r.json()["error"] == "entrypoint_not_found"
    assert "go" in r.json()["message"]


def test_single_expression_adaptor_becomes_run(owt_server):
    r = owt_server.post("lambda name: name.upper()", {"name": "shout"})
    assert r.text == "SHOUT"


def test_single_expression_that_is_not_callable_is_400(owt_server):
    r = owt_server.post("1 + 1")
    assert r.status_code == 400
    assert "int" in r.json()["message"]


def test_python_expression_kwargs_are_evaluated(owt_server):
    r = requests.post(
        owt_server.url,
        json={
            "code_b64": b64("def run(n):\n    return n\n"),
            "kwargs_b64": b64("{'n': 2 ** 10}"),
        },
        timeout=10,
    )
    assert r.text == "1024"


def test_a_pipe_input_is_sent_as_last(owt_server):
    star = "def run(**kw):\n    return kw\n"
    assert owt_server.post(star, {"__last__": "text"}).json() == {"__last__": "text"}
    assert owt_server.post("f(lambda xs: sum(xs))", {"__last__": [1, 2]}).text == "3"


def test_warm_code_runs_top_level_once(owt_server):
    code = textwrap.dedent(
        """
        import itertools
        LOADS = itertools.count(1)
        LOADED = next(LOADS)
        CALLS = itertools.count(1)

        def run():
            return {"loaded": LOADED, "call": next(CALLS)}
        """
    )
    first = owt_server.post(code).json()
    second = owt_server.post(code).json()
    assert first["loaded"] == second["loaded"] == 1
    assert second["call"] == first["call"] + 1


def test_simultaneous_first_requests_load_once(owt_server):
    code = textwrap.dedent(
        f"""
        import time
        # nonce {time.time_ns()}
        time.sleep(1)
        LOADS = []
        LOADS.append(1)

        def run():
            return len(LOADS)
        """
    )
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: owt_server.post(code).text, range(4)))
    assert results == ["1"] * 4


def test_each_code_has_its_own_namespace(owt_server):
    setter = "SECRET = 'mine'\ndef run():\n    global json\n    json = None\n    return SECRET\n"
    reader = "def run():\n    return repr(globals().get('SECRET'))\n"
    assert owt_server.post(setter).text == "mine"
    assert owt_server.post(reader).text == "None"
    assert (
        owt_server.post("import json\ndef run():\n    return json.dumps([1])\n").text
        == "[1]"
    )


# -- response mapping ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "content_type", "body"),
    [
        ("'<b>hi</b>'", "text/html; charset=utf-8", b"<b>hi</b>"),
        ("b'\\x00\\x01'", "application/octet-stream", b"\x00\x01"),
        ("bytearray(b'ab')", "application/octet-stream", b"ab"),
        ("__import__('io').BytesIO(b'io')", "application/octet-stream", b"io"),
        ("42", "text/plain; charset=utf-8", b"42"),
        ("1.5", "text/plain; charset=utf-8", b"1.5"),
        ("True", "text/plain; charset=utf-8", b"True"),
        ("{'a': [1, 'x']}", "application/json", b'{"a": [1, "x"]}'),
        ("[200, {'a': 1}]", "application/json", b'[200, {"a": 1}]'),
        ("['body', 404]", "application/json", b'["body", 404]'),
    ],
)
def test_return_values_map_to_content_types(owt_server, expr, content_type, body):
    r = owt_server.post(f"def run():\n    return {expr}\n")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == content_type
    assert r.content == body


def test_none_is_an_empty_200(owt_server):
    r = owt_server.post("def run():\n    return None\n")
    assert r.status_code == 200
    assert r.content == b""


@pytest.mark.parametrize(
    ("expr", "status", "header"),
    [
        ("('gone', 410)", 410, None),
        ("('x', {'X-Thing': 'yes'})", 200, "yes"),
        ("('x', 201, {'X-Thing': 'both'})", 201, "both"),
        ("('x', [('X-Thing', 'pairs')])", 200, "pairs"),
    ],
)
def test_tuples_set_status_and_headers(owt_server, expr, status, header):
    r = owt_server.post(f"def run():\n    return {expr}\n")
    assert r.status_code == status
    assert r.headers.get("X-Thing") == header


def test_content_type_from_headers_wins(owt_server):
    r = owt_server.post("def run():\n    return 'a,b', {'Content-Type': 'text/csv'}\n")
    assert r.headers["Content-Type"] == "text/csv"


def test_flask_response_passes_through(owt_server):
    code = (
        "from flask import Response\ndef run():\n    return Response('teapot', 418)\n"
    )
    r = owt_server.post(code)
    assert (r.status_code, r.text) == (418, "teapot")


def test_unsendable_result_is_a_structured_500(owt_server):
    r = owt_server.post("def run():\n    return object()\n")
    assert r.status_code == 500
    assert r.json()["error"] == "bad_adaptor_result"


# -- streaming --------------------------------------------------------------------

SLOW_STREAM = textwrap.dedent(
    """
    import time

    def run():
        def gen():
            yield "data: first\\n\\n"
            time.sleep(1.5)
            yield "data: second\\n\\n"
        return gen(), {"Content-Type": "text/event-stream"}
    """
)


def test_first_chunk_arrives_before_the_generator_ends(owt_server):
    started = time.monotonic()
    r = owt_server.post(SLOW_STREAM, stream=True)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    chunks = r.iter_content(chunk_size=None)
    first = next(chunks)
    first_at = time.monotonic() - started
    rest = b"".join(chunks)
    total = time.monotonic() - started
    assert first == b"data: first\n\n"
    assert first_at < 1.0
    assert rest == b"data: second\n\n"
    assert total >= 1.5


def test_plain_generator_streams_text(owt_server):
    r = owt_server.post("def run():\n    return (str(i) for i in range(3))\n")
    assert r.text == "012"
    assert r.headers["Content-Type"].startswith("text/plain")


def test_error_mid_sse_stream_ends_with_error_event(owt_server):
    code = textwrap.dedent(
        """
        def run():
            def gen():
                yield "data: ok\\n\\n"
                raise ValueError("halfway")
            return gen(), {"Content-Type": "text/event-stream"}
        """
    )
    r = owt_server.post(code)
    assert r.status_code == 200
    assert r.text.startswith("data: ok\n\n")
    assert "event: error\n" in r.text
    assert "halfway" in r.text
    assert owt_server.post(ECHO_SCRIPT, {"name": "after"}).text == "Hello, after!"


def test_generator_failing_before_first_chunk_is_a_500(owt_server):
    code = "def run():\n    def gen():\n        raise RuntimeError('early')\n        yield 1\n    return gen()\n"
    r = owt_server.post(code)
    assert r.status_code == 500
    assert "early" in r.json()["message"]


def test_flask_request_is_usable_inside_a_stream(owt_server):
    code = textwrap.dedent(
        """
        from flask import request
        def run():
            def gen():
                yield "a"
                yield request.path
            return gen()
        """
    )
    assert owt_server.post(code, path="/inside/stream").text == "a/inside/stream"


# -- concurrency ----------------------------------------------------------------------


def test_a_slow_adaptor_does_not_delay_quick_ones(owt_server):
    slow = "import time\ndef run():\n    time.sleep(3)\n    return 'slow'\n"
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        slow_future = pool.submit(owt_server.post, slow, timeout=30)
        time.sleep(0.2)
        started = time.monotonic()
        quick = [
            pool.submit(owt_server.post, ECHO_SCRIPT, {"name": str(i)})
            for i in range(20)
        ]
        texts = [f.result().text for f in quick]
        quick_elapsed = time.monotonic() - started
        assert slow_future.result().text == "slow"
    assert texts == [f"Hello, {i}!" for i in range(20)]
    assert quick_elapsed < 2.5


def test_32_requests_in_flight_at_once(owt_server):
    code = "import time\ndef run(i):\n    time.sleep(1)\n    return i\n"
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(
            pool.map(lambda i: owt_server.post(code, {"i": i}).text, range(32))
        )
    assert results == [str(i) for i in range(32)]
    assert time.monotonic() - started < 6


# -- errors: clear, and the server keeps serving --------------------------------------


def assert_still_serving(server):
    assert server.post(ECHO_SCRIPT, {"name": "still"}).text == "Hello, still!"


@pytest.mark.parametrize(
    ("payload", "kind", "needle"),
    [
        ({}, "missing_code", "code_b64"),
        ({"code_b64": ""}, "missing_code", "code_b64"),
        ({"code_b64": "!!!not base64!!!"}, "bad_encoding", "base64"),
        ({"code_b64": "//79"}, "bad_encoding", "UTF-8"),
        (
            {"code_b64": b64(ECHO_SCRIPT), "kwargs_b64": b64("{not json nor python")},
            "bad_encoding",
            "kwargs_b64",
        ),
        (
            {"code_b64": b64(ECHO_SCRIPT), "kwargs_b64": "%%%"},
            "bad_encoding",
            "kwargs_b64",
        ),
        (
            {"code_b64": b64(ECHO_SCRIPT), "use_cache": "maybe"},
            "bad_encoding",
            "use_cache",
        ),
        (
            {"code_b64": b64(ECHO_SCRIPT), "fn_name": "not a name"},
            "bad_request",
            "fn_name",
        ),
        ({"code_b64": b64(ECHO_SCRIPT), "code": ECHO_SCRIPT}, "bad_request", "either"),
    ],
)
def test_bad_requests_are_400_and_named(owt_server, payload, kind, needle):
    r = requests.post(owt_server.url, json=payload, timeout=10)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == kind
    assert needle in body["message"]
    assert body["request_id"] == r.headers["X-Request-Id"]
    assert_still_serving(owt_server)


def test_non_json_body_is_named(owt_server):
    r = requests.post(
        owt_server.url,
        data="{nope",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400
    assert "JSON" in r.json()["message"]
    r = requests.post(
        owt_server.url, data="hello", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert r.status_code == 400
    assert "text/plain" in r.json()["message"]
    assert_still_serving(owt_server)


def test_syntax_error_reports_line_and_column(owt_server):
    r = owt_server.post("def run():\n    return 1 +\n")
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "syntax_error"
    assert body["line"] == 2
    assert body["column"]
    assert "line 2" in body["message"]
    assert_still_serving(owt_server)


def test_adaptor_exception_is_500_with_type_message_and_traceback(owt_server):
    code = "def run():\n    print('about to fail')\n    raise ValueError('bad value')\n"
    r = owt_server.post(code)
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "adaptor_error"
    assert body["type"] == "ValueError"
    assert "bad value" in body["message"]
    assert "raise ValueError('bad value')" in body["traceback"]
    assert "about to fail" in body["stdout"]
    assert_still_serving(owt_server)


def test_top_level_failure_is_500_and_not_kept(owt_server):
    code = f"# {time.time_ns()}\nraise ImportError('no such model')\ndef run():\n    return 1\n"
    for _ in range(2):
        r = owt_server.post(code)
        assert r.status_code == 500
        assert "no such model" in r.json()["message"]
    assert_still_serving(owt_server)


@pytest.mark.parametrize(
    ("code", "type_name"),
    [
        ("import sys\ndef run():\n    sys.exit(3)\n", "SystemExit"),
        ("def run():\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("import sys\nsys.exit(1)\n", "SystemExit"),
    ],
)
def test_exit_and_interrupt_from_adaptors_leave_the_server_up(
    owt_server, code, type_name
):
    r = owt_server.post(code)
    assert r.status_code == 500
    assert r.json()["type"] == type_name
    assert owt_server.alive()
    assert_still_serving(owt_server)


def test_request_over_the_size_limit_is_413():
    with running_owt("--max-request-mb", "1") as server:
        big = {
            "code_b64": b64(ECHO_SCRIPT),
            "kwargs_b64": b64(json.dumps({"name": "x" * 2_000_000})),
        }
        r = requests.post(server.url, json=big, timeout=30)
        assert r.status_code == 413
        assert r.json()["error"] == "payload_too_large"

        def chunks():
            for _ in range(40):
                yield b"x" * 65536

        r = requests.post(
            server.url,
            data=chunks(),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 413
        assert_still_serving(server)


# -- HEAD and OPTIONS never run code ------------------------------------------------


def test_head_and_options_never_run_code(owt_server, tmp_path):
    marker = tmp_path / "ran"
    code = f"def run():\n    open({str(marker)!r}, 'w').write('x')\n    return 'ran'\n"
    for method in ("HEAD", "OPTIONS"):
        r = requests.request(
            method, owt_server.url + "/x", params=fields(code), timeout=10
        )
        assert r.status_code in (200, 204)
        assert "GET" in r.headers["Allow"]
    assert not marker.exists()


# -- logging -------------------------------------------------------------------------


def test_each_request_is_logged_in_one_line():
    with running_owt() as server:
        r = server.post(ECHO_SCRIPT, {"name": "log"}, path="/logged")
        time.sleep(0.2)
        lines = [line for line in server.output().splitlines() if "/logged" in line]
    assert len(lines) == 1
    line = lines[0]
    assert "POST /logged" in line
    assert "status=200" in line
    assert "ms" in line
    assert r.headers["X-Request-Id"] in line
    assert "code=" in line and "code=-" not in line
    assert "def run" not in server.output()


def test_verbose_logs_the_code_too():
    with running_owt("-v") as server:
        server.post(ECHO_SCRIPT, {"name": "log"})
        time.sleep(0.2)
        assert "return f'Hello, {name}!'" in server.output()


def test_non_loopback_address_without_auth_warns(capsys):
    from owt.options import ServeOptions
    from owt.serving import warn_if_exposed

    warn_if_exposed(ServeOptions(address="0.0.0.0"))
    assert "WITHOUT --auth" in capsys.readouterr().err
    warn_if_exposed(ServeOptions(address="127.0.0.1"))
    warn_if_exposed(ServeOptions(address="0.0.0.0", auth="u:" + "0" * 64))
    assert capsys.readouterr().err == ""


def test_ipv6_loopback():
    with running_owt(host="::1") as server:
        assert server.post(ECHO_SCRIPT, {"name": "v6"}).text == "Hello, v6!"


# -- the spec's meta example: owt started from inside owt ----------------------------

SPEC_META = textwrap.dedent(
    """
    def run(**kwargs):
      payload_code_b64 = kwargs['payload_code_b64']
      payload_kwargs_b64 = kwargs['payload_kwargs_b64']
      _globals = {'__name__': __name__+'_new',
                  'new_port': kwargs['new_port']}
      _locals = {}
      exec('''
    from owt.server import *
    from multiprocessing import Process
    args.port = new_port
    server_thread = Process(target=main)
    ''', _globals, _locals)

      from flask import request
      import requests, time, urllib.parse
      _locals['server_thread'].start()
      url = f"http://127.0.0.1:{_globals['new_port']}{request.path}?code_b64={urllib.parse.quote_plus(payload_code_b64)}&kwargs_b64={urllib.parse.quote_plus(payload_kwargs_b64)}"
      try:
        for _ in range(100):
          try:
            return requests.get(url, timeout=5).content
          except requests.ConnectionError:
            time.sleep(0.1)
      finally:
        _locals['server_thread'].terminate()
        _locals['server_thread'].join(5)
    """
)


def test_spec_meta_example_starts_owt_inside_owt(owt_server):
    new_port = free_port()
    kwargs = {
        "payload_code_b64": b64(ECHO_PY),
        "payload_kwargs_b64": b64("{'name': 'owt-inside-owt'}\n"),
        "new_port": new_port,
    }
    r = owt_server.get(SPEC_META, kwargs, timeout=60)
    assert r.text == f"Hello, owt-inside-owt, from 127.0.0.1:{new_port}!"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{new_port}/_owt/health", timeout=2)
    assert_still_serving(owt_server)


def test_spec_client_free_curl_with_unencoded_kwargs(owt_server, tmp_path):
    adaptor = tmp_path / "adaptor.py"
    adaptor.write_text("def run(_, prompt):\n    return f'{prompt} via {_.method}'\n")
    script = (
        "curl -s -G "
        f"--data-urlencode code_b64=$(cat {adaptor} | base64 -w 0) "
        # The spec leaves this substitution unquoted, which bash splits at
        # the spaces; quoted, the unencoded dict is accepted as it is.
        "--data-urlencode kwargs_b64=\"$(echo \"{'prompt':'output SOTA results'}\")\" "
        f"{owt_server.url}"
    )
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=20
    )
    assert out.stdout == "output SOTA results via GET"
