"""How a request's arguments reach the adaptor's function (issue 13): only a
first parameter meant for it gets the request, arguments that don't fit are
a 400 naming the parameter, kwargs must be an object, and a Python
expression in kwargs runs only inside a concurrency slot."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.owtserver import REPO
from tests.owtserver import b64
from tests.owtserver import running_owt


def test_a_missing_argument_is_a_400_naming_it(owt_server):
    response = owt_server.post("def run(a):\n    return a\n")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_arguments"
    assert "'a'" in body["message"]


def test_an_unexpected_argument_is_a_400_naming_it(owt_server):
    response = owt_server.post("def run(a):\n    return a\n", {"a": 1, "b": 2})
    assert response.status_code == 400
    assert "'b'" in response.json()["message"]


def test_a_type_error_inside_the_adaptor_stays_the_adaptors_500(owt_server):
    response = owt_server.post("def run(a):\n    return len(a)\n", {"a": 5})
    assert response.status_code == 500
    assert response.json()["error"] == "adaptor_error"
    assert "TypeError" in response.json()["message"]


@pytest.mark.parametrize(
    "code",
    [
        "def run(request):\n    return request.path\n",
        "def run(_, **kwargs):\n    return _.path\n",
        "from flask import Request\ndef run(req: Request):\n    return req.path\n",
        "from __future__ import annotations\nfrom flask import Request\n"
        "def run(r: Request):\n    return r.path\n",
    ],
    ids=["request", "underscore", "annotated", "string-annotation"],
)
def test_the_request_goes_to_a_first_parameter_meant_for_it(owt_server, code):
    assert owt_server.post(code, path="/here").text == "/here"


def test_owt_call_without_the_argument_names_it(owt_server, tmp_path):
    adaptor = tmp_path / "hello.py"
    adaptor.write_text("def run(name):\n    return f'Hello, {name}!'\n")
    done = subprocess.run(
        [sys.executable, "-m", "owt", "call", owt_server.url, str(adaptor)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "Request" not in done.stdout
    assert "'name'" in done.stderr


@pytest.mark.parametrize(
    "kwargs_b64",
    [b64("[1, 2, 3]"), b64("7"), b64('"x"'), b64("[1] + [2]"), b64("None")],
    ids=["list", "number", "string", "list-expression", "none-expression"],
)
def test_kwargs_that_are_not_an_object_are_a_400(owt_server, kwargs_b64):
    response = requests.post(
        owt_server.url,
        json={"code": "def run(**kw):\n    return kw\n", "kwargs_b64": kwargs_b64},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "kwargs_not_an_object"
    assert "kwargs must be an object" in body["message"]


def test_kwargs_as_a_json_list_in_the_body_is_a_400(owt_server):
    response = requests.post(
        owt_server.url,
        json={"code": "def run(**kw):\n    return kw\n", "kwargs": [1, 2]},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "kwargs_not_an_object"


SLEEPER = (
    "import time\ndef run(seconds):\n    time.sleep(seconds)\n    return 'slept'\n"
)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_kwargs_expressions_never_run_outside_a_concurrency_slot(tmp_path, executor):
    args = ["--max-concurrency", "2"]
    if executor == "process":
        args += ["--executor", "process", "--workers", "1"]
    markers = tmp_path / "markers"
    markers.mkdir()
    with running_owt(*args, log_dir=tmp_path) as server:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            busy = [
                pool.submit(server.post, SLEEPER, {"seconds": 4}, timeout=30)
                for _ in range(2)
            ]
            time.sleep(1.5)  # both slots are taken now
            refused = []
            for _ in range(8):
                marker = markers / uuid.uuid4().hex
                expression = f"{{'n': open({str(marker)!r}, 'w').write('ran')}}"
                refused.append(
                    requests.post(
                        server.url,
                        json={
                            "code": "def run(n):\n    return n\n",
                            "kwargs_b64": b64(expression),
                        },
                        timeout=30,
                    )
                )
            assert [r.result().text for r in busy] == ["slept", "slept"]
    assert [r.status_code for r in refused] == [503] * 8
    assert list(markers.iterdir()) == []
