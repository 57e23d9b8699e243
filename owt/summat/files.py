"""File blocks: read a file (kept inside a root directory) and send bytes.

``LoadFile`` reads; ``BufferSink`` makes the ``(bytes, headers)`` reply owt
sends as a file download or page::

    pipe().to(LoadFile(root_dir="static")).to(NameOutput("buf")).to(BufferSink())
"""

from __future__ import annotations

import collections.abc as cabc
import mimetypes
import os
import typing as t
from pathlib import Path

from owt.summat.core import Block
from owt.summat.core import PipeError
from owt.summat.core import State
from owt.summat.data import to_bytes

#: ``(body, headers)``: the reply shape owt reads from a tuple.
Reply = tuple[bytes, dict[str, str]]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class LoadFile(Block[t.Any, t.Any]):
    """``open(root_dir)``: the last value becomes the bytes of a file.

    The file is named by the last value (a string, a path, or a list of path
    segments such as ``path()`` gives) or else by the ``path`` kwarg; the name
    read is kept as the name ``path``, for :class:`BufferSink`.

    :param root_dir: read only below this directory (relative to owt's working
        directory). The name is resolved, symlinks included, and a name that
        leads outside the root is refused with :class:`PipeError`.
        ``None`` allows any path the server can read.
    :param encoding: give text decoded with this encoding instead of bytes.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str] | None = None,
        encoding: str | None = None,
    ) -> None:
        self.root_dir = root_dir
        self.encoding = encoding

    def step(self, state: State[t.Any]) -> State[t.Any]:
        name = _file_name(state)
        target = self.resolve(name)
        data = target.read_bytes()
        content: t.Any = data if self.encoding is None else data.decode(self.encoding)
        return State(content, {**state.names, "path": name}, state.origin)

    def resolve(self, name: str) -> Path:
        """The file ``name`` refers to, refused if it leaves ``root_dir``."""
        if self.root_dir is None:
            return Path(name)
        root = Path(self.root_dir).resolve()
        target = (root / name).resolve()
        if not target.is_relative_to(root):
            raise PipeError(
                f"{name!r} is outside root_dir {str(self.root_dir)!r}; "
                f"only files below it can be read"
            )
        return target


def _file_name(state: State[t.Any]) -> str:
    value = state.last
    if isinstance(value, str | os.PathLike):
        return os.fspath(value)
    if (
        isinstance(value, cabc.Sequence)
        and value
        and all(isinstance(p, str) for p in value)
    ):
        return "/".join(value)
    if "path" in state.names:
        return str(os.fspath(state.names["path"]))
    raise PipeError(
        "no file name: give one as the last value (a string or path segments) "
        "or as the kwarg 'path'"
    )


class BufferSink(Block[t.Any, Reply]):
    """``buffer_sink()``: the named value ``buf`` becomes ``(bytes, headers)``
    with a ``Content-Type`` guessed from the file name (the ``path`` name that
    :class:`LoadFile` sets).

    :param name: the name holding the data (anything :func:`to_bytes` takes).
    :param filename: guess the type from this name instead of ``path``.
    :param content_type: use this type instead of guessing.
    """

    def __init__(
        self,
        name: str = "buf",
        filename: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type

    def step(self, state: State[t.Any]) -> State[Reply]:
        if self.name not in state.names:
            raise PipeError(
                f"no value named {self.name!r}: name one first with "
                f"NameOutput({self.name!r})"
            )
        data = to_bytes(state.names[self.name])
        return state.with_last((data, {"Content-Type": self._type(state)}))

    def _type(self, state: State[t.Any]) -> str:
        if self.content_type is not None:
            return self.content_type
        filename = self.filename or state.names.get("path")
        if filename is None:
            return DEFAULT_CONTENT_TYPE
        guessed, _encoding = mimetypes.guess_type(os.fspath(filename))
        return guessed or DEFAULT_CONTENT_TYPE
