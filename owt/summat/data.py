"""Data blocks: pick items out of the last value, map and fold it, turn it
into bytes. Every block here maps the last value and keeps the names."""

from __future__ import annotations

import collections.abc as cabc
import functools
import io
import typing as t

from owt.codec import b64decode_bytes
from owt.summat.core import MISSING
from owt.summat.core import Missing
from owt.summat.core import State
from owt.summat.core import ValueBlock
from owt.summat.plumbing import _CallPlan

T = t.TypeVar("T")
U = t.TypeVar("U")
A = t.TypeVar("A")


class Ix(ValueBlock[t.Any, t.Any]):
    """``ix(i)``: item ``i`` of the last value (``value[i]``; slices work)."""

    def __init__(self, index: int | slice) -> None:
        self.index = index

    def apply(self, value: t.Any) -> t.Any:
        return value[self.index]


class Last(Ix):
    """``last()``: the last item of the last value (``value[-1]``), e.g. the
    file name at the end of ``path()``."""

    def __init__(self) -> None:
        super().__init__(-1)


class Get(ValueBlock[t.Any, t.Any]):
    """``get(key)``: ``value[key]`` of a mapping (``default`` if given and
    the key is missing, else ``KeyError``)."""

    def __init__(self, key: t.Any, default: t.Any | Missing = MISSING) -> None:
        self.key = key
        self.default = default

    def apply(self, value: t.Any) -> t.Any:
        if self.default is MISSING:
            return value[self.key]
        try:
            return value[self.key]
        except (KeyError, IndexError):
            return self.default


class Map(ValueBlock[cabc.Iterable[t.Any], list[U]]):
    """``map(fn)``: a list of ``fn(item)`` for each item of the last value.
    ``fn`` may also ask for names, as in ``f``: ``map(lambda x, k: x * k)``."""

    def __init__(self, fn: cabc.Callable[..., U]) -> None:
        self.fn = fn
        self._plan = _CallPlan(fn)

    def step(self, state: State[cabc.Iterable[t.Any]]) -> State[list[U]]:
        out = [self._plan.call(State(item, state.names)) for item in state.last]
        return state.with_last(out)

    def apply(self, value: cabc.Iterable[t.Any]) -> list[U]:
        return self.step(State(value)).last


class FoldL(ValueBlock[cabc.Iterable[t.Any], A]):
    """``foldl(fn, acc)``: ``fn(fn(fn(acc, x0), x1), x2)``... over the items."""

    def __init__(self, fn: cabc.Callable[[A, t.Any], A], acc: A) -> None:
        self.fn = fn
        self.acc = acc

    def apply(self, value: cabc.Iterable[t.Any]) -> A:
        return functools.reduce(self.fn, value, self.acc)


class FoldL1(ValueBlock[cabc.Iterable[T], T]):
    """``foldl1(fn)``: like ``foldl`` starting from the first item (an empty
    value is an error)."""

    def __init__(self, fn: cabc.Callable[[T, T], T]) -> None:
        self.fn = fn

    def apply(self, value: cabc.Iterable[T]) -> T:
        return functools.reduce(self.fn, value)


class ToBytes(ValueBlock[t.Any, bytes]):
    """``bytes()``: the last value as bytes: text as UTF-8, bytes-likes as they
    are, a file object read out, chunks (bytes or text) joined, a list of ints
    as byte values, ``None`` as ``b""``."""

    def apply(self, value: t.Any) -> bytes:
        return to_bytes(value)


class B64Decode(ValueBlock[str | bytes, bytes]):
    """``b64decode()``: base64 text (either alphabet, padding optional) to bytes,
    for binary inputs sent inside JSON kwargs."""

    def apply(self, value: str | bytes) -> bytes:
        if isinstance(value, bytes):
            value = value.decode("ascii")
        return b64decode_bytes(value, "the last value")


def to_bytes(value: t.Any) -> bytes:
    """Convert ``value`` as :class:`ToBytes` describes.

    :raises TypeError: for values with no obvious byte form (numbers, dicts).
    """
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, io.BytesIO):
        return value.getvalue()
    if isinstance(value, io.IOBase):
        return to_bytes(value.read())
    if isinstance(value, cabc.Iterable) and not isinstance(value, cabc.Mapping):
        items = list(value)
        if all(isinstance(i, int) for i in items):
            return bytes(items)
        if all(isinstance(i, str | bytes | bytearray) for i in items):
            return b"".join(to_bytes(i) for i in items)
    raise TypeError(
        f"cannot turn {type(value).__name__} into bytes; "
        f"make text first, e.g. with f(json.dumps)"
    )
