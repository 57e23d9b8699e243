"""clients/sh/owt.sh: owt_call with curl and base64, in bash and in POSIX sh (dash)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from tests.owtserver import REPO
from tests.owtserver import running_owt

OWT_SH = REPO / "clients" / "sh" / "owt.sh"
UNICODE = "こんにちは 🌍"
HELLO = "def run(name):\n    return f'Hello, {name}!'\n"
SHELLS = [shell for shell in ("bash", "sh") if shutil.which(shell)]


def owt_call(shell, *args, stdin=None, env=None):
    """Source owt.sh in ``shell`` and run ``owt_call ARGS``."""
    script = '. "$0"; owt_call "$@"'
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OWT_")}
    return subprocess.run(
        [shell, "-c", script, str(OWT_SH), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**clean, **(env or {})},
    )


@pytest.fixture
def hello_file(tmp_path):
    path = tmp_path / "hello.py"
    path.write_text(HELLO, encoding="utf-8")
    return str(path)


def test_both_shells_are_here():
    assert SHELLS == ["bash", "sh"]


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_runs_a_file_with_json_kwargs(owt_server, shell, hello_file):
    done = owt_call(shell, owt_server.url + "/hello", hello_file, '{"name": "owt"}')
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello, owt!"


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_round_trips_unicode(owt_server, shell, hello_file):
    kwargs = json.dumps({"name": UNICODE}, ensure_ascii=False)
    done = owt_call(shell, owt_server.url, hello_file, kwargs)
    assert done.stdout.decode() == f"Hello, {UNICODE}!"


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_reads_code_from_stdin_and_takes_extra_fields(owt_server, shell):
    code = b"def run():\n    return 'run'\n\ndef main(x):\n    return f'main {x}'\n"
    done = owt_call(
        shell, owt_server.url, "-", "{'x': 2 ** 3}", '{"fn_name": "main"}', stdin=code
    )
    assert done.stdout == b"main 8", done.stderr
    plain = owt_call(shell, owt_server.url, "-", stdin=code)
    assert plain.stdout == b"run"


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_sends_a_large_file(owt_server, shell, tmp_path):
    path = tmp_path / "big.py"
    path.write_text("def run():\n    return 'big'\n" + "# padding\n" * 50_000)
    done = owt_call(shell, owt_server.url, str(path))
    assert done.stdout == b"big", done.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_fails_with_the_servers_error(owt_server, shell):
    done = owt_call(shell, owt_server.url, "-", stdin=b"def run():\n    return 1/0\n")
    assert done.returncode == 22
    body = json.loads(done.stdout)
    assert body["error"] == "adaptor_error"
    assert "ZeroDivisionError" in body["traceback"]
    assert b"answered with an error" in done.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_usage_errors(shell, tmp_path):
    assert owt_call(shell, "http://127.0.0.1:1").returncode == 2
    missing = owt_call(shell, "http://127.0.0.1:1", str(tmp_path / "nope.py"))
    assert missing.returncode == 2
    assert b"cannot read" in missing.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_owt_call_streams_sse(owt_server, shell):
    code = (
        b"def run():\n"
        b"    return iter(['data: 1\\n\\n', 'data: 2\\n\\n']), "
        b"{'Content-Type': 'text/event-stream'}\n"
    )
    done = owt_call(shell, owt_server.url, "-", stdin=code)
    assert done.stdout == b"data: 1\n\ndata: 2\n\n"


def test_owt_call_sends_auth_from_the_environment(hello_file):
    digest = hashlib.sha256(b"secret").hexdigest()
    with running_owt("--auth", f"me:{digest}") as server:
        refused = owt_call("sh", server.url, hello_file, '{"name": "x"}')
        assert refused.returncode == 22
        assert json.loads(refused.stdout)["error"] == "unauthorized"
        env = {"OWT_CALL_AUTH": "me:secret"}
        done = owt_call("sh", server.url, hello_file, '{"name": "me"}', env=env)
        assert done.stdout == b"Hello, me!", done.stderr
