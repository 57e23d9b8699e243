"""Messages between owt's HTTP front and its worker processes.

Each side holds one end of a Unix socket pair. A message is one frame::

    !IQ prefix   header length (4 bytes), payload length (8 bytes)
    header       a pickled dict with an ``op`` and small fields
    payload      raw bytes (a request body, a response body or one chunk)

Bodies travel as the payload, outside the pickle, so a 10 MB response is
copied once into the socket and once out of it.

The front reads the worker's headers with :class:`PlainUnpickler`, which
builds only plain data (no classes are looked up), so what a worker writes
can't make the front run code. The worker trusts the front's pickles, which
carry the call's arguments.

Front to worker: ``config``, ``call`` (payload: the request body), ``cancel``,
``credit`` (stream flow control). Worker to front: ``ready``, ``result``
(payload: the whole body), ``start`` then ``chunk`` (payload) ... ``end``
for a stream, and ``error``. Every call ends with exactly one ``result``,
``end`` or ``error``, which frees its place on the worker.
"""

from __future__ import annotations

import io
import pickle
import socket
import struct
import threading
import typing as t

from owt.errors import ChannelClosed
from owt.errors import ProtocolError

Header = dict[str, t.Any]

_PREFIX = struct.Struct("!IQ")
#: A header is small; anything bigger is a broken or hostile peer.
_MAX_HEADER = 256 * 1024 * 1024
#: The largest payload one message may carry (a whole non-streamed body).
MAX_PAYLOAD = 2 * 1024 * 1024 * 1024

#: Stream flow control: a worker may be this far ahead of the HTTP client.
WINDOW_CHUNKS = 8
WINDOW_BYTES = 1024 * 1024


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any class or function lookup is refused."""

    def find_class(self, module: str, name: str) -> t.Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


class Channel:
    """One end of the socket pair, framing messages. ``send`` is thread-safe;
    one thread at a time may ``recv``."""

    def __init__(self, sock: socket.socket, trust_peer: bool) -> None:
        self.sock = sock
        self._trust_peer = trust_peer
        self._reader = sock.makefile("rb", buffering=256 * 1024)
        self._send_lock = threading.Lock()
        self._closed = False

    def send(self, header: Header, payload: bytes | memoryview = b"") -> None:
        """Send one message.

        :raises ChannelClosed: if the peer is gone.
        """
        head = pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL)
        parts: list[bytes | memoryview] = [_PREFIX.pack(len(head), len(payload)), head]
        if payload:
            parts.append(payload)
        try:
            with self._send_lock:
                _send_all(self.sock, parts)
        except OSError as e:
            raise ChannelClosed(str(e)) from None

    def recv(self) -> tuple[Header, bytes]:
        """The next message.

        :raises ChannelClosed: at the end of the stream.
        :raises ProtocolError: for a malformed frame.
        """
        try:
            prefix = self._reader.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise ChannelClosed("end of stream")
            head_len, payload_len = _PREFIX.unpack(prefix)
            if head_len > _MAX_HEADER:
                raise ProtocolError(f"header of {head_len} bytes")
            if payload_len > MAX_PAYLOAD:
                raise ProtocolError(f"payload of {payload_len} bytes")
            head = self._reader.read(head_len)
            payload = self._reader.read(payload_len) if payload_len else b""
        except (OSError, ValueError) as e:
            raise ChannelClosed(str(e)) from None
        except (MemoryError, OverflowError) as e:
            raise ProtocolError(f"a frame too large to read: {e!r}") from None
        if len(head) < head_len or len(payload) < payload_len:
            raise ChannelClosed("end of stream inside a message")
        header = self._load(head)
        if not isinstance(header, dict) or "op" not in header:
            raise ProtocolError(f"not a message header: {type(header).__name__}")
        return header, payload

    def _load(self, head: bytes) -> t.Any:
        try:
            if self._trust_peer:
                return pickle.loads(head)
            return PlainUnpickler(io.BytesIO(head)).load()
        except Exception as e:
            raise ProtocolError(f"unreadable header: {e}") from None

    def close(self) -> None:
        """Close this end; a ``recv`` blocked in another thread returns."""
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self._reader.close()
        except OSError:
            pass


def _send_all(sock: socket.socket, parts: list[bytes | memoryview]) -> None:
    views = [memoryview(p) for p in parts if len(p)]
    while views:
        sent = sock.sendmsg(views)
        while sent:
            first = views[0]
            if sent >= len(first):
                sent -= len(first)
                views.pop(0)
            else:
                views[0] = first[sent:]
                sent = 0
