"""Keep track of every process owt starts, so that stopping owt stops them all.

Adaptors may start processes of their own (the spec's meta example starts a
whole second owt server), and those may start more, or leave their session
with ``setsid``. Linux lets one process adopt every orphan below it
(:func:`become_subreaper`), so the process that serves owt can find and stop
all of them when it stops (:func:`kill_descendants`). A process told to
:func:`die_with_parent` is killed by the kernel if its parent goes first.

Linux only; elsewhere these are no-ops and ``descendants`` finds nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants instead of letting init have them."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``signum`` to this process when its parent exits."""
    return _prctl(_PR_SET_PDEATHSIG, signum)


def _parents() -> dict[int, int]:
    """Every process's parent pid, read from ``/proc``."""
    parents: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return parents
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        parents[int(name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """The pids of every live process below ``pid``, children first."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    pending = list(children.get(pid, ()))
    while pending:
        current = pending.pop(0)
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def _reap_children() -> None:
    """Collect the exit status of any child that has ended (zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(seconds: float = 1.0) -> list[int]:
    """SIGKILL every process below this one, and reap those it adopted.

    Repeats until none is left or ``seconds`` pass, so that processes forked
    while it works (and orphans re-parented to a subreaper) are caught too.
    Returns the pids it signalled.
    """
    me = os.getpid()
    deadline = time.monotonic() + seconds
    killed: list[int] = []
    while True:
        live = descendants(me)
        for pid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed.extend(pid for pid in live if pid not in killed)
        _reap_children()
        if not live or time.monotonic() >= deadline:
            return killed
        time.sleep(0.02)
