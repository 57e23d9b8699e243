"""The :class:`Pipe` builder: one fluent method per block.

``pipe()`` is empty; each method returns a new, longer pipe (pipes are
immutable, so a half-built pipe can be shared and extended twice). A pipe is
itself a block, so pipes nest: as ``cond``/``fork`` branches or via ``to``.
"""

from __future__ import annotations

import builtins
import collections.abc as cabc
import os
import typing as t

from owt.summat import control
from owt.summat import data
from owt.summat import environment
from owt.summat import files
from owt.summat import plumbing
from owt.summat import request
from owt.summat import web
from owt.summat.core import MISSING
from owt.summat.core import Block
from owt.summat.core import Missing
from owt.summat.core import State
from owt.summat.core import describe
from owt.summat.core import run_blocks
from owt.summat.plumbing import Stage

T_co = t.TypeVar("T_co", covariant=True)
U = t.TypeVar("U")
A = t.TypeVar("A")

#: The kwarg that seeds the last value when a pipe is called.
LAST = "__last__"


class Pipe(Block[t.Any, T_co]):
    """A row of blocks, run in order on ``(last value, names)``.

    Call it with the request's kwargs: ``p(name="owt")``. The names start as
    those kwargs and the last value as ``None``, or as ``__last__`` if given
    (owt passes a non-dict ``kwargs_b64`` value that way). The call returns
    the final last value.
    """

    def __init__(self, blocks: cabc.Iterable[Block[t.Any, t.Any]] = ()) -> None:
        self.blocks: tuple[Block[t.Any, t.Any], ...] = tuple(blocks)

    # -- running ---------------------------------------------------------

    def __call__(self, **kwargs: t.Any) -> T_co:
        last = kwargs.pop(LAST, None)
        state: State[T_co] = self.step(State(last, dict(kwargs), dict(kwargs)))
        return state.last

    def step(self, state: State[t.Any]) -> State[T_co]:
        return run_blocks(self.blocks, state)

    def done(self) -> cabc.Callable[..., T_co]:
        """A plain ``run(**kwargs)`` function that runs this pipe."""
        finished = self

        def run(**kwargs: t.Any) -> T_co:
            return finished(**kwargs)

        run.__doc__ = f"Run {finished!r}."
        return run

    def __repr__(self) -> str:
        return "pipe()" + "".join(f".{_as_method(b)}" for b in self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    # -- building --------------------------------------------------------

    def _then(self, block: Block[t.Any, U], label: str) -> Pipe[U]:
        return Pipe((*self.blocks, block.labelled(label)))

    @t.overload
    def to(self, stage: Block[T_co, U]) -> Pipe[U]: ...
    @t.overload
    def to(self, stage: cabc.Callable[..., U]) -> Pipe[U]: ...
    def to(self, stage: Stage) -> Pipe[t.Any]:
        """Add a block (``LoadFile(...)``), a whole pipe, or a function
        (as ``f(fn)``)."""
        return Pipe((*self.blocks, plumbing.as_block(stage)))

    # Plumbing

    def f(self, fn: cabc.Callable[..., U]) -> Pipe[U]:
        """The last value becomes ``fn(...)``: parameters named like a kwarg get
        that kwarg, the first other one gets the last value."""
        return self._then(plumbing.Apply(fn), describe("f", fn))

    def exec(self, fn: cabc.Callable[..., object]) -> Pipe[T_co]:
        """Call ``fn`` (as ``f`` would) for a side effect; nothing changes."""
        return self._then(plumbing.Tap(fn), describe("exec", fn))

    def const(self, value: U) -> Pipe[U]:
        """The last value becomes ``value``."""
        return self._then(plumbing.Const(value), describe("const", value))

    def identity(self) -> Pipe[T_co]:
        """Pass the state on unchanged."""
        return self._then(plumbing.Identity(), "identity()")

    def cast(self, fn: cabc.Callable[[t.Any], U]) -> Pipe[U]:
        """The last value becomes ``fn(last)``, always (``cast(int)``)."""
        return self._then(plumbing.Cast(fn), describe("cast", fn))

    def clear(self) -> Pipe[None]:
        """Drop the last value (``None``) and every name."""
        return self._then(plumbing.Clear(), "clear()")

    def input(self) -> Pipe[dict[str, t.Any]]:
        """Back to the request: names and last value are the call's kwargs."""
        return self._then(plumbing.Input(), "input()")

    def kwargs(self, /, **defaults: t.Any) -> Pipe[T_co]:
        """Names with defaults; the request's kwargs override them."""
        return self._then(plumbing.Kwargs(**defaults), describe("kwargs", **defaults))

    def kwarg(self, name: str, default: t.Any | Missing = MISSING) -> Pipe[t.Any]:
        """The last value becomes the kwarg ``name`` (or ``default``)."""
        label = describe("kwarg", name, *_given(default))
        return self._then(plumbing.Kwarg(name, default), label)

    def name(self, name: str) -> Pipe[T_co]:
        """Keep the last value under ``name`` too (:class:`NameOutput`)."""
        return self._then(plumbing.NameOutput(name), describe("name", name))

    # Data

    def last(self) -> Pipe[t.Any]:
        """The last item of the last value."""
        return self._then(data.Last(), "last()")

    def ix(self, index: int | slice) -> Pipe[t.Any]:
        """Item ``index`` of the last value."""
        return self._then(data.Ix(index), describe("ix", index))

    def get(self, key: t.Any, default: t.Any | Missing = MISSING) -> Pipe[t.Any]:
        """``last[key]`` (``default`` if given and the key is missing)."""
        label = describe("get", key, *_given(default))
        return self._then(data.Get(key, default), label)

    def map(self, fn: cabc.Callable[..., U]) -> Pipe[list[U]]:
        """``[fn(item) for item in last]`` (``fn`` may ask for names too)."""
        return self._then(data.Map(fn), describe("map", fn))

    def foldl(self, fn: cabc.Callable[[A, t.Any], A], acc: A) -> Pipe[A]:
        """Fold the items from the left, starting from ``acc``."""
        return self._then(data.FoldL(fn, acc), describe("foldl", fn, acc))

    def foldl1(self, fn: cabc.Callable[[t.Any, t.Any], t.Any]) -> Pipe[t.Any]:
        """Fold the items from the left, starting from the first."""
        return self._then(data.FoldL1(fn), describe("foldl1", fn))

    def bytes(self) -> Pipe[builtins.bytes]:
        """The last value as bytes (text as UTF-8)."""
        return self._then(data.ToBytes(), "bytes()")

    def b64decode(self) -> Pipe[builtins.bytes]:
        """Base64 text to bytes."""
        return self._then(data.B64Decode(), "b64decode()")

    # Control

    def cond(self, then: Stage, otherwise: Stage | None = None) -> Pipe[t.Any]:
        """Run ``then`` if the last value is truthy, else ``otherwise``."""
        label = describe("cond", then, *([otherwise] if otherwise else []))
        return self._then(control.Cond(then, otherwise), label)

    def fork(self, left: Stage, right: Stage) -> Pipe[tuple[t.Any, t.Any]]:
        """Run both on the same state; the last value is ``(left, right)``."""
        return self._then(control.Fork(left, right), describe("fork", left, right))

    # Request

    def path(self) -> Pipe[list[str]]:
        """The request path's segments."""
        return self._then(request.RequestPath(), "path()")

    def query(self, multi: bool = False) -> Pipe[dict[str, t.Any]]:
        """The query parameters (lists of values with ``multi=True``)."""
        label = describe("query", multi=multi) if multi else "query()"
        return self._then(request.RequestQuery(multi), label)

    def json(self) -> Pipe[t.Any]:
        """The POST body's JSON, without owt's protocol fields."""
        return self._then(request.RequestJson(), "json()")

    # Files and sinks

    def open(
        self,
        root_dir: str | os.PathLike[str] | None = None,
        encoding: str | None = None,
    ) -> Pipe[t.Any]:
        """Read the file named by the last value or the ``path`` kwarg
        (:class:`LoadFile`)."""
        args = {"root_dir": root_dir, "encoding": encoding}
        label = describe("open", **{k: v for k, v in args.items() if v is not None})
        return self._then(files.LoadFile(root_dir, encoding), label)

    def buffer_sink(
        self,
        name: str = "buf",
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Pipe[files.Reply]:
        """The named ``buf`` as ``(bytes, headers)`` (:class:`BufferSink`)."""
        args = {"filename": filename, "content_type": content_type}
        given = {k: v for k, v in args.items() if v is not None}
        label = describe("buffer_sink", *([name] if name != "buf" else []), **given)
        return self._then(files.BufferSink(name, filename, content_type), label)

    # Environment

    def importing(self, *modules: str) -> Pipe[T_co]:
        """Import modules into the names (``'numpy as np'`` works)."""
        label = describe("importing", *modules)
        return self._then(environment.Importing(*modules), label)

    def installing(self, *packages: str, timeout: float = 600) -> Pipe[T_co]:
        """``pip install`` the packages (once per server)."""
        label = describe("installing", *packages)
        return self._then(environment.Installing(*packages, timeout=timeout), label)

    def shell(
        self, check: bool = True, timeout: float | None = None, cwd: str | None = None
    ) -> Pipe[str]:
        """Run the last value with ``bash -c``; the value becomes its stdout."""
        return self._then(environment.Shell(check, timeout, cwd), "shell()")

    # Web

    def sse(
        self, done: str | None = "[DONE]"
    ) -> Pipe[tuple[cabc.Iterator[str], dict[str, str]]]:
        """Stream the items as server-sent events, then ``data: [DONE]``."""
        return self._then(web.Sse(done), "sse()")

    def render(self, template: str, autoescape: bool = True) -> Pipe[str]:
        """Render a Jinja2 template with the names and ``last``."""
        label = describe("render", template)
        return self._then(web.Render(template, autoescape), label)

    def header(self, name: str, value: str) -> Pipe[tuple[t.Any, ...]]:
        """Add a response header (making ``(body, headers)`` if needed)."""
        return self._then(web.Header(name, value), describe("header", name, value))

    def content_type(self, mime: str) -> Pipe[tuple[t.Any, ...]]:
        """Set the response's ``Content-Type``."""
        return self._then(web.content_type_header(mime), describe("content_type", mime))


def pipe(*stages: Stage) -> Pipe[t.Any]:
    """An empty pipe to build on, or one made of ``stages`` (blocks, pipes,
    functions) in order."""
    return Pipe(plumbing.as_block(s) for s in stages)


def _given(default: t.Any | Missing) -> list[t.Any]:
    return [] if default is MISSING else [default]


def _as_method(block: Block[t.Any, t.Any]) -> str:
    # Blocks added by a method carry that call as their label; others were
    # added with ``to``.
    label = repr(block)
    return label if block.label else f"to({label})"
