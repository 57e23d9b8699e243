"""Functions that start a pipe with one block: ``path()`` is ``pipe().path()``.

They let an adaptor be a terse chain, ``path().last()``, with no ``pipe()``.
Starters whose names would shadow a Python builtin (``open``, ``map``,
``input``, ``bytes``, ``exec``) end in ``_`` here; the server's one-expression
form offers them under their bare names through :data:`STARTERS`.
"""

from __future__ import annotations

import builtins
import collections.abc as cabc
import functools
import inspect
import sys
import typing as t

from owt.summat.pipe import Pipe
from owt.summat.pipe import pipe
from owt.summat.plumbing import Stage

P = t.ParamSpec("P")
R = t.TypeVar("R")


def _starter(
    method: cabc.Callable[t.Concatenate[Pipe[t.Any], P], R],
) -> cabc.Callable[P, R]:
    """``method`` called on a fresh, empty pipe."""

    @functools.wraps(method)
    def start(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(Pipe(), *args, **kwargs)

    # Show the method's own signature, without ``self``.
    del start.__wrapped__
    signature = inspect.signature(method)
    params = list(signature.parameters.values())[1:]
    start.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return start


def to(stage: Stage) -> Pipe[t.Any]:
    """A pipe starting with ``stage`` (a block, a pipe or a function)."""
    return Pipe().to(stage)


f = _starter(Pipe.f)
exec_ = _starter(Pipe.exec)
const = _starter(Pipe.const)
identity = _starter(Pipe.identity)
cast = _starter(Pipe.cast)
clear = _starter(Pipe.clear)
input_ = _starter(Pipe.input)
kwargs = _starter(Pipe.kwargs)
kwarg = _starter(Pipe.kwarg)
name = _starter(Pipe.name)
last = _starter(Pipe.last)
ix = _starter(Pipe.ix)
get = _starter(Pipe.get)
map_ = _starter(Pipe.map)
foldl = _starter(Pipe.foldl)
foldl1 = _starter(Pipe.foldl1)
bytes_ = _starter(Pipe.bytes)
b64decode = _starter(Pipe.b64decode)
cond = _starter(Pipe.cond)
fork = _starter(Pipe.fork)
path = _starter(Pipe.path)
query = _starter(Pipe.query)
json_ = _starter(Pipe.json)
open_ = _starter(Pipe.open)
buffer_sink = _starter(Pipe.buffer_sink)
importing = _starter(Pipe.importing)
installing = _starter(Pipe.installing)
shell = _starter(Pipe.shell)
sse = _starter(Pipe.sse)
render = _starter(Pipe.render)
header = _starter(Pipe.header)
content_type = _starter(Pipe.content_type)

#: Every pipe method that can start a terse chain, by its method name.
STARTERS: dict[str, cabc.Callable[..., Pipe[t.Any]]] = {
    "pipe": pipe,
    "to": to,
    "f": f,
    "exec": exec_,
    "const": const,
    "identity": identity,
    "cast": cast,
    "clear": clear,
    "input": input_,
    "kwargs": kwargs,
    "kwarg": kwarg,
    "name": name,
    "last": last,
    "ix": ix,
    "get": get,
    "map": map_,
    "foldl": foldl,
    "foldl1": foldl1,
    "bytes": bytes_,
    "b64decode": b64decode,
    "cond": cond,
    "fork": fork,
    "path": path,
    "query": query,
    "json": json_,
    "open": open_,
    "buffer_sink": buffer_sink,
    "importing": importing,
    "installing": installing,
    "shell": shell,
    "sse": sse,
    "render": render,
    "header": header,
    "content_type": content_type,
}


def is_safe_global(word: str) -> bool:
    """Whether ``word`` can be a global in adaptor code without hiding a
    builtin or the name of a standard-library module (``json``)."""
    return not hasattr(builtins, word) and word not in sys.stdlib_module_names


#: The starters ``from owt import *`` gives, under their method names.
SAFE_STARTERS: tuple[str, ...] = tuple(w for w in STARTERS if is_safe_global(w))
