"""Fixtures and helpers for the attack and abuse tests (issue 7).

Every test here talks to a real ``owt serve`` over loopback. Adaptors that
must *not* run leave a marker file when they do, so "nothing ran" is checked
on the disk, not inferred from a status code.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
import requests

from tests.owtserver import OwtProcess
from tests.owtserver import running_owt

#: Error kinds of adaptor failures, which carry type/traceback/stdout/stderr.
ADAPTOR_KINDS = ("adaptor_error", "bad_adaptor_result")

OK_CODE = "def run(name='owt'):\n    return f'still serving {name}'\n"


def marker_code(directory: Path) -> str:
    """Adaptor code that records that it ran: a file named by ``name``."""
    return (
        "import pathlib\n"
        "def run(name='ran'):\n"
        f"    pathlib.Path({str(directory)!r}, name).write_text('ran')\n"
        "    return 'ran ' + name\n"
    )


def markers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def assert_error_shape(
    response: requests.Response,
    status: int,
    kind: str | None = None,
    *,
    adaptor: bool | None = None,
    tracebacks: bool = True,
) -> dict[str, t.Any]:
    """Check the one JSON error shape owt answers every error with.

    ``error`` (a stable kind), ``message``, ``request_id`` equal to the
    ``X-Request-Id`` header; adaptor failures also carry ``stdout`` and
    ``stderr``, and those that raised carry ``type`` and ``traceback``
    (unless hidden with ``--hide-tracebacks``).
    """
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"]
    assert body["error"].replace("_", "").isalnum()
    if kind is not None:
        assert body["error"] == kind, body
    assert isinstance(body.get("message"), str) and body["message"].strip()
    request_id = response.headers.get("X-Request-Id")
    assert request_id, "every response carries X-Request-Id"
    assert body.get("request_id") == request_id
    is_adaptor = body["error"] in ADAPTOR_KINDS
    if adaptor is not None:
        assert is_adaptor == adaptor, body
    if is_adaptor:
        # What the adaptor printed while handling this request comes back.
        for field in ("stdout", "stderr"):
            assert isinstance(body.get(field), str), (field, body)
    if body["error"] == "adaptor_error":
        # It raised: which exception, and where (unless hidden).
        assert isinstance(body.get("type"), str) and body["type"], body
        if tracebacks:
            assert "Traceback" in body.get("traceback", ""), body
        else:
            assert "traceback" not in body
    return body


def still_serves(server: OwtProcess) -> None:
    """A normal request right after a hostile one must still succeed."""
    assert server.alive(), server.output()[-2000:]
    response = server.post(OK_CODE, {"name": "after"}, timeout=15)
    assert response.status_code == 200, response.text
    assert response.text == "still serving after"


def proc_status(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` figure in kB (VmRSS, VmHWM...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def jsonable(value: t.Any) -> str:
    return json.dumps(value)


@pytest.fixture(scope="module")
def owt(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[OwtProcess]:
    """A default ``owt serve`` shared by one test module."""
    logs = tmp_path_factory.mktemp("owt-logs")
    with running_owt(log_dir=logs) as server:
        yield server


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "markers"
    directory.mkdir()
    return directory
