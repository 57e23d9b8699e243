"""Adaptor code owt holds, so a client needn't send it with every call.

- :class:`AdaptorRegistry`: adaptors registered by name
  (``PUT /_owt/adaptors/NAME``), one ``NAME.py`` file each in
  ``--adaptors-dir``, so they survive a restart and every ``--processes``
  process sees the same ones. A request sends ``adaptor=NAME``.
- :class:`KnownCode`: the code of recent requests and of registered
  adaptors, by SHA-256 digest, bounded in bytes. A request sends
  ``code_sha256=HEX``, and is told ``unknown_code`` when this server doesn't
  hold it.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import tempfile
import threading
import typing as t
from pathlib import Path

import cachetools

from owt.errors import BadAdaptorName
from owt.errors import UnknownAdaptor
from owt.execute import code_digest
from owt.signature import read_signature

#: A name is a file name too: letters, digits, ``_ . -``; no leading dot.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_SUFFIX = ".py"


def default_adaptors_dir() -> Path:
    """``$XDG_DATA_HOME/owt/adaptors``, or ``~/.local/share/owt/adaptors``."""
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data_home) / "owt" / "adaptors"


@dataclasses.dataclass(frozen=True)
class RegisteredAdaptor:
    """One registered adaptor."""

    name: str
    source: str
    digest: str
    #: When it was registered (the file's modification time), UTC.
    registered: datetime.datetime

    @property
    def size(self) -> int:
        """The source's size in bytes."""
        return len(self.source.encode("utf-8"))

    def describe(self) -> dict[str, t.Any]:
        """What ``GET /_owt/adaptors`` lists for it."""
        signature = read_signature(self.source)
        return {
            "name": self.name,
            "digest": self.digest,
            "size": self.size,
            "registered": self.registered.isoformat(timespec="seconds"),
            "signature": str(signature) if signature else None,
        }


def check_name(name: str) -> str:
    """``name`` if it can name a registered adaptor.

    :raises BadAdaptorName: naming the rule it breaks.
    """
    if not _NAME.fullmatch(name):
        raise BadAdaptorName(
            f"{name!r} can't name an adaptor: use 1-100 letters, digits, '_', "
            "'.' or '-', not starting with '.' or '-'."
        )
    return name


class AdaptorRegistry:
    """Named adaptors kept as files in one directory (created when the first
    one is registered)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # Read files by (name, mtime, size): a request doesn't reread the
        # file, and a change made by another process is still seen.
        self._read: cachetools.LRUCache[tuple[str, int, int], RegisteredAdaptor] = (
            cachetools.LRUCache(maxsize=256)
        )
        self._lock = threading.Lock()

    def put(self, name: str, source: str) -> tuple[RegisteredAdaptor, bool]:
        """Register ``source`` as ``name``, replacing any adaptor of that
        name; returns it and whether the name is new."""
        path = self._path(check_name(name))
        created = not path.exists()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=".put-", suffix=_SUFFIX
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(source)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        return self.get(name), created

    def get(self, name: str) -> RegisteredAdaptor:
        """The adaptor registered as ``name``.

        :raises UnknownAdaptor: when there is none.
        """
        path = self._path(check_name(name))
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise UnknownAdaptor(
                f"No adaptor is registered as {name!r}; register it with "
                f"PUT /_owt/adaptors/{name} (GET /_owt/adaptors lists them).",
                adaptor=name,
            ) from None
        key = (name, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            found = self._read.get(key)
        if found is None:
            source = path.read_text(encoding="utf-8")
            found = RegisteredAdaptor(
                name,
                source,
                code_digest(source),
                datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC),
            )
            with self._lock:
                self._read[key] = found
        return found

    def remove(self, name: str) -> bool:
        """Unregister ``name``; False if it wasn't registered."""
        try:
            self._path(check_name(name)).unlink()
        except FileNotFoundError:
            return False
        return True

    def all(self) -> list[RegisteredAdaptor]:
        """Every registered adaptor, by name."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            name = path.name[: -len(_SUFFIX)]
            if _NAME.fullmatch(name):
                try:
                    found.append(self.get(name))
                except UnknownAdaptor:
                    continue  # removed while listing
        return found

    def source_with_digest(self, digest: str) -> str | None:
        """The source of a registered adaptor whose digest is ``digest``."""
        for registered in self.all():
            if registered.digest == digest:
                return registered.source
        return None

    def _path(self, name: str) -> Path:
        return self.directory / (name + _SUFFIX)


class KnownCode:
    """Adaptor sources by digest, the least recently used dropped first once
    there are more than ``max_entries`` of them or they hold more than
    ``max_bytes``."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        # One bound in bytes: an entry weighs its size, and at least an
        # equal share of the bound, so there are never more than max_entries.
        least = max(1, max_bytes // max(1, max_entries))
        self._sources: cachetools.LRUCache[str, str] = cachetools.LRUCache(
            maxsize=max(max_bytes, 1), getsizeof=lambda source: max(len(source), least)
        )
        self._lock = threading.Lock()

    def remember(self, digest: str, source: str) -> None:
        """Keep ``source`` under ``digest``."""
        if digest in self._sources or len(source) > self._sources.maxsize:
            return  # (a lookup without the lock: it changes nothing)
        with self._lock:
            self._sources[digest] = source

    def get(self, digest: str) -> str | None:
        """The source of ``digest``, if this server holds it."""
        with self._lock:
            return self._sources.get(digest)
