"""Shared fixtures: a real owt server on a loopback port."""

from __future__ import annotations

import typing as t

import pytest

from tests.owtserver import OwtProcess
from tests.owtserver import running_owt


@pytest.fixture(scope="session")
def owt_server() -> t.Iterator[OwtProcess]:
    """One ``owt serve`` with default options, shared by the session."""
    with running_owt() as server:
        yield server
