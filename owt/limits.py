"""Limits that keep one caller from exhausting the server (issue 7).

- :class:`ConcurrencyLimit`: at most N adaptors run at once
  (``--max-concurrency``); a request beyond that is answered 503 with
  ``Retry-After`` at once instead of queueing another thread, or another copy
  of a model in GPU memory. A streamed response holds its slot until the
  stream ends.
- :func:`check_nesting`: decoded arguments may nest at most
  ``--max-kwargs-depth`` levels, so a request can't hand an adaptor (or owt's
  own JSON encoder) a structure that blows the stack.

No Flask here.
"""

from __future__ import annotations

import threading
import typing as t

from owt.errors import KwargsTooDeep
from owt.errors import Overloaded


class ConcurrencyLimit:
    """A counter of running adaptors that refuses, rather than waits, when full.

    ``limit <= 0`` means no limit.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    def acquire(self) -> t.Callable[[], None]:
        """Take a slot, returning the function that gives it back (once).

        :raises Overloaded: when every slot is taken.
        """
        with self._lock:
            if 0 < self.limit <= self._running:
                raise Overloaded(
                    f"owt is already running {self.limit} adaptors, its limit "
                    "(--max-concurrency); retry shortly."
                )
            self._running += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._running -= 1

        return release


_CONTAINERS = (dict, list, tuple, set, frozenset)


def nesting_depth(value: t.Any, stop_at: int) -> int:
    """How deeply ``value`` nests dicts, lists, tuples and sets.

    A scalar is depth 0, ``[1]`` is 1, ``{"a": [1]}`` is 2. Iterative, so a
    hostile value can't exhaust the stack; counting stops past ``stop_at``.
    """
    deepest = 0
    pending: list[tuple[t.Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: t.Iterable[t.Any] = list(item.keys()) + list(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        else:
            continue
        if id(item) in seen:
            continue  # a cycle (possible from a Python expression)
        seen.add(id(item))
        depth += 1
        deepest = max(deepest, depth)
        if deepest > stop_at:
            return deepest
        pending.extend((child, depth) for child in children)
    return deepest


def check_nesting(arguments: t.Any, max_depth: int) -> None:
    """Refuse arguments nested deeper than ``max_depth`` (0 or less: no limit).

    :raises KwargsTooDeep: naming the limit and the option that sets it.
    """
    if max_depth <= 0:
        return
    if isinstance(arguments, dict) and not any(
        isinstance(value, _CONTAINERS) for value in arguments.values()
    ):
        return  # flat keyword arguments, the common case
    # The top-level dict of keyword arguments doesn't count as nesting.
    depth = nesting_depth(arguments, max_depth + 1)
    if isinstance(arguments, dict):
        depth -= 1
    if depth > max_depth:
        raise KwargsTooDeep(
            f"The arguments nest more than {max_depth} levels deep "
            "(--max-kwargs-depth); flatten them."
        )
