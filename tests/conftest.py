"""Shared fixtures: a real owt server on a loopback port, and the owt app
in process (``app``, ``client``) for tests that need no server."""

from __future__ import annotations

import os
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.owtserver import OwtProcess
from tests.owtserver import running_owt


@pytest.fixture(scope="session", autouse=True)
def adaptors_dir_of_the_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[None]:
    """Servers the tests start keep registered adaptors in a temporary
    directory, not in the user's data directory."""
    before = os.environ.get("OWT_ADAPTORS_DIR")
    os.environ["OWT_ADAPTORS_DIR"] = str(tmp_path_factory.mktemp("adaptors"))
    yield
    if before is None:
        os.environ.pop("OWT_ADAPTORS_DIR", None)
    else:
        os.environ["OWT_ADAPTORS_DIR"] = before


@pytest.fixture(scope="session")
def owt_server() -> t.Iterator[OwtProcess]:
    """One ``owt serve`` with default options, shared by the session."""
    with running_owt() as server:
        yield server


@pytest.fixture
def app() -> Flask:
    """A fresh owt app with default options (its own cache and warm code)."""
    from owt.options import ServeOptions
    from owt.server import create_app

    return create_app(ServeOptions())


class ReadingClient(FlaskClient):
    """A test client that reads and closes every response, as a server does
    (closing a response gives back its --max-concurrency slot)."""

    def open(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``: requests go through the whole app, no server."""
    app.test_client_class = ReadingClient
    return app.test_client()


def owt_body(
    code: str, kwargs: dict[str, t.Any] | None = None, **fields: t.Any
) -> dict[str, t.Any]:
    """A JSON request body for ``code`` called with ``kwargs``, plus any other
    protocol ``fields`` (``use_cache=True``, ``pin=True``, ``fn_name=...``)."""
    return {"code": code, "kwargs": {} if kwargs is None else kwargs, **fields}
