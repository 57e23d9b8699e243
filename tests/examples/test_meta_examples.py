"""example/meta: owt inside owt, one to five layers deep, leaving nothing behind.

Each layer starts the next ``owt serve`` on the next port, waits until it
answers, hands it the payload and stops it. After every run the test checks
that no inner server process is left and no inner port is still bound.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.examples.conftest import INNER_LAYERS
from tests.examples.conftest import port_is_free
from tests.examples.conftest import run_bash
from tests.owtserver import REPO
from tests.owtserver import b64


def owt_serve_processes(ports: range) -> list[str]:
    """Command lines of live ``owt serve`` processes on any of ``ports``."""
    wanted = {str(p) for p in ports}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in argv if w]
        if "owt" in words and "serve" in words and "--port" in words:
            port = words[words.index("--port") + 1 :][:1]
            if port and port[0] in wanted:
                found.append(" ".join(words))
    return found


def assert_nothing_left(server):
    inner = range(server.port + 1, server.port + 1 + INNER_LAYERS)
    assert owt_serve_processes(inner) == []
    assert [p for p in inner if not port_is_free(p)] == []


def test_meta_scripts_are_executable_bash_scripts():
    for name in ("bootstrap.sh", "layers.sh"):
        path = REPO / "example" / "meta" / name
        assert os.access(path, os.X_OK)
        assert path.read_text().startswith("#!/usr/bin/env bash\n")


def test_owt_in_owt_answers_from_the_next_port(example_server):
    port = example_server.port
    # The README's snippet: source bootstrap.sh, build the command, run it.
    script = f"""
source "example/meta/bootstrap.sh"
CODE_B64=$(cat example/echo/echo.py | base64 -w 0)
KWARGS_B64=$(echo "{{'name': 'owt-inside-owt'}}" | base64 -w 0)
CMD=$(owtInOwt http://localhost {port} "$CODE_B64" "$KWARGS_B64")
echo "Result:"
bash -c "$CMD"
"""
    done = run_bash(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Result:\nHello, owt-inside-owt, from 127.0.0.1:{port + 1}!"
    assert_nothing_left(example_server)


def test_five_layers_each_answer_from_one_port_further(example_server):
    port = example_server.port
    done = run_bash(f"./example/meta/layers.sh 5 {port}", timeout=300)
    assert done.returncode == 0, done.stderr
    expected = []
    name = "owt"
    for layer in range(1, 6):
        name += "-inside-owt"
        expected += [
            f"layer {layer}: {name}",
            f"Result: Hello, {name}, from 127.0.0.1:{port + layer}!",
        ]
    assert done.stdout.splitlines() == expected
    assert_nothing_left(example_server)


def test_bootstrap_py_sent_by_post(example_server):
    kwargs = {
        "payload_code_b64": b64((REPO / "example/echo/echo.py").read_text()),
        "payload_kwargs_b64": b64("{'name': 'deep'}"),
    }
    code = (REPO / "example/meta/bootstrap.py").read_text()
    r = example_server.post(code, kwargs, timeout=120)
    assert r.status_code == 200, r.text
    assert r.text == f"Hello, deep, from 127.0.0.1:{example_server.port + 1}!"
    assert_nothing_left(example_server)


def test_a_taken_inner_port_is_reported_and_nothing_is_left(example_server):
    taken = example_server.port + 1
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", taken))
    blocker.listen()
    try:
        done = run_bash(
            "source example/meta/bootstrap.sh && "
            f"CMD=$(owtInOwt http://localhost {example_server.port} "
            f'"{b64("def run(): return 1")}" "{b64("{}")}") && bash -c "$CMD"'
        )
    finally:
        blocker.close()
    assert done.returncode == 0, done.stderr
    assert "adaptor_error" in done.stdout
    assert f"port {taken} is taken" in done.stdout
    assert_nothing_left(example_server)


@pytest.mark.parametrize("layers", [0])
def test_layers_sh_with_no_layers_prints_nothing(example_server, layers):
    done = run_bash(f"./example/meta/layers.sh {layers} {example_server.port}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_layers_sh_stops_at_the_first_failure():
    done = run_bash("./example/meta/layers.sh 2 9")  # nothing listens on port 9
    assert done.returncode != 0
    assert done.stdout == "layer 1: owt-inside-owt\n"
