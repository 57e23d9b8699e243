"""What a call runs: adaptor code read into a :class:`Source`, its
``code_sha256``, or a :class:`Registered` adaptor the server holds by name.

Code is source text, the path of a ``.py`` file, or a function (see
:func:`load_source`).
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import hashlib
import inspect
import os
import textwrap
import typing as t
from pathlib import Path

from owt.errors import CodeSourceError

#: Adaptor code: source text, a path to a ``.py`` file, or a function.
Code: t.TypeAlias = "str | os.PathLike[str] | cabc.Callable[..., t.Any] | Source"

#: What a call runs: adaptor code, or an adaptor the server holds by name.
Target: t.TypeAlias = "Code | Registered"


@dataclasses.dataclass(frozen=True)
class Source:
    """Adaptor source text, and the function to call when the code names one."""

    text: str
    fn_name: str | None = None


def load_source(code: Code) -> Source:
    """Turn ``code`` into adaptor source.

    :param code: one of

        - a path (``os.PathLike``, or a one-line string naming an existing
          file) whose contents are read as UTF-8; a one-line string ending
          in ``.py`` that names no file is an error, not source;
        - a function: its source is sent and it is called by its own name
          (module-level names it uses must be imported inside it);
        - any other string: the adaptor source itself;
        - a :class:`Source`, returned as it is.
    :raises CodeSourceError: for a lambda or a function without source.
    """
    if isinstance(code, Source):
        return code
    if isinstance(code, os.PathLike):
        return Source(Path(code).read_text(encoding="utf-8"))
    if isinstance(code, str):
        if _names_file(code):
            return Source(Path(code).read_text(encoding="utf-8"))
        if _looks_like_path(code):
            raise CodeSourceError(
                f"{code!r} looks like a file name, but there is no such file."
            )
        return Source(code)
    if callable(code):
        name = getattr(code, "__name__", "")
        if name == "<lambda>" or not name:
            raise CodeSourceError(
                "a lambda cannot be sent as an adaptor; define it with def, "
                "or send its source as a string."
            )
        try:
            text = inspect.getsource(code)
        except (OSError, TypeError) as e:
            raise CodeSourceError(
                f"cannot read the source of {name!r} ({e}); send the source "
                "text or the file path instead."
            ) from None
        return Source(textwrap.dedent(text), fn_name=name)
    raise CodeSourceError(
        "code must be source text, a file path or a function, "
        f"not {type(code).__name__}."
    )


def code_sha256(source: str) -> str:
    """The ``code_sha256`` field for ``source``: SHA-256 of its UTF-8 bytes, hex."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Registered:
    """An adaptor the server holds under ``name`` (``PUT /_owt/adaptors/NAME``,
    :meth:`Client.register`): pass it where code goes to call it by name,
    ``client.call(Registered("thumb"), image=...)``."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a registered adaptor's name must be a non-empty str.")


def _looks_like_path(text: str) -> bool:
    # One line ending in .py, with nothing Python source would need.
    stripped = text.strip()
    return stripped.endswith(".py") and not any(c in stripped for c in "\n ()=:'\"")


def _names_file(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False
