"""Plumbing blocks: call functions, set and reset the value and the names.

The one rule to know is how :class:`Apply` (``.f(fn)``) calls ``fn``:

- a parameter whose name is one of the pipe's names gets that named value;
- the first remaining parameter without a default gets the last value;
- ``**kw`` gets all the names; a function whose signature Python cannot read
  (``int``, ``str``) gets the last value.

So ``f(lambda ab: ...)`` is a function of the last value, ``f(lambda name: ...)``
a function of the kwarg ``name``, and ``f(lambda text, lang: ...)`` both.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import typing as t

from owt.summat.core import MISSING
from owt.summat.core import Block
from owt.summat.core import Missing
from owt.summat.core import PipeError
from owt.summat.core import State
from owt.summat.core import ValueBlock

T = t.TypeVar("T")
U = t.TypeVar("U")

#: What a branch or ``to`` accepts: a block (a pipe is one) or a function,
#: which is wrapped in :class:`Apply`.
Stage = Block[t.Any, t.Any] | cabc.Callable[..., t.Any]

_POSITIONAL = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _CallPlan:
    """How to call one function from a state; worked out once per function."""

    def __init__(self, fn: cabc.Callable[..., t.Any]) -> None:
        self.fn = fn
        try:
            self.params: list[inspect.Parameter] | None = list(
                inspect.signature(fn).parameters.values()
            )
        except (TypeError, ValueError):
            self.params = None

    def call(self, state: State[t.Any]) -> t.Any:
        if self.params is None:
            return self.fn(state.last)
        args: list[t.Any] = []
        kwargs: dict[str, t.Any] = {}
        value_given = False
        for p in self.params:
            if p.kind in _BY_NAME and p.name in state.names:
                kwargs[p.name] = state.names[p.name]
            elif p.kind == inspect.Parameter.VAR_KEYWORD:
                taken = {q.name for q in self.params}
                kwargs.update((k, v) for k, v in state.names.items() if k not in taken)
            elif p.kind in _POSITIONAL and p.default is p.empty and not value_given:
                value_given = True
                if p.kind == inspect.Parameter.POSITIONAL_ONLY:
                    args.append(state.last)
                else:
                    kwargs[p.name] = state.last
            elif p.kind == inspect.Parameter.VAR_POSITIONAL and not value_given:
                value_given = True
                args.append(state.last)
        return self.fn(*args, **kwargs)


class Apply(Block[t.Any, T]):
    """``f(fn)``: the last value becomes ``fn``'s result; names pass through.

    ``fn`` is called with the last value and/or the names its parameters
    ask for, as the module docstring explains.
    """

    def __init__(self, fn: cabc.Callable[..., T]) -> None:
        self.fn = fn
        self._plan = _CallPlan(fn)

    def step(self, state: State[t.Any]) -> State[T]:
        return state.with_last(self._plan.call(state))


class Tap(Block[T, T]):
    """``exec(fn)``: call ``fn`` for its side effect; the state passes through."""

    def __init__(self, fn: cabc.Callable[..., object]) -> None:
        self.fn = fn
        self._plan = _CallPlan(fn)

    def step(self, state: State[T]) -> State[T]:
        self._plan.call(state)
        return state


class Cast(ValueBlock[t.Any, T]):
    """``cast(fn)``: ``fn(last)`` always, whatever the names (``cast(int)``)."""

    def __init__(self, fn: cabc.Callable[[t.Any], T]) -> None:
        self.fn = fn

    def apply(self, value: t.Any) -> T:
        return self.fn(value)


class Const(ValueBlock[t.Any, T]):
    """``const(v)``: the last value becomes ``v``; names pass through."""

    def __init__(self, value: T) -> None:
        self.value = value

    def apply(self, value: t.Any) -> T:
        return self.value


class Identity(ValueBlock[T, T]):
    """``identity()``: changes nothing (a placeholder branch)."""

    def apply(self, value: T) -> T:
        return value


class Clear(Block[t.Any, None]):
    """``clear()``: forget the last value and all names."""

    def step(self, state: State[t.Any]) -> State[None]:
        return State(None, {}, state.origin)


class Input(Block[t.Any, dict[str, t.Any]]):
    """``input()``: start again from the request: the names are the kwargs the
    pipe was called with, and so is the last value (as a dict)."""

    def step(self, state: State[t.Any]) -> State[dict[str, t.Any]]:
        return State(dict(state.origin), dict(state.origin), state.origin)


class Kwargs(Block[T, T]):
    """``kwargs(**defaults)``: names with default values; a name the pipe
    already has (from the request) wins over the default."""

    def __init__(self, **defaults: t.Any) -> None:
        self.defaults = defaults

    def step(self, state: State[T]) -> State[T]:
        return State(state.last, {**self.defaults, **state.names}, state.origin)


class Kwarg(Block[t.Any, t.Any]):
    """``kwarg(name)``: the last value becomes the named value."""

    def __init__(self, name: str, default: t.Any | Missing = MISSING) -> None:
        self.name = name
        self.default = default

    def step(self, state: State[t.Any]) -> State[t.Any]:
        if self.name in state.names:
            return state.with_last(state.names[self.name])
        if self.default is not MISSING:
            return state.with_last(self.default)
        have = ", ".join(sorted(state.names)) or "none"
        raise PipeError(f"no kwarg named {self.name!r} (the pipe has: {have})")


class NameOutput(Block[T, T]):
    """``name(n)``: keep the last value under the name ``n`` as well, for later
    blocks (``f(lambda n: ...)``, :class:`BufferSink`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def step(self, state: State[T]) -> State[T]:
        return state.with_names(**{self.name: state.last})


def as_block(stage: Stage) -> Block[t.Any, t.Any]:
    """A block for ``stage``: blocks (and pipes) as they are, functions
    wrapped in :class:`Apply`."""
    if isinstance(stage, Block):
        return stage
    if callable(stage):
        return Apply(stage)
    raise TypeError(
        f"expected a block, a pipe or a function, not {type(stage).__name__}"
    )
