"""The pipe engine: the state a pipe carries, blocks, and step-numbered errors.

A pipe is a row of blocks. Each block gets a :class:`State` and hands the next
block a new one; nothing is mutated in place, so a pipe can be run many times
and shared between branches::

    State(last=None, names={"path": "a.txt"}, origin={"path": "a.txt"})
      -> LoadFile   -> State(last=b"...", names={"path": "a.txt"}, ...)
      -> NameOutput -> State(last=b"...", names={"path": ..., "buf": b"..."}, ...)

This module knows nothing about Flask, files or the server.
"""

from __future__ import annotations

import abc
import collections.abc as cabc
import dataclasses
import enum
import typing as t

T = t.TypeVar("T")
T_co = t.TypeVar("T_co", covariant=True)
I_contra = t.TypeVar("I_contra", contravariant=True)
O_co = t.TypeVar("O_co", covariant=True)


class Missing(enum.Enum):
    """Type of :data:`MISSING`, the "no default given" marker."""

    MISSING = enum.auto()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: t.Final = Missing.MISSING


@dataclasses.dataclass(frozen=True)
class State(t.Generic[T_co]):
    """What flows between blocks.

    :param last: the last value, the output of the block before.
    :param names: the named keyword arguments: the request's kwargs, defaults
        from :class:`Kwargs`, values named by :class:`NameOutput`, modules
        from :class:`Importing`.
    :param origin: the kwargs the pipe was called with, untouched, so that
        :class:`Input` can go back to them.
    """

    last: T_co
    names: cabc.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    origin: cabc.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)

    def with_last(self, last: T) -> State[T]:
        """The same names, a new last value."""
        return State(last, self.names, self.origin)

    def with_names(self, **names: t.Any) -> State[T_co]:
        """The same last value, with ``names`` added (replacing same-named)."""
        return State(self.last, {**self.names, **names}, self.origin)


class PipeError(Exception):
    """A block failed; the message says which step of which pipe.

    ``str(error)`` reads like ``step 3 (get('extra')): KeyError: 'extra'``.
    For a block inside a branch the path is spelled out:
    ``step 2 (cond(...)) > then > step 1 (get('x')): KeyError: 'x'``.
    The original exception is the ``__cause__``.

    A block may raise ``PipeError(reason)`` itself; the pipe adds the step.
    """

    def __init__(self, reason: str, where: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{' > '.join(where)}: {reason}" if where else reason)

    def within(self, segment: str) -> PipeError:
        """A copy whose location starts one level further out."""
        return PipeError(self.reason, (segment, *self.where))


def explain(error: Exception) -> str:
    """``"Type: message"``, the reason a failed block gives."""
    return f"{type(error).__name__}: {error}"


def step_name(number: int, block: Block[t.Any, t.Any]) -> str:
    """How a location names a step: ``step 3 (get('extra'))``."""
    return f"step {number} ({block!r})"


def run_located(
    segment: str, block: Block[t.Any, t.Any], state: State[t.Any]
) -> State[t.Any]:
    """Run one block; a failure becomes a :class:`PipeError` located at
    ``segment`` (plus where it already was), caused by the original error."""
    try:
        return block.step(state)
    except PipeError as e:
        raise e.within(segment) from (e.__cause__ or e)
    except Exception as e:
        raise PipeError(explain(e), (segment,)) from e


class Block(abc.ABC, t.Generic[I_contra, O_co]):
    """One step of a pipe: turns a state into the next state.

    Subclasses implement :meth:`step`. ``label`` is how error messages name
    the block; the pipe methods set it to the call the user wrote (``get('x')``).
    """

    label: str = ""

    @abc.abstractmethod
    def step(self, state: State[I_contra]) -> State[O_co]:
        """Run the block on ``state`` and return the next state."""

    def labelled(self, label: str) -> t.Self:
        """Set the name used in error messages; returns the block."""
        self.label = label
        return self

    def __repr__(self) -> str:
        if self.label:
            return self.label
        # The constructor call, from the public attributes that are set.
        attrs = {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_")
            and k != "label"
            and v is not None
            and v is not MISSING
        }
        return describe(type(self).__name__, **attrs)


class ValueBlock(Block[I_contra, O_co]):
    """A block that only maps the last value; the names pass through."""

    @abc.abstractmethod
    def apply(self, value: I_contra) -> O_co:
        """The new last value."""

    def step(self, state: State[I_contra]) -> State[O_co]:
        return state.with_last(self.apply(state.last))


def run_blocks(
    blocks: cabc.Sequence[Block[t.Any, t.Any]], state: State[t.Any]
) -> State[t.Any]:
    """Run ``blocks`` in order, numbering the steps from 1 for error messages
    (see :class:`PipeError`)."""
    for number, block in enumerate(blocks, start=1):
        state = run_located(step_name(number, block), block, state)
    return state


def describe(verb: str, *args: t.Any, **kwargs: t.Any) -> str:
    """A call as the user wrote it, for labels: ``describe('get', 'x')``
    is ``"get('x')"``. Functions show their name, long values are cut."""
    parts = [_short(a) for a in args]
    parts += [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{verb}({', '.join(parts)})"


def _short(value: t.Any, limit: int = 40) -> str:
    if isinstance(value, Block):
        text = repr(value)
    elif callable(value) and hasattr(value, "__name__"):
        text = str(value.__name__)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
