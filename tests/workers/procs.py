"""Helpers for the process-executor tests: the workers endpoint, /proc."""

from __future__ import annotations

import os
import time
import typing as t

import requests

from tests.owtserver import OwtProcess

PROCESS = ("--executor", "process")


def workers(server: OwtProcess) -> list[dict[str, t.Any]]:
    """``GET /_owt/workers``: one dict per worker."""
    response = requests.get(server.url + "/_owt/workers", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["executor"] == "process"
    return t.cast(list[dict[str, t.Any]], body["workers"])


def wait_for_workers(server: OwtProcess, count: int, seconds: float = 30) -> list[dict]:
    """Wait until ``count`` workers are ready; return them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready = [w for w in workers(server) if w["state"] == "ready"]
        if len(ready) == count:
            return ready
        time.sleep(0.05)
    raise AssertionError(f"{count} workers not ready: {workers(server)}")


def pid_exists(pid: int) -> bool:
    """Whether a live (not zombie) process ``pid`` exists."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def processes_in_groups(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of ``groups``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, pgid = fields[0], int(fields[2])
        if pgid in groups and state != "Z":
            found.append(int(entry))
    return found
