"""owt encode / call / hash-password: click's runner, then real processes."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shlex
import subprocess
import sys
import time
import urllib.parse

import pytest
from click.testing import CliRunner

from owt import cli_tools
from owt.cli_tools import call_command
from owt.cli_tools import encode_command
from owt.cli_tools import hash_password_command
from owt.codec import MAX_REQUEST_TARGET
from owt.codec import decode_code
from owt.codec import decode_kwargs
from tests.owtserver import REPO
from tests.owtserver import free_port
from tests.owtserver import running_owt

UNICODE = "こんにちは 🌍"
HELLO = "def run(name):\n    return f'Hello, {name}!'\n"
ECHO = "def run(**kwargs):\n    return kwargs\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def hello_file(tmp_path):
    path = tmp_path / "hello.py"
    path.write_text(HELLO, encoding="utf-8")
    return path


@pytest.fixture
def write(tmp_path):
    def write(source, name="adaptor.py"):
        path = tmp_path / name
        path.write_text(source, encoding="utf-8")
        return str(path)

    return write


def owt(*args, **kwargs):
    """Run ``python -m owt ARGS`` as a real process."""
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("capture_output", True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWT_")}
    env.update({"PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})})
    return subprocess.run(
        [sys.executable, "-m", "owt", *args], cwd=REPO, env=env, **kwargs
    )


# --- owt encode, in process ---------------------------------------------------


def encode_json(runner, *args, input=None):
    result = runner.invoke(encode_command, [*args, "--format", "json"], input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_encode_json_carries_the_file_and_typed_arguments(runner, hello_file):
    fields = encode_json(
        runner,
        str(hello_file),
        "n=3",
        "flag=true",
        "xs=[1,2]",
        "name=owt",
        'quoted="42"',
        f"greeting={UNICODE}",
    )
    assert decode_code(fields["code_b64"]) == HELLO
    assert decode_kwargs(fields["kwargs_b64"]) == {
        "n": 3,
        "flag": True,
        "xs": [1, 2],
        "name": "owt",
        "quoted": "42",
        "greeting": UNICODE,
    }
    assert set(fields) == {"code_b64", "kwargs_b64"}


def test_encode_reads_code_from_stdin(runner):
    fields = encode_json(runner, "-", input=HELLO)
    assert decode_code(fields["code_b64"]) == HELLO
    assert "kwargs_b64" not in fields


def test_encode_passes_a_python_kwargs_expression_for_the_server(runner, hello_file):
    fields = encode_json(runner, str(hello_file), "--kwargs", "{'n': 2 ** 3}", "m=1")
    assert decode_kwargs(fields["kwargs_b64"]) == {"n": 8, "m": 1}


def test_encode_accepts_a_dict_argument_as_the_spec_todo_writes_it(runner, hello_file):
    fields = encode_json(runner, str(hello_file), "{'name': 'owt'}")
    assert decode_kwargs(fields["kwargs_b64"]) == {"name": "owt"}


def test_encode_options_become_fields(runner, hello_file):
    fields = encode_json(
        runner,
        str(hello_file),
        "--fn",
        "main",
        "--cache",
        "--cache-kwargs",
        "--cache-key",
        "k1",
        "--pin",
        "--timeout",
        "2.5",
    )
    assert {k: v for k, v in fields.items() if k != "code_b64"} == {
        "fn_name": "main",
        "use_cache": True,
        "cache_kwargs": True,
        "cache_key_override": "k1",
        "pin": True,
        "timeout": 2.5,
    }


def test_encode_url_and_query_formats(runner, hello_file):
    result = runner.invoke(
        encode_command,
        [str(hello_file), f"name={UNICODE}", "--cache", "--format", "url"],
        env={"OWT_URL": "http://127.0.0.1:1234/hello"},
    )
    assert result.exit_code == 0, result.output
    url = urllib.parse.urlsplit(result.output.strip())
    assert (url.netloc, url.path) == ("127.0.0.1:1234", "/hello")
    query = urllib.parse.parse_qs(url.query)
    assert decode_code(query["code_b64"][0]) == HELLO
    assert decode_kwargs(query["kwargs_b64"][0]) == {"name": UNICODE}
    assert query["use_cache"] == ["true"]

    result = runner.invoke(encode_command, [str(hello_file), "--format", "query"])
    assert result.output.startswith("code_b64=")
    assert "://" not in result.output


def test_encode_curl_is_one_shell_command(runner, hello_file):
    result = runner.invoke(
        encode_command,
        [str(hello_file), "name=it's", "--url", "http://127.0.0.1:1/x", "--auth", "me"],
    )
    assert result.exit_code == 0, result.output
    words = shlex.split(result.output)
    assert words[0] == "curl"
    assert words[words.index("-u") + 1] == "me"
    assert words[-1] == "http://127.0.0.1:1/x"
    body = json.loads(words[words.index("--data-binary") + 1])
    assert decode_kwargs(body["kwargs_b64"]) == {"name": "it's"}


def test_encode_curl_get_uses_data_urlencode(runner, hello_file):
    result = runner.invoke(encode_command, [str(hello_file), "n=1", "--get"])
    words = shlex.split(result.output)
    assert "-G" in words
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "--data-urlencode"]
    assert [p.split("=", 1)[0] for p in pairs] == ["code_b64", "kwargs_b64"]


def test_encode_curl_sends_a_large_body_from_a_here_document(runner, write):
    path = write("def run():\n    return 1\n" + "# padding\n" * 20_000)
    result = runner.invoke(encode_command, [path])
    first, body, last = result.output.rstrip("\n").split("\n")
    assert first.endswith("<<'OWT_REQUEST_JSON'")
    assert last == "OWT_REQUEST_JSON"
    assert decode_code(json.loads(body)["code_b64"]).startswith("def run():")


@pytest.mark.parametrize("bad", ["novalue", "=3"])
def test_encode_refuses_malformed_assignments(runner, hello_file, bad):
    result = runner.invoke(encode_command, [str(hello_file), bad])
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_encode_refuses_two_sets_of_kwargs(runner, hello_file):
    result = runner.invoke(encode_command, [str(hello_file), "{}", "--kwargs", "{}"])
    assert result.exit_code == 2
    assert "second time" in result.output


def test_encode_refuses_a_file_that_is_not_utf8(runner, tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes("x = 'é'".encode("latin-1"))
    result = runner.invoke(encode_command, [str(path)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.output


def test_encode_reports_a_missing_file(runner):
    result = runner.invoke(encode_command, ["/nonexistent/adaptor.py"])
    assert result.exit_code == 2
    assert "/nonexistent/adaptor.py" in result.output


@pytest.mark.parametrize(
    "command", [encode_command, call_command, hash_password_command]
)
def test_every_command_has_help_with_an_example(runner, command):
    result = runner.invoke(command, ["--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "owt " in result.output


def test_the_owt_group_lists_the_commands(runner):
    from owt.cli import main

    result = runner.invoke(main, ["--help"])
    for name in ("encode", "call", "hash-password", "serve"):
        assert name in result.output


# --- owt hash-password --------------------------------------------------------


def test_hash_password_reads_stdin(runner):
    result = runner.invoke(hash_password_command, ["me"], input="pässwörd\n")
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256("pässwörd".encode()).hexdigest()
    assert result.output == f"me:{digest}\n"


def test_hash_password_prompts_at_a_terminal(runner, monkeypatch):
    monkeypatch.setattr(cli_tools, "_stdin_is_tty", lambda: True)
    result = runner.invoke(hash_password_command, [], input="me\nsecret\nsecret\n")
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == "me:" + hashlib.sha256(b"secret").hexdigest()
    assert "secret" not in result.output.replace(last, "")  # hidden input


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ([], "pw\n", "give USERNAME"),
        (["me"], "\n", "password is empty"),
        (["a:b"], "pw\n", "no colon"),
    ],
)
def test_hash_password_refuses_what_auth_cannot_use(runner, args, stdin, message):
    result = runner.invoke(hash_password_command, args, input=stdin)
    assert result.exit_code == 2
    assert message in result.output


# --- owt call, in process -----------------------------------------------------


def test_call_writes_the_answer(runner, owt_server, hello_file):
    result = runner.invoke(call_command, [owt_server.url, str(hello_file), "name=owt"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello, owt!"


def test_call_reports_a_server_error_on_stderr(runner, owt_server, write):
    path = write("def run():\n    return 1 / 0\n")
    result = runner.invoke(call_command, [owt_server.url, path])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "adaptor_error (HTTP 500)" in result.stderr
    assert "ZeroDivisionError" in result.stderr


# --- real processes against a live server -------------------------------------


def test_printed_curl_command_runs_in_bash_and_answers(owt_server, hello_file):
    for extra in ([], ["--get"]):
        encoded = owt(
            "encode",
            str(hello_file),
            f"name={UNICODE}",
            "--url",
            owt_server.url + "/hello",
            *extra,
        )
        assert encoded.returncode == 0, encoded.stderr
        ran = subprocess.run(
            ["bash", "-c", encoded.stdout], capture_output=True, timeout=60
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.decode() == f"Hello, {UNICODE}!"


def test_large_curl_command_runs_in_bash(owt_server, write):
    path = write("def run(n):\n    return n * 2\n" + "# padding\n" * 20_000)
    encoded = owt("encode", path, "n=21", "--url", owt_server.url)
    assert "<<'OWT_REQUEST_JSON'" in encoded.stdout.decode()
    # Too long for `bash -c`: fed to bash as a script, as `owt encode ... | sh` does.
    ran = subprocess.run(
        ["bash"], input=encoded.stdout, capture_output=True, timeout=60
    )
    assert ran.stdout == b"42", ran.stderr


def test_printed_url_works_with_curl(owt_server, hello_file):
    encoded = owt(
        "encode",
        str(hello_file),
        "name=url",
        "--format",
        "url",
        "--url",
        owt_server.url,
    )
    ran = subprocess.run(
        ["curl", "-sS", encoded.stdout.decode().strip()],
        capture_output=True,
        timeout=60,
    )
    assert ran.stdout == b"Hello, url!"


def test_printed_json_works_with_curl_json(owt_server, hello_file):
    encoded = owt("encode", str(hello_file), "name=json", "--format", "json")
    ran = subprocess.run(
        ["curl", "-sS", "--json", encoded.stdout.decode(), owt_server.url],
        capture_output=True,
        timeout=60,
    )
    assert ran.stdout == b"Hello, json!"


def test_call_process_writes_unicode_and_exits_zero(owt_server, hello_file):
    done = owt("call", owt_server.url, str(hello_file), f"name={UNICODE}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == f"Hello, {UNICODE}!"
    by_get = owt("call", "--get", owt_server.url, str(hello_file), "name=get")
    assert by_get.stdout == b"Hello, get!"


def test_call_reads_code_from_stdin(owt_server):
    done = owt("call", owt_server.url, "-", "n=4", input=ECHO.encode())
    assert json.loads(done.stdout) == {"n": 4}


def test_call_keeps_bytes_as_bytes(owt_server, write):
    path = write("def run():\n    return bytes(range(256)) * 4\n")
    done = owt("call", owt_server.url, path)
    assert done.returncode == 0
    assert done.stdout == bytes(range(256)) * 4


def test_call_streams_output_as_it_arrives(owt_server, write):
    path = write(
        "import time\n\n"
        "def run():\n"
        "    def lines():\n"
        "        yield 'first\\n'\n"
        "        time.sleep(2)\n"
        "        yield 'second\\n'\n"
        "    return lines()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "owt", "call", owt_server.url, path],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        started = time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no output within 15 s"
        first = os.read(proc.stdout.fileno(), 1024)
        first_at = time.monotonic() - started
        assert first == b"first\n"
        assert proc.poll() is None  # still running: the rest is to come
        rest = proc.stdout.read()
        total = time.monotonic() - started
        assert proc.wait(timeout=15) == 0
        assert rest == b"second\n"
        assert total - first_at > 1.5, (first_at, total)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_call_error_prints_message_and_traceback_and_exits_1(owt_server, write):
    path = write(
        "def helper():\n    raise KeyError('missing')\n\ndef run():\n"
        "    print('said before failing')\n    helper()\n"
    )
    done = owt("call", owt_server.url, path)
    assert done.returncode == 1
    assert done.stdout == b""
    err = done.stderr.decode()
    assert "adaptor_error (HTTP 500)" in err
    assert "KeyError: 'missing'" in err
    assert "in helper" in err  # the traceback, not only the message
    assert "request id:" in err


def test_call_syntax_error_exits_1_with_the_location(owt_server, write):
    done = owt("call", owt_server.url, write("def run(:\n    pass\n"))
    assert done.returncode == 1
    assert "syntax_error (HTTP 400)" in done.stderr.decode()


def test_call_sse_error_mid_stream_exits_1_after_the_events(owt_server, write):
    path = write(
        "def run():\n"
        "    def events():\n"
        "        yield 'data: one\\n\\n'\n"
        "        raise RuntimeError('went wrong')\n"
        "    return events(), {'Content-Type': 'text/event-stream'}\n"
    )
    done = owt("call", owt_server.url, path)
    assert done.returncode == 1
    assert done.stdout.startswith(b"data: one\n\n")
    assert "went wrong" in done.stderr.decode()


def test_call_to_nothing_says_so(write):
    url = f"http://127.0.0.1:{free_port()}"
    done = owt("call", url, write(HELLO), "name=x")
    assert done.returncode == 1
    assert f"could not reach {url}" in done.stderr.decode()


def test_hash_password_output_is_what_serve_and_call_accept(write):
    made = owt("hash-password", "me", input="pässwörd 🔑\n".encode())
    assert made.returncode == 0, made.stderr
    with running_owt("--auth", made.stdout.decode().strip()) as server:
        path = write(HELLO)
        ok = owt("call", "--auth", "me:pässwörd 🔑", server.url, path, "name=in")
        assert ok.stdout == b"Hello, in!", ok.stderr
        by_env = owt(
            "call",
            server.url,
            path,
            "name=env",
            env={"OWT_CALL_AUTH": "me:pässwörd 🔑"},
        )
        assert by_env.stdout == b"Hello, env!", by_env.stderr
        wrong = owt("call", "--auth", "me:nope", server.url, path, "name=x")
        assert wrong.returncode == 1
        assert "unauthorized (HTTP 401)" in wrong.stderr.decode()


# --- the longest GET URL the server accepts ----------------------------------


def too_long(size):
    return (
        f"This URL's path and query string are {size:,} bytes, over the 65,534 "
        "bytes owt's HTTP front accepts on a request line; send the call by "
        "POST (JSON body) instead."
    )


@pytest.fixture
def big_hello(write):
    """Hello padded to about 48 KB, near the most source a GET URL can carry."""
    return write(HELLO + ("# " + "x" * 78 + "\n") * 590, "big.py")


def url_at(runner, base, path, size):
    """``base`` plus a path that makes path's URL target exactly ``size`` bytes."""
    args = [path, "name=big", "--format", "url", "--url", base + "/p"]
    short = runner.invoke(encode_command, args).output.strip()
    parts = urllib.parse.urlsplit(short)
    return base + "/p" + "a" * (size - len(parts.path) - 1 - len(parts.query))


def test_encode_url_just_under_the_cap_is_answered(runner, owt_server, big_hello):
    base = url_at(runner, owt_server.url, big_hello, MAX_REQUEST_TARGET)
    encoded = owt("encode", big_hello, "name=big", "--format", "url", "--url", base)
    assert encoded.returncode == 0, encoded.stderr
    url = encoded.stdout.decode().strip()
    assert len(url) - len(owt_server.url) == MAX_REQUEST_TARGET
    ran = subprocess.run(["curl", "-sS", url], capture_output=True, timeout=60)
    assert ran.stdout == b"Hello, big!", ran.stderr


def test_a_get_over_the_cap_is_refused_and_post_is_not(runner, owt_server, big_hello):
    base = url_at(runner, owt_server.url, big_hello, MAX_REQUEST_TARGET + 1)
    message = too_long(MAX_REQUEST_TARGET + 1)
    for extra in (["--format", "url"], ["--get"]):
        args = [big_hello, "name=big", "--url", base, *extra]
        result = runner.invoke(encode_command, args)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr == f"Error: {message}\n"
    refused = runner.invoke(call_command, ["--get", base, big_hello, "name=big"])
    assert (refused.exit_code, refused.stderr) == (1, f"owt: {message}\n")
    for extra in ([], ["--format", "json"]):
        result = runner.invoke(encode_command, [big_hello, "--url", base, *extra])
        assert result.exit_code == 0, result.output
    posted = runner.invoke(call_command, [base, big_hello, "name=post"])
    assert (posted.exit_code, posted.stdout) == (0, "Hello, post!")


def readme_text():
    texts = [REPO / "README.org", REPO / "docs" / "clients.org"]
    return "\n".join(p.read_text(encoding="utf-8") for p in texts if p.exists())


@pytest.mark.parametrize(
    "command", [encode_command, call_command, hash_password_command]
)
def test_every_option_is_in_the_readme(command):
    text = readme_text()
    assert f"owt {command.name}" in text
    for param in command.params:
        for name in param.opts + param.secondary_opts:
            if name.startswith("--") and name != "--help":
                assert name in text, f"{command.name} {name} is not documented"
