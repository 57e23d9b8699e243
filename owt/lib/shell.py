"""Run programs from an adaptor, with a time limit and errors that say what failed.

``os.popen`` runs ``/bin/sh``, where ``source`` and ``<<<`` don't exist on
Debian (dash), and it ignores failures. These helpers run ``bash`` or a
program directly and raise :class:`CommandFailed` with its stderr::

    from owt.lib.shell import bash, run_command

    wav = run_command(["espeak-ng", "--stdout", "Hello"])
    text = bash("source ./env.sh && echo $NAME")
"""

from __future__ import annotations

import collections.abc as cabc
import os
import shutil
import subprocess

from owt.errors import CommandFailed
from owt.errors import CommandNotFound

#: Default time limit, in seconds, for one command.
DEFAULT_TIMEOUT = 120.0


def require(program: str, install_hint: str | None = None) -> str:
    """The path of ``program``, or :class:`CommandNotFound` saying how to get it."""
    path = shutil.which(program)
    if path is None:
        hint = f" Install it: {install_hint}." if install_hint else ""
        raise CommandNotFound(f"{program!r} is not on this machine's PATH.{hint}")
    return path


def run_command(
    argv: cabc.Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    env: cabc.Mapping[str, str] | None = None,
) -> bytes:
    """Run ``argv`` (no shell) and return its stdout.

    :param stdin: bytes to feed it; it gets no stdin otherwise.
    :param env: variables added to this process's environment.
    :raises CommandNotFound: if the program does not exist.
    :raises CommandFailed: on a non-zero exit or a time-out, with its stderr.
    """
    full_env = {**os.environ, **env} if env else None
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            env=full_env,
            check=False,
        )
    except FileNotFoundError:
        raise CommandNotFound(f"{argv[0]!r} is not on this machine's PATH.") from None
    except subprocess.TimeoutExpired:
        raise CommandFailed(
            f"{_show(argv)} did not finish within {timeout:g} s and was stopped."
        ) from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        raise CommandFailed(
            f"{_show(argv)} exited with status {done.returncode}: "
            f"{stderr[-2000:] or '(no error output)'}",
            returncode=done.returncode,
        )
    return done.stdout


def bash(
    script: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    env: cabc.Mapping[str, str] | None = None,
) -> str:
    """Run ``script`` with ``bash -c`` and return its stdout as text.

    :raises CommandFailed: on a non-zero exit or a time-out.
    """
    out = run_command(["bash", "-c", script], timeout=timeout, cwd=cwd, env=env)
    return out.decode("utf-8", errors="replace")


def _show(argv: cabc.Sequence[str]) -> str:
    shown = " ".join(argv)
    return repr(shown if len(shown) < 120 else shown[:117] + "...")
