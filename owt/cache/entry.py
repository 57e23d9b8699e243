"""What the cache stores: one response, and how it travels to a store."""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import functools
import json
import typing as t

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.errors import StreamAborted
from owt.response import is_event_stream

MB = 1024 * 1024
CACHE_HEADER = "X-Owt-Cache"

#: ``hit``: answered without running the adaptor (stored entry, pin, or a
#: concurrent identical request's result); ``miss``: the adaptor ran for
#: this request; ``bypass``: the request did not ask for the cache.
CacheState = t.Literal["hit", "miss", "bypass"]
#: How a streamed response ended: all chunks sent, the adaptor raised
#: part-way, or the response was closed early (the client went away).
StreamEnd = t.Literal["completed", "failed", "closed"]

# Headers that describe one transfer rather than the response itself.
_UNSTORED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "Date",
        "Server",
        "X-Request-Id",
        CACHE_HEADER,
    )
)


#: What an entry costs beyond its body and headers: its key (a digest) and
#: the objects that hold it, measured at about 400 bytes on CPython 3.11.
ENTRY_OVERHEAD = 512


@dataclasses.dataclass(frozen=True)
class CachedResponse:
    """A stored response: status, headers and either bytes or stream chunks."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    chunks: tuple[bytes, ...] | None = None
    #: False for a stream that failed part-way: only shared with the
    #: requests that waited for it, never stored, and replayed as it ended.
    complete: bool = True

    @functools.cached_property
    def size(self) -> int:
        """Bytes this entry counts against the bound: body, headers, and
        :data:`ENTRY_OVERHEAD` for its key and bookkeeping, so that even an
        empty response costs something and the bound holds."""
        body = len(self.body) if self.chunks is None else sum(map(len, self.chunks))
        headers = sum(len(k) + len(v) for k, v in self.headers)
        return body + headers + ENTRY_OVERHEAD

    @property
    def ok(self) -> bool:
        """Whether this may be stored: only complete 2xx responses are."""
        return 200 <= self.status < 300 and self.complete

    def to_response(self) -> Response:
        """A fresh response replaying this entry (a stream stays a stream,
        and a plain stream that failed is cut off again where it failed)."""
        headers = Headers(list(self.headers))
        if self.chunks is None:
            return Response(self.body, status=self.status, headers=headers)
        chunks: cabc.Iterator[bytes] = iter(self.chunks)
        if not self.complete and not is_event_stream(headers):
            chunks = _cut_off(self.chunks)
        return Response(chunks, status=self.status, headers=headers)

    def describe(self) -> dict[str, t.Any]:
        """A short JSON-able description, for the stats endpoint."""
        return {
            "status": self.status,
            "bytes": self.size,
            "content_type": dict(self.headers).get("Content-Type"),
            "stream": self.chunks is not None,
        }


def _cut_off(chunks: tuple[bytes, ...]) -> cabc.Iterator[bytes]:
    yield from chunks
    raise StreamAborted("a shared stream that failed part-way (logged above)")


def storable_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    """The headers worth replaying: all but the per-transfer ones."""
    return tuple(
        (name, value)
        for name, value in headers.items()
        if name.lower() not in _UNSTORED_HEADERS
    )


_FORMAT = b"owt-entry-1\n"


def encode_entry(entry: CachedResponse) -> bytes:
    """``entry`` as bytes for a shared store: a JSON line, then the body
    (a stream's chunks joined; the line holds their lengths). No pickle: a
    store's contents must never be able to run code in owt."""
    chunks = entry.chunks
    meta = {
        "status": entry.status,
        "headers": [list(pair) for pair in entry.headers],
        "chunks": None if chunks is None else [len(c) for c in chunks],
        "complete": entry.complete,
    }
    body = entry.body if chunks is None else b"".join(chunks)
    return _FORMAT + json.dumps(meta).encode() + b"\n" + body


def decode_entry(data: bytes) -> CachedResponse:
    """The entry :func:`encode_entry` wrote.

    :raises ValueError: for bytes it did not write.
    """
    if not data.startswith(_FORMAT):
        raise ValueError("not an owt cache entry")
    line, _, body = data[len(_FORMAT) :].partition(b"\n")
    meta = json.loads(line)
    headers = tuple((str(k), str(v)) for k, v in meta["headers"])
    lengths = meta["chunks"]
    if lengths is None:
        return CachedResponse(int(meta["status"]), headers, body)
    if sum(lengths) != len(body):
        raise ValueError("a cache entry's chunks don't add up to its body")
    chunks, start = [], 0
    for length in lengths:
        chunks.append(body[start : start + length])
        start += length
    return CachedResponse(
        int(meta["status"]), headers, chunks=tuple(chunks), complete=meta["complete"]
    )
