"""Run owt's WSGI app behind granian's ASGI interface (``--executor process``).

granian speaks WSGI itself, but a WSGI app there can't learn that its
client hung up (so a long adaptor call can't be cancelled when its caller
gives up), and a body that trickles in holds a thread with no time limit.
This bridge takes granian's asynchronous interface instead (ASGI, whose
``send`` waits while the client is slow to read, so a stream never piles up
in memory) and runs the WSGI app on a pool of threads:

- a small body (or none) is read on the event loop before the app runs, so
  a client slow to send it holds no thread; a larger one is read as the app
  asks for it. Each wait for more of it is bounded by ``body_timeout``, then
  reading fails with :class:`BodyTimeout` (owt answers 408);
- ``environ[CLIENT_GONE_KEY]`` is a callable telling whether the client
  has disconnected (known once the body has been read);
- a response that declares a ``Content-Length`` of at most
  :data:`WHOLE_BYTES` is read and sent whole, with the length of what the
  app yielded; a longer one (a file an adaptor returned) is streamed, held
  to the length it declared; any other is streamed chunk by chunk as the
  app's iterator yields. A stream's iterator is closed (the app's clean-up
  runs) when the client goes away.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import sys
import threading
import typing as t
from urllib.parse import quote
from urllib.parse import unquote_to_bytes

from owt.errors import BodyTimeout

log = logging.getLogger("owt")

WSGIApp = t.Callable[..., t.Iterable[bytes]]
Message = dict[str, t.Any]
Receive = t.Callable[[], t.Awaitable[Message]]
Send = t.Callable[[Message], t.Awaitable[None]]

#: The environ key of a callable telling whether the client has hung up.
CLIENT_GONE_KEY = "owt.client_gone"
ClientGone = t.Callable[[], bool]
#: How often a stream waiting for a slow reader looks whether it has left.
_GONE_CHECK_SECONDS = 0.25
#: Bodies up to this size are read before the app runs, without a thread.
PREREAD_BYTES = 64 * 1024
#: A response that declares a length up to this is read and sent whole; a
#: longer one is streamed as the client reads, so a big file is never held
#: in memory.
WHOLE_BYTES = 1024 * 1024
#: Statuses whose responses never have a body.
_EMPTY = frozenset((204, 304))


class _ResponseStart:
    """``start_response``: records the status and headers the app chose."""

    __slots__ = ("status", "headers")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[str, str]] = []

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Callable[[bytes], None]:
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers
        return _no_write


def _no_write(data: bytes) -> None:
    raise RuntimeError("owt's front has no WSGI write(); return an iterable")


class _Request:
    """One request's body and connection, as seen from the event loop."""

    def __init__(
        self, receive: Receive, loop: asyncio.AbstractEventLoop, timeout: float
    ) -> None:
        self.receive = receive
        self.loop = loop
        self.timeout = timeout
        self.complete = False
        self.gone = threading.Event()
        self._watcher: asyncio.Future[None] | None = None
        self.finished = False

    async def next_chunk(self) -> bytes:
        """The next piece of the body (``b""`` once it is all read)."""
        while not self.complete:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.complete = True
                self.gone.set()
                break
            self.complete = not message.get("more_body", False)
            chunk = bytes(message.get("body", b""))
            if chunk:
                return chunk
        return b""

    async def read_all(self) -> bytes:
        parts = []
        while chunk := await self.next_chunk():
            parts.append(chunk)
        return b"".join(parts)

    def client_gone(self) -> bool:
        """Whether the client has disconnected (callable from any thread).

        Known once the body has been read: the first call then starts
        watching the connection, so requests nobody asks about cost nothing.
        """
        if self._watcher is None and self.complete and not self.gone.is_set():
            self._watcher = self.loop.create_future()  # a placeholder: once
            self.loop.call_soon_threadsafe(self._watch)
        return self.gone.is_set()

    def _watch(self) -> None:
        if not self.finished:
            self._watcher = self.loop.create_task(self._wait_for_disconnect())

    async def _wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.gone.set()

    def stop_watching(self) -> None:
        """The response is done: stop (or never start) watching."""
        self.finished = True
        if self._watcher is not None:
            self._watcher.cancel()


class _LazyBody(io.RawIOBase):
    """``wsgi.input`` for a large body: read off the event loop on demand."""

    def __init__(self, request: _Request) -> None:
        self._request = request
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        if not self._pending:
            self._pending = self._next_chunk()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next_chunk(self) -> bytes:
        request = self._request
        if request.complete:
            return b""
        future = asyncio.run_coroutine_threadsafe(request.next_chunk(), request.loop)
        try:
            return future.result(request.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BodyTimeout(
                f"The request body stopped arriving for {request.timeout:g} s "
                "(--header-timeout)."
            ) from None


class _TimedOutBody(io.RawIOBase):
    """``wsgi.input`` for a small body that didn't arrive in time."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: t.Any) -> int:
        raise BodyTimeout(
            f"The request body did not arrive within {self._timeout:g} s "
            "(--header-timeout)."
        )


class ASGIBridge:
    """An ASGI application that serves the WSGI app ``app``.

    :param threads: most requests the app runs at once (more wait for a thread).
    :param body_timeout: longest wait, in seconds, for more of a request body.
    """

    def __init__(
        self,
        app: WSGIApp,
        threads: int,
        body_timeout: float,
        on_shutdown: t.Sequence[t.Callable[[], None]] = (),
    ) -> None:
        self.app = app
        self.body_timeout = body_timeout
        #: Called when the server stops this process (ASGI lifespan).
        self.on_shutdown = list(on_shutdown)
        self.pool = concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="owt-request"
        )
        self.base_environ: dict[str, t.Any] = {
            "SCRIPT_NAME": "",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.input_terminated": True,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        """Serve one request (granian calls this on its event loop)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        loop = asyncio.get_running_loop()
        request = _Request(receive, loop, self.body_timeout)
        environ = self._environ(scope)
        environ["wsgi.input"] = await self._body(environ, request)
        environ[CLIENT_GONE_KEY] = request.client_gone
        try:
            start, whole, stream = await loop.run_in_executor(
                self.pool, self._call_app, environ
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": start.status,
                    # As granian's WSGI interface does: text as UTF-8.
                    "headers": [
                        (name.encode("latin-1"), value.encode())
                        for name, value in start.headers
                    ],
                }
            )
            if stream is None:
                await send({"type": "http.response.body", "body": whole})
            else:
                # A stream must learn of a client that left: watch now.
                request.client_gone()
                await loop.run_in_executor(
                    self.pool, _pump, stream, send, loop, request.gone
                )
        finally:
            request.stop_watching()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start at once; at shutdown, run :attr:`on_shutdown` first."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for callback in self.on_shutdown:
                    try:
                        callback()
                    except Exception:  # one failing hook doesn't stop the rest
                        log.exception("owt: a shutdown hook failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(self, environ: dict[str, t.Any], request: _Request) -> t.IO[bytes]:
        length = environ.get("CONTENT_LENGTH", "")
        if not length and "HTTP_TRANSFER_ENCODING" not in environ:
            request.complete = True  # no body: nothing to wait for
            return io.BytesIO(b"")
        if not (length.isdigit() and int(length) <= PREREAD_BYTES):
            return io.BufferedReader(_LazyBody(request))
        try:
            async with asyncio.timeout(self.body_timeout):
                return io.BytesIO(await request.read_all())
        except TimeoutError:
            return io.BufferedReader(_TimedOutBody(self.body_timeout))

    def _environ(self, scope: Message) -> dict[str, t.Any]:
        environ = dict(self.base_environ)
        server = scope.get("server") or ("", 0)
        client = scope.get("client") or ("", 0)
        # WSGI carries the path's bytes as latin-1 text; ASGI decoded them.
        raw_path = scope.get("raw_path")
        path = (
            unquote_to_bytes(raw_path).decode("latin-1")
            if raw_path
            else scope["path"].encode().decode("latin-1")
        )
        query = scope.get("query_string", b"").decode("latin-1")
        environ.update(
            REQUEST_METHOD=scope["method"],
            PATH_INFO=path,
            QUERY_STRING=query,
            SERVER_NAME=str(server[0]),
            SERVER_PORT=str(server[1]),
            SERVER_PROTOCOL=f"HTTP/{scope.get('http_version', '1.1')}",
            REMOTE_ADDR=str(client[0]),
            REMOTE_PORT=str(client[1]),
            RAW_URI=(raw_path.decode("latin-1") if raw_path else quote(path))
            + (f"?{query}" if query else ""),
        )
        environ["wsgi.url_scheme"] = scope.get("scheme", "http")
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
                continue
            key = "HTTP_" + name
            if key in environ:
                joiner = "; " if key == "HTTP_COOKIE" else ", "
                environ[key] = f"{environ[key]}{joiner}{value}"
            else:
                environ[key] = value
        return environ

    def _call_app(
        self, environ: dict[str, t.Any]
    ) -> tuple[_ResponseStart, bytes, t.Iterable[bytes] | None]:
        """Run the app; a body of known length is read whole here."""
        start = _ResponseStart()
        body = self.app(environ, start)
        if isinstance(body, list) or _has_length(start.headers):
            declared = _declared_length(start.headers)
            bodiless = environ["REQUEST_METHOD"] == "HEAD" or start.status in _EMPTY
            if declared is not None and declared > WHOLE_BYTES and not bodiless:
                # Iterated only where it is sent: a stream that enters the
                # request's context must leave it on the same thread.
                return start, b"", _HeldToLength(declared, body)
            try:
                whole = b"".join(body)
            finally:
                _close(body)
            if environ["REQUEST_METHOD"] != "HEAD":
                # The length sent is the body's, whatever the app claimed.
                start.headers = [
                    (name, value)
                    for name, value in start.headers
                    if name.lower() != "content-length"
                ] + [("Content-Length", str(len(whole)))]
            return start, whole, None
        return start, b"", body


def _has_length(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "content-length" for name, _ in headers)


def _declared_length(headers: list[tuple[str, str]]) -> int | None:
    """The ``Content-Length`` the app declared, if one valid number."""
    values = [value for name, value in headers if name.lower() == "content-length"]
    if len(values) == 1 and values[0].strip().isdigit():
        return int(values[0])
    return None


class LengthMismatch(Exception):
    """A streamed body yielded more or less than its ``Content-Length``."""


class _HeldToLength:
    """``body``'s chunks, checked against its declared ``length``; closing
    this (even before the first chunk) closes ``body``.

    :raises LengthMismatch: from ``next``, before yielding more than
        ``length`` bytes, or at the end if fewer came (the connection is then
        cut, never framed wrongly).
    """

    def __init__(self, length: int, body: t.Iterable[bytes]) -> None:
        self._length = length
        self._left = length
        self._body = body
        self._chunks: t.Iterator[bytes] | None = None

    def __iter__(self) -> _HeldToLength:
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = iter(self._body)
        try:
            chunk = next(self._chunks)
        except StopIteration:
            if self._left:
                raise LengthMismatch(
                    f"the response declared Content-Length {self._length} but "
                    f"ended {self._left} bytes short"
                ) from None
            raise
        if len(chunk) > self._left:
            raise LengthMismatch(
                f"the response declared Content-Length {self._length} but yielded more"
            )
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        _close(self._body)


def _close(body: t.Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _pump(
    body: t.Iterable[bytes],
    send: Send,
    loop: asyncio.AbstractEventLoop,
    gone: threading.Event,
) -> None:
    """Send each chunk the app yields as the client takes it; stop when it goes."""
    try:
        for chunk in body:
            if not chunk:
                continue
            if gone.is_set():
                return
            message = {"type": "http.response.body", "body": chunk, "more_body": True}
            if not _sent(
                asyncio.run_coroutine_threadsafe(_send(send, message), loop), gone
            ):
                return  # the client went away
        final = {"type": "http.response.body", "body": b"", "more_body": False}
        with contextlib.suppress(Exception):  # the client went away at the end
            asyncio.run_coroutine_threadsafe(_send(send, final), loop).result()
    finally:
        _close(body)


def _sent(sending: concurrent.futures.Future[None], gone: threading.Event) -> bool:
    """Wait for a chunk to go out, as long as the client is there to take it."""
    while True:
        try:
            sending.result(_GONE_CHECK_SECONDS)
            return True
        except concurrent.futures.TimeoutError:
            if gone.is_set():
                sending.cancel()
                return False
        except Exception:
            return False


async def _send(send: Send, message: Message) -> None:
    await send(message)
