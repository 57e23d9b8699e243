"""Fixtures for running the scripts in example/ the way the README runs them.

One ``owt serve`` from the repository root, on port 9876 (the scripts'
default) when it and the five ports after it are free, else on another run
of six free ports: the meta examples start inner servers on the next ports.
Scripts run with ``bash`` from the repository root, with this venv's ``owt``
first on PATH.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.owtserver import REPO
from tests.owtserver import OwtProcess
from tests.owtserver import free_port
from tests.owtserver import running_owt

#: The scripts' default port, and how many ports after it the meta examples use.
DEFAULT_PORT = 9876
INNER_LAYERS = 5


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``, so a server can bind it.

    With SO_REUSEADDR, as servers bind: connections of a stopped server that
    linger in TIME_WAIT don't count, a listening socket does.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_run(length: int) -> int:
    """A port P such that P .. P+length-1 are all free, 9876 if it qualifies."""
    candidates = [DEFAULT_PORT] + [free_port() for _ in range(50)]
    for base in candidates:
        if base + length < 65536 and all(
            port_is_free(p) for p in range(base, base + length)
        ):
            return base
    raise RuntimeError(f"no run of {length} free ports found on 127.0.0.1")


def script_env() -> dict[str, str]:
    """The environment scripts run in: this venv's bin first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    for name in ("OWT_ADDRESS", "OWT_PORT", "OWT_AUTH", "OWT_URL"):
        env.pop(name, None)
    return env


def run_bash(
    command: str, timeout: float = 120, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``bash -c`` from the repository root."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="package")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[OwtProcess]:
    """``owt serve`` from the repo root, with ports free above it for meta."""
    port = free_port_run(INNER_LAYERS + 1)
    logs = tmp_path_factory.mktemp("owt-example-logs")
    with running_owt(port=port, log_dir=logs) as server:
        yield server


@pytest.fixture(scope="package")
def base_url(example_server: OwtProcess) -> str:
    """The server's URL as the README writes it (localhost, not 127.0.0.1)."""
    return f"http://localhost:{example_server.port}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> t.Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item (``item.rep_call``), so
    fixtures can tell in teardown whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
