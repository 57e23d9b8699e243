"""owt.summat: composable blocks for writing an adaptor in a line.

The model. A pipe carries two things from block to block: the *last value*
(the output of the block before) and the *names* (keyword arguments: the
request's kwargs, plus whatever blocks name on the way)::

    request kwargs {'path': 'simple.sh'}
          |
          v
    +-----------+  last: None             names: {path}
    | pipe()    |
    +-----------+
    | LoadFile  |  last: b'#!/usr/...'    names: {path}        value replaced
    | NameOutput|  last: b'#!/usr/...'    names: {path, buf}   only a name set
    | BufferSink|  last: (b'...', hdrs)   names: {path, buf}   value replaced
    | f(fn)     |  last: fn(last)         names: {path, buf}
    +-----------+
          |
          v
    the final last value is what the adaptor returns

Each block decides what it keeps: most replace the last value and keep the
names; ``NameOutput``, ``kwargs`` and ``importing`` only set names; ``clear``
drops both; ``input`` starts again from the request's kwargs. ``pipe()(**kw)``
runs a pipe (``__last__`` in ``kw`` seeds the last value) and ``.done()``
turns it into a plain ``run(**kwargs)`` function.

A failing block raises :class:`PipeError` naming its step:
``step 3 (get('extra')): KeyError: 'extra'``.

Example (the README's, reading a file below a root directory)::

    from owt import summat as s

    run = (
        s.pipe()
        .to(s.LoadFile(root_dir="./example/summat"))
        .to(s.NameOutput(name="buf"))
        .to(s.BufferSink())
        .done()
    )
"""

from __future__ import annotations

from owt.summat.control import Cond
from owt.summat.control import Fork
from owt.summat.core import Block
from owt.summat.core import PipeError
from owt.summat.core import State
from owt.summat.core import ValueBlock
from owt.summat.data import B64Decode
from owt.summat.data import FoldL
from owt.summat.data import FoldL1
from owt.summat.data import Get
from owt.summat.data import Ix
from owt.summat.data import Last
from owt.summat.data import Map
from owt.summat.data import ToBytes
from owt.summat.environment import Importing
from owt.summat.environment import Installing
from owt.summat.environment import Shell
from owt.summat.files import BufferSink
from owt.summat.files import LoadFile
from owt.summat.pipe import Pipe
from owt.summat.pipe import pipe
from owt.summat.plumbing import Apply
from owt.summat.plumbing import Cast
from owt.summat.plumbing import Clear
from owt.summat.plumbing import Const
from owt.summat.plumbing import Identity
from owt.summat.plumbing import Input
from owt.summat.plumbing import Kwarg
from owt.summat.plumbing import Kwargs
from owt.summat.plumbing import NameOutput
from owt.summat.plumbing import Tap
from owt.summat.request import RequestJson
from owt.summat.request import RequestPath
from owt.summat.request import RequestQuery

# For the server: every terse-chain starter by its method name, including
# those that shadow builtins (open, map...). Not in __all__.
from owt.summat.starters import STARTERS as STARTERS
from owt.summat.starters import b64decode
from owt.summat.starters import buffer_sink
from owt.summat.starters import cast
from owt.summat.starters import clear
from owt.summat.starters import cond
from owt.summat.starters import const
from owt.summat.starters import content_type
from owt.summat.starters import f
from owt.summat.starters import foldl
from owt.summat.starters import foldl1
from owt.summat.starters import fork
from owt.summat.starters import get
from owt.summat.starters import header
from owt.summat.starters import identity
from owt.summat.starters import importing
from owt.summat.starters import installing
from owt.summat.starters import ix
from owt.summat.starters import kwarg
from owt.summat.starters import kwargs
from owt.summat.starters import last
from owt.summat.starters import name
from owt.summat.starters import path
from owt.summat.starters import query
from owt.summat.starters import render
from owt.summat.starters import shell
from owt.summat.starters import sse
from owt.summat.starters import to
from owt.summat.web import Header
from owt.summat.web import Render
from owt.summat.web import Sse

# Injected into every adaptor's globals: nothing here may shadow a builtin
# or a standard-library module name (tests/summat/test_exports.py checks).
__all__ = [
    # the engine
    "pipe",
    "Pipe",
    "PipeError",
    "Block",
    "ValueBlock",
    "State",
    # blocks
    "Apply",
    "Tap",
    "Const",
    "Identity",
    "Cast",
    "Clear",
    "Input",
    "Kwargs",
    "Kwarg",
    "NameOutput",
    "Last",
    "Ix",
    "Get",
    "Map",
    "FoldL",
    "FoldL1",
    "ToBytes",
    "B64Decode",
    "Cond",
    "Fork",
    "RequestPath",
    "RequestQuery",
    "RequestJson",
    "LoadFile",
    "BufferSink",
    "Importing",
    "Installing",
    "Shell",
    "Sse",
    "Render",
    "Header",
    # starters that shadow nothing
    "to",
    "f",
    "const",
    "identity",
    "cast",
    "clear",
    "kwargs",
    "kwarg",
    "name",
    "last",
    "ix",
    "get",
    "foldl",
    "foldl1",
    "b64decode",
    "cond",
    "fork",
    "path",
    "query",
    "buffer_sink",
    "importing",
    "installing",
    "shell",
    "sse",
    "render",
    "header",
    "content_type",
]
