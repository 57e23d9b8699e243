"""Fixtures for the process executor: real ``owt serve --executor process``.

``owt_server`` and ``server`` are overridden here, so the foundation, cache
and summat tests that ``test_acceptance.py`` takes over run against worker
processes instead of the inline executor.
"""

from __future__ import annotations

import typing as t

import pytest

from tests.owtserver import OwtProcess
from tests.owtserver import running_owt
from tests.workers.procs import PROCESS
from tests.workers.procs import wait_for_workers


@pytest.fixture(scope="module")
def owt_server() -> t.Iterator[OwtProcess]:
    """A process-mode server with two workers, shared by a module."""
    with running_owt(*PROCESS, "--workers", "2") as server:
        wait_for_workers(server, 2)
        yield server


@pytest.fixture(scope="module")
def server(owt_server: OwtProcess) -> OwtProcess:
    """The same, under the name the cache tests use."""
    return owt_server
