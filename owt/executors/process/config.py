"""The process executor's settings, read from the server's options."""

from __future__ import annotations

import dataclasses
import os
import shlex
import typing as t

if t.TYPE_CHECKING:
    from owt.options import ServeOptions

#: How long a request waits for a worker that is (re)starting.
START_WAIT_S = 60.0
#: How long a new worker may take to import owt and say it is ready.
HANDSHAKE_S = 60.0
#: How long a worker that was asked to stop may take before it is killed.
STOP_WAIT_S = 2.0


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    """What the supervisor needs to know, checked once at start."""

    workers: int
    envs: tuple[dict[str, str], ...]
    #: Calls one worker may run at once (0: no limit).
    max_concurrency: int
    timeout: float | None
    grace: float


def parse_worker_env(entry: str) -> dict[str, str]:
    """One ``--worker-env`` value: ``NAME=VALUE``, or several separated by
    spaces (shell quoting applies), all for the same worker.

    :raises ValueError: if an item is not ``NAME=VALUE``.
    """
    env: dict[str, str] = {}
    for item in shlex.split(entry):
        name, sep, value = item.partition("=")
        if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
            raise ValueError(
                f"--worker-env takes NAME=VALUE (e.g. CUDA_VISIBLE_DEVICES=0), "
                f"not {item!r}."
            )
        env[name] = value
    return env


def pool_config(options: ServeOptions) -> PoolConfig:
    """Read the process executor's settings from ``options``.

    :raises ValueError: for an inconsistent combination.
    """
    entries = tuple(getattr(options, "worker_env", ()) or ())
    envs = [parse_worker_env(entry) for entry in entries]
    workers = int(getattr(options, "workers", 0) or 0) or max(1, len(envs))
    if workers < 1:
        raise ValueError("--workers must be at least 1.")
    if len(envs) > workers:
        raise ValueError(
            f"{len(envs)} --worker-env values for {workers} workers: give one per "
            "worker, in order (or raise --workers)."
        )
    envs += [{} for _ in range(workers - len(envs))]
    timeout = getattr(options, "timeout", None)
    grace = float(getattr(options, "grace", 3.0))
    if timeout is not None and timeout <= 0:
        raise ValueError("--timeout must be a positive number of seconds.")
    if grace < 0:
        raise ValueError("--grace must not be negative.")
    return PoolConfig(
        workers=workers,
        envs=tuple(envs),
        max_concurrency=max(0, int(options.max_concurrency or 0)),
        timeout=timeout,
        grace=grace,
    )


def owt_import_root() -> str:
    """The directory holding the ``owt`` package, so workers import the same."""
    import owt

    return os.path.dirname(os.path.dirname(os.path.abspath(owt.__file__)))
