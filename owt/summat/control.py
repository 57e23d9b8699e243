"""Control blocks: choose a branch, or run two branches on the same input.

A branch is a pipe, a block or a function (run as ``f(fn)``). It starts from
the state the block receives (last value and names), not from the request.
"""

from __future__ import annotations

import typing as t

from owt.summat.core import Block
from owt.summat.core import State
from owt.summat.core import run_located
from owt.summat.plumbing import Identity
from owt.summat.plumbing import Stage
from owt.summat.plumbing import as_block


class Cond(Block[t.Any, t.Any]):
    """``cond(then, otherwise)``: run ``then`` if the last value is truthy,
    else ``otherwise`` (by default: pass through). The chosen branch's
    output state, names included, carries on."""

    def __init__(self, then: Stage, otherwise: Stage | None = None) -> None:
        self.then = as_block(then)
        self.otherwise = as_block(otherwise) if otherwise is not None else Identity()

    def step(self, state: State[t.Any]) -> State[t.Any]:
        if state.last:
            return run_located("then", self.then, state)
        return run_located("else", self.otherwise, state)


class Fork(Block[t.Any, tuple[t.Any, t.Any]]):
    """``fork(left, right)``: run both branches on the same state; the last
    value becomes the pair ``(left_result, right_result)``. Names set inside
    the branches are dropped; the names from before the fork carry on.

    A pair returned to owt as it is reads as ``(body, status)`` or
    ``(body, headers)``; to answer with both as JSON, end with ``.cast(list)``.
    """

    def __init__(self, left: Stage, right: Stage) -> None:
        self.left = as_block(left)
        self.right = as_block(right)

    def step(self, state: State[t.Any]) -> State[tuple[t.Any, t.Any]]:
        left = run_located("left", self.left, state).last
        right = run_located("right", self.right, state).last
        return state.with_last((left, right))
