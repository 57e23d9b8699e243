"""Files sent as parts of a ``multipart/form-data`` POST: :class:`Upload`,
and the keyword arguments that are files told apart from the rest.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import mimetypes
import os
import typing as t
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file sent as one part of a ``multipart/form-data`` POST.

    A keyword argument that is an ``Upload``, a ``pathlib.Path`` (any
    ``os.PathLike``) or a binary file object (``open(path, "rb")``,
    ``io.BytesIO``) is sent as a file; the adaptor's ``run`` receives it as
    a Werkzeug ``FileStorage`` (``.filename``, ``.content_type``, ``.read()``).
    A list of them sends several parts of one name (``run`` gets a list).

    :param content: the file's bytes.
    :param filename: the name the adaptor sees (the argument's name when
        left out).
    :param content_type: its media type, guessed from ``filename`` when
        left out (``application/octet-stream`` when nothing fits).
    """

    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], content_type: str | None = None
    ) -> Upload:
        """The file at ``path``, named by its last component."""
        path = Path(path)
        return cls(path.read_bytes(), path.name, content_type)

    @property
    def media_type(self) -> str:
        """The content type sent: the one given, or one guessed from the name."""
        return self.content_type or guess_type(self.filename or "")

    def part(self) -> tuple[str, bytes, str]:
        """The ``(filename, bytes, content type)`` requests sends as a file part."""
        return self.filename or "file", self.content, self.media_type


def guess_type(filename: str) -> str:
    """The media type of a file name, ``application/octet-stream`` if unknown."""
    return mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"


def is_file(value: t.Any) -> bool:
    """Whether a keyword argument is sent as a file (see :class:`Upload`)."""
    if isinstance(value, Upload | os.PathLike):
        return True
    if isinstance(value, str | bytes | bytearray | memoryview):
        return False
    return callable(getattr(value, "read", None))


def is_files(value: t.Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(map(is_file, value))


def as_upload(name: str, value: t.Any) -> Upload:
    """``value`` (see :func:`is_file`) as an :class:`Upload`; a file object is
    read from where it stands, and named after its file or else ``name``."""
    if isinstance(value, Upload):
        return value if value.filename else dataclasses.replace(value, filename=name)
    if isinstance(value, os.PathLike):
        return Upload.from_path(value)
    content = value.read()
    if isinstance(content, str):
        raise TypeError(
            f"{name!r} is a file opened in text mode; open it with 'rb' to send it."
        )
    filename = getattr(value, "name", None)
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    if not isinstance(filename, str) or not filename:
        filename = name
    return Upload(bytes(content), os.path.basename(filename) or name)


def split_files(
    kwargs: cabc.Mapping[str, t.Any],
) -> tuple[dict[str, t.Any], list[tuple[str, Upload]]]:
    """Keyword arguments split into those sent as JSON and the files (read
    now, so a request sent twice sends the same bytes)."""
    plain: dict[str, t.Any] = {}
    files: list[tuple[str, Upload]] = []
    for name, value in kwargs.items():
        if is_file(value):
            files.append((name, as_upload(name, value)))
        elif is_files(value):
            files.extend((name, as_upload(name, item)) for item in value)
        else:
            plain[name] = value
    return plain, files
