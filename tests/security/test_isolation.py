"""What one adaptor can and cannot do to the server and to other adaptors
(issue 7, "State isolation"; documented in README.org, "Security model")."""

from __future__ import annotations

import pytest

from tests.security.conftest import assert_error_shape
from tests.security.conftest import still_serves

#: A second adaptor that relies on everything an adaptor starts with.
USES_THE_SEEDS = """
import json
from owt.server import Server

def run(request, name='owt'):
    return {
        'hello': name,
        'json': json.dumps([1]),
        'path': request.path,
        'port': Server.sing().port,
        'pipe': pipe is not None,
        'args_port': args.port,
    }
"""


def check_seeds_work(server):
    response = server.post(USES_THE_SEEDS, {"name": "B"}, path="/other")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "hello": "B",
        "json": "[1]",
        "path": "/other",
        "port": server.port,
        "pipe": True,
        "args_port": server.port,
    }


def test_names_set_by_one_code_are_invisible_to_another(owt):
    writer = "secret = 'from A'\ndef run():\n    global counter\n    counter = 41\n    return 'set'\n"
    assert owt.post(writer).text == "set"
    reader = (
        "def run():\n"
        "    found = {n: n in globals() for n in ('secret', 'counter')}\n"
        "    import sys\n"
        "    found['in_builtins'] = hasattr(__builtins__, 'secret')\n"
        "    return found\n"
    )
    assert owt.post(reader).json() == {
        "secret": False,
        "counter": False,
        "in_builtins": False,
    }


def test_the_same_code_stays_warm_between_requests(owt):
    code = "calls = []\ndef run():\n    calls.append(1)\n    return len(calls)\n"
    first = int(owt.post(code).text)
    assert int(owt.post(code).text) == first + 1


@pytest.mark.parametrize(
    "rebinding",
    [
        "Server = None",
        "json = None",
        "request = None",
        "args = None",
        "pipe = None",
        "__builtins__ = {}",
        "from owt.server import *\nServer = None\nrequest = None",
        "import flask\nflask = None",
    ],
)
def test_rebinding_seeded_names_breaks_no_later_request(owt, rebinding):
    code = f"{rebinding}\ndef run():\n    return 'rebound'\n"
    response = owt.post(code)
    assert response.status_code in (200, 500), response.text
    check_seeds_work(owt)
    still_serves(owt)


@pytest.mark.parametrize(
    "module,name",
    [
        ("owt.server", "read_call"),
        ("owt.server", "create_app"),
        ("owt.server", "log"),
        ("owt.server", "time"),
        ("owt.server", "uuid"),
        ("owt.server", "request"),
        ("owt.server", "error_response"),
        ("owt.server", "Server"),
        ("owt.server", "args"),
        ("owt.server", "code_digest"),
        ("owt.executors.inline", "build_response"),
        ("owt.executors.inline", "flask_request"),
        ("owt.execute", "call_entrypoint"),
        ("owt.execute", "base_globals"),
        ("owt.request", "read_call"),
        ("owt.response", "to_json"),
        ("owt.response", "json"),
        ("owt.security", "hmac"),
        ("owt.codec", "decode_code"),
        ("owt.runtime", "Server"),
        ("owt.capture", "_local"),
        ("owt.limits", "check_nesting"),
    ],
)
@pytest.mark.parametrize("how", ["set", "delete"])
def test_rebinding_owts_own_module_names_is_refused(owt, module, name, how):
    action = f"m.{name} = None" if how == "set" else f"del m.{name}"
    code = (
        f"import importlib\n"
        f"def run():\n"
        f"    m = importlib.import_module({module!r})\n"
        f"    {action}\n"
        f"    return 'patched'\n"
    )
    body = assert_error_shape(owt.post(code), 500, "adaptor_error")
    assert body["type"] == "SealedModuleError"
    assert f"{module}.{name}" in body["message"]
    check_seeds_work(owt)
    still_serves(owt)


def test_every_name_of_owt_server_can_be_rebound_without_harm(owt):
    # The whole module, not a sample: nothing an adaptor sets on it sticks.
    code = (
        "import owt.server\n"
        "def run():\n"
        "    refused = []\n"
        "    for name in list(vars(owt.server)):\n"
        "        try:\n"
        "            setattr(owt.server, name, None)\n"
        "        except AttributeError:\n"
        "            refused.append(name)\n"
        "    return {'refused': len(refused), 'total': len(vars(owt.server))}\n"
    )
    body = owt.post(code).json()
    assert body["refused"] == body["total"]
    check_seeds_work(owt)
    still_serves(owt)


def test_an_adaptor_may_still_change_its_own_args_copy(owt):
    code = "def run():\n    args.port = 1\n    return args.port\n"
    assert owt.post(code).text == "1"
    check_seeds_work(owt)


def test_fn_name_cannot_reach_owts_functions(owt):
    for fn_name in ("pipe", "Server", "request", "args", "main", "create_app"):
        code = "from owt.server import *\ndef run():\n    return 'mine'\n"
        response = owt.post(code, fn_name=fn_name)
        assert_error_shape(response, 400, "entrypoint_not_found")
