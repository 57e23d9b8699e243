"""Close connections whose request headers take too long to arrive (issue 7).

A socket timeout bounds each read, but a client that sends one byte every
few seconds never trips it and holds its connection (and thread) forever.
:class:`HeaderDeadlines` bounds the whole header phase instead: the server
arms a deadline when it starts reading a request and disarms it once the
headers are parsed; one background thread shuts down the sockets whose
deadline passed. Arming costs a dictionary insert, not a thread per request.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time


class HeaderDeadlines:
    """Deadlines on sockets, enforced by one daemon thread.

    :param tick: how often (seconds) the thread looks for expired deadlines;
        a deadline fires at most this late.
    """

    def __init__(self, tick: float = 0.2) -> None:
        self._tick = tick
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, socket.socket]] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, seconds: float) -> int:
        """Shut ``sock`` down in ``seconds`` unless disarmed first."""
        if self._pid != os.getpid():
            self._reset()  # a forked child: the parent's thread isn't here
        token = next(self._tokens)
        with self._lock:
            self._entries[token] = (time.monotonic() + seconds, sock)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="owt-header-deadlines", daemon=True
                )
                self._thread.start()
        return token

    def disarm(self, token: int) -> bool:
        """Cancel a deadline; False if it had already fired."""
        with self._lock:
            return self._entries.pop(token, None) is not None

    def _watch(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:
                expired = [
                    token
                    for token, (deadline, _) in self._entries.items()
                    if deadline <= now
                ]
                socks = [self._entries.pop(token)[1] for token in expired]
            for sock in socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed
