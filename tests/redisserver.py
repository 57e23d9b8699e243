"""A real ``redis-server`` on a loopback port, for the tests and benchmarks
of the shared response cache. Nothing is saved to disk."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import typing as t
from pathlib import Path

import redis

from tests.owtserver import free_port


class RedisProcess:
    """One ``redis-server``; :meth:`stop` and :meth:`start` it again on the
    same port (to test owt riding out an outage)."""

    def __init__(
        self, workdir: Path, port: int | None = None, password: str | None = None
    ) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5
        )

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (scripts/test-all.sh installs it)"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--maxmemory",
                "64mb",
                "--maxmemory-policy",
                "volatile-lru",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def running_redis(
    workdir: Path, password: str | None = None
) -> t.Iterator[RedisProcess]:
    """A ``redis-server`` for the block, stopped after it."""
    server = RedisProcess(workdir, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
