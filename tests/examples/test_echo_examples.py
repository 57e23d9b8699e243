"""example/echo and example/summat: each script run as the README runs it."""

from __future__ import annotations

import os

import pytest

from tests.examples.conftest import run_bash
from tests.owtserver import REPO

ECHO_SCRIPTS = ("echo_script.sh", "echo_kwargs.sh", "echo_request.sh")


@pytest.mark.parametrize("name", ECHO_SCRIPTS)
def test_echo_scripts_are_executable_bash_scripts(name):
    path = REPO / "example" / "echo" / name
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env bash\n")


def test_echo_script_says_hello(base_url):
    done = run_bash(f"./example/echo/echo_script.sh {base_url}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello, owt!"


def test_echo_kwargs_says_which_server_answered(example_server, base_url):
    done = run_bash(f"./example/echo/echo_kwargs.sh {base_url}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Hello, owt, from 127.0.0.1:{example_server.port}!"


def test_echo_request_by_get_says_the_same(example_server, base_url):
    done = run_bash(f"./example/echo/echo_request.sh {base_url}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Hello, owt, from 127.0.0.1:{example_server.port}!"


def test_echo_scripts_work_from_another_directory(example_server, base_url, tmp_path):
    done = run_bash(f"{REPO}/example/echo/echo_kwargs.sh {base_url}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Hello, owt, from")


def test_echo_script_fails_loudly_without_a_server():
    done = run_bash("./example/echo/echo_script.sh http://127.0.0.1:9")
    assert done.returncode != 0
    assert "Failed to connect" in done.stderr or "Couldn't connect" in done.stderr


def test_tldr_simple_sh_returns_its_own_text_upper_cased(base_url):
    done = run_bash(f"./example/summat/simple.sh {base_url}")
    assert done.returncode == 0, done.stderr
    source = (REPO / "example" / "summat" / "simple.sh").read_bytes()
    assert done.stdout == str(source).upper()
    assert done.stdout.startswith("B'#!/USR/BIN/ENV BASH\\N# EXAMPLE/SUMMAT/SIMPLE.SH")
