"""``owt serve`` options and their environment variables."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import requests
from click.testing import CliRunner

from owt.cli import main
from tests.owtserver import REPO
from tests.owtserver import fields
from tests.owtserver import free_port
from tests.owtserver import wait_until_up

HELLO = "def run():\n    return f'{args.address}:{args.port}'\n"


def test_environment_variables_configure_serve():
    port = free_port()
    digest = hashlib.sha256(b"pw").hexdigest()
    env = {
        **os.environ,
        "OWT_PORT": str(port),
        "OWT_ADDRESS": "127.0.0.1",
        "OWT_AUTH": f"me:{digest}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "owt", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, 20)
        assert requests.get(url, params=fields(HELLO), timeout=10).status_code == 401
        r = requests.get(url, params=fields(HELLO), auth=("me", "pw"), timeout=10)
        assert r.text == f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"Owt serving on 127.0.0.1:{port}" in out


def test_serve_help_lists_every_option_and_warns():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--address", "--port", "--auth", "--allow-origin", "-v"):
        assert option in result.output
    assert "OWT_" in result.output
    assert "with your rights" in result.output


def test_the_options_document_is_generated_from_the_declaration():
    # docs/options.org is the one table of owt serve's options; it must say
    # what the code declares (regenerate: python -m owt.options).
    from owt.options import options_document

    document = REPO / "docs" / "options.org"
    assert document.read_text(encoding="utf-8") == options_document()


def test_every_serve_option_is_documented():
    text = (REPO / "docs" / "options.org").read_text(encoding="utf-8")
    serve = main.commands["serve"]
    missing = [
        opt
        for param in serve.params
        for opt in param.opts
        if opt.startswith("--") and opt != "--help" and f"={opt}" not in text
    ]
    assert missing == []
    for param in serve.params:
        if param.envvar:
            assert f"={param.envvar}=" in text


def test_the_license_is_an_spdx_expression():
    # setuptools deprecated the ``license = {text = ...}`` table (an error
    # from 2027); an SPDX string needs setuptools 77 or later.
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
