"""The process executor: adaptors run in supervised worker processes.

``owt serve --executor process --workers N`` answers each request here, in
the HTTP front, which never runs adaptor code itself:

- **Routing.** A call goes to a worker that already holds its code warm
  (the least busy of them); new code goes to the least busy worker. A worker
  runs at most ``--max-concurrency`` calls at once; when every warm worker is
  full, a free one gets the call (and so the code is loaded there too); when
  every worker is full, 503.
- **Time limits.** ``--timeout`` (or a smaller per-request ``timeout``)
  bounds each stretch of adaptor work: up to the result or first chunk, and
  from one chunk to the next. Past it the client gets 504, the worker
  interrupts the call (``KeyboardInterrupt``), and if it has not stopped
  ``--grace`` seconds later the worker is killed and replaced.
- **Cancelling.** A client that disconnects, or
  ``DELETE /_owt/requests/<request_id>``, stops the call the same way.
- **Crashes.** A worker that dies fails only the calls it was running (502,
  naming the signal or exit code) and is replaced.

The response cache sits in front of every executor, so hits never reach a
worker.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import pickle
import queue
import threading
import time
import typing as t
import uuid
import weakref

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.errors import AdaptorTimeout
from owt.errors import BadRequest
from owt.errors import ChannelClosed
from owt.errors import Overloaded
from owt.errors import OwtError
from owt.errors import RequestCancelled
from owt.errors import WorkerDied
from owt.errors import error_from_data
from owt.executors.process import config as cfg
from owt.executors.process.environ import call_fields
from owt.executors.process.environ import client_gone_probe
from owt.executors.process.protocol import WINDOW_BYTES
from owt.executors.process.protocol import WINDOW_CHUNKS
from owt.executors.process.protocol import Header
from owt.executors.process.slot import READY
from owt.executors.process.slot import STOPPED
from owt.executors.process.slot import Event
from owt.executors.process.slot import Pending
from owt.executors.process.slot import WorkerSlot
from owt.executors.relay import Source
from owt.executors.relay import relay
from owt.front import ClientGone
from owt.response import is_event_stream

if t.TYPE_CHECKING:
    from owt.cache import StreamEnd
    from owt.cache import StreamWatcher
    from owt.options import ServeOptions
    from owt.request import Call

log = logging.getLogger("owt")

#: How often a waiting request looks whether its client is still there.
_POLL_S = 0.2

_executors: weakref.WeakSet[ProcessExecutor] = weakref.WeakSet()


class ProcessExecutor:
    """Runs each call in one of a pool of supervised worker processes."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.config = cfg.pool_config(options)
        self.cond = threading.Condition()
        self.closing = False
        self._requests: dict[str, Pending] = {}
        self._ids = itertools.count()
        self._pid = os.getpid()
        self.slots = [
            WorkerSlot(
                index,
                env,
                options,
                self,
                self.config.max_concurrency,
                options.code_cache_size,
            )
            for index, env in enumerate(self.config.envs)
        ]
        _executors.add(self)
        atexit.register(self.close)
        for slot in self.slots:
            slot.start()

    # -- answering a request -------------------------------------------------

    keeps_body = True

    def warm_count(self) -> int:
        """How many distinct codes are warm in some worker."""
        with self.cond:
            return len({d for slot in self.slots for d in slot.warm})

    def run(self, call: Call, watcher: StreamWatcher | None = None) -> Response:
        """Run ``call`` in a worker and relay its response.

        :raises OwtError: for a bad request, a failing adaptor, a timeout
            (504), a dead worker (502), a cancel (409) or no free worker (503).
        """
        fields, body = call_fields(call)
        public_id = call.request_id or uuid.uuid4().hex[:16]
        timeout = call.time_limit(self.config.timeout)
        client = client_gone_probe(call.http.environ if call.http else {})
        pending = self._send_call(call, fields, body, public_id)
        op, header, payload = self._wait(pending, timeout, client)
        if op == "result":
            return Response(payload, status=header["status"], headers=header["headers"])
        if op == "start":
            source = self._chunks(pending, timeout, client)
            chunks = relay(
                source,
                sse=is_event_stream(Headers(header["headers"])),
                request_id=pending.public_id,
                watcher=watcher,
            )
            next(chunks)  # started, so closing it unread still stops the call
            return Response(chunks, status=header["status"], headers=header["headers"])
        raise self._failure(pending, op, header, timeout)

    def _send_call(
        self,
        call: Call,
        fields: dict[str, t.Any],
        body: bytes,
        public_id: str,
    ) -> Pending:
        from owt.runtime import Server

        server = Server.sing()
        header = {**fields, "op": "call", "server": (server.address, server.port)}
        pending = self._reserve(call.digest, public_id)
        header["id"] = pending.id
        try:
            if pending.channel is None:
                raise ChannelClosed("no channel")
            pending.channel.send(header, body)
        except ChannelClosed:
            pass  # the worker just died: its death fails this call too
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            self._unreserve(pending)
            raise BadRequest(
                "The arguments can't be sent to a worker process (they must be "
                f"plain data: JSON or Python literals): {e}"
            ) from None
        return pending

    def _reserve(self, digest: str, public_id: str) -> Pending:
        deadline = time.monotonic() + cfg.START_WAIT_S
        with self.cond:
            while True:
                if self.closing:
                    raise Overloaded("owt is shutting down.")
                slot = self._choose(digest)
                if slot is not None:
                    break
                if not any(s.state not in (READY, STOPPED) for s in self.slots):
                    limit = self.config.max_concurrency
                    raise Overloaded(
                        f"Every worker is already running {limit} requests "
                        "(--max-concurrency per worker); retry shortly."
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Overloaded(
                        f"No worker process became ready within {cfg.START_WAIT_S:g} "
                        "s; see owt's log."
                    )
                self.cond.wait(remaining)
            request_id = f"{public_id}.{next(self._ids)}"
            pending = Pending(request_id, public_id, digest, slot)
            slot.in_flight[request_id] = pending
            # Sticky from now on: concurrent first calls of this code follow
            # it here and wait for the one load instead of loading it again.
            slot.touch_warm(digest, True)
            self._requests[request_id] = pending
            return pending

    def _choose(self, digest: str) -> WorkerSlot | None:
        free = [s for s in self.slots if s.state == READY and s.has_room()]
        warm = [s for s in free if digest in s.warm]
        candidates = warm or free
        if not candidates:
            return None
        return min(candidates, key=lambda s: (len(s.in_flight), s.index))

    def _unreserve(self, pending: Pending) -> None:
        with self.cond:
            pending.slot.in_flight.pop(pending.id, None)
            self.forget(pending)
            self.cond.notify_all()

    def forget(self, pending: Pending) -> None:
        """Drop ``pending`` from the request table (call under ``cond``)."""
        self._requests.pop(pending.id, None)

    # -- waiting -------------------------------------------------------------

    def _wait(
        self, pending: Pending, timeout: float | None, client: ClientGone | None
    ) -> Event:
        """The call's next event; ``timeout``/``gone`` when the front gives up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL_S if client is not None else None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stop(pending, "timeout")
                    return "timeout", {}, b""
                wait = remaining if wait is None else min(wait, remaining)
            try:
                return pending.events.get(timeout=wait)
            except queue.Empty:
                pass
            if client is not None and client():
                self.stop(pending, "disconnected")
                return "gone", {}, b""

    def _failure(
        self, pending: Pending, op: str, header: Header, timeout: float | None
    ) -> OwtError:
        if op == "error":
            return error_from_data(header)
        if op == "died":
            return WorkerDied(header["message"], worker=header.get("worker"))
        if op == "timeout":
            return AdaptorTimeout(
                f"The adaptor ran for more than {timeout:g} s (the time limit) and "
                "was stopped.",
                timeout=timeout,
            )
        if op == "cancelled":
            return RequestCancelled(
                f"Request {pending.public_id} was cancelled "
                "(DELETE /_owt/requests/...)."
            )
        return RequestCancelled("The client went away; the request was cancelled.")

    # -- streams -------------------------------------------------------------

    def _chunks(
        self, pending: Pending, timeout: float | None, client: ClientGone | None
    ) -> Source:
        """The worker's chunks as they come, granting it room to send more;
        closing this early stops the call."""
        read_chunks = read_bytes = 0
        try:
            while True:
                try:
                    op, header, payload = pending.events.get_nowait()
                except queue.Empty:  # tell the worker what was read, then wait
                    read_chunks, read_bytes = self._credit(
                        pending, read_chunks, read_bytes
                    )
                    op, header, payload = self._wait(pending, timeout, client)
                if op == "chunk":
                    yield payload
                    read_chunks += 1
                    read_bytes += len(payload)
                    if (
                        read_chunks * 2 >= WINDOW_CHUNKS
                        or read_bytes * 2 >= WINDOW_BYTES
                    ):
                        read_chunks, read_bytes = self._credit(
                            pending, read_chunks, read_bytes
                        )
                elif op == "end":
                    return t.cast("StreamEnd", header.get("outcome", "completed"))
                elif op == "gone":
                    return "closed"
                else:
                    raise self._failure(pending, op, header, timeout)
        finally:
            if not pending.finished:
                self.stop(pending, "disconnected")

    def _credit(self, pending: Pending, chunks: int, size: int) -> tuple[int, int]:
        if chunks and not pending.finished and pending.channel is not None:
            with contextlib.suppress(ChannelClosed):
                pending.channel.send(
                    {"op": "credit", "id": pending.id, "chunks": chunks, "bytes": size}
                )
        return 0, 0

    # -- stopping calls ------------------------------------------------------

    def stop(self, pending: Pending, reason: str) -> None:
        """Interrupt ``pending`` in its worker; kill the worker if it lingers."""
        with self.cond:
            if pending.stop_reason is not None or pending.finished:
                return
            pending.stop_reason = reason
        log.info(
            "stopping request %s in worker %d: %s",
            pending.public_id,
            pending.slot.index,
            reason,
        )
        if pending.channel is not None:
            with contextlib.suppress(ChannelClosed):
                pending.channel.send({"op": "cancel", "id": pending.id})
        grace = self.config.grace
        timer = threading.Timer(grace, self._kill_lingering, (pending, reason))
        timer.daemon = True
        pending.kill_timer = timer
        timer.start()
        if pending.finished:
            timer.cancel()

    def _kill_lingering(self, pending: Pending, reason: str) -> None:
        if pending.finished:
            return
        pending.slot.kill(
            f"request {pending.public_id} was stopped ({reason}) and did not end "
            f"within {self.config.grace:g} s (--grace)",
            pending.generation,
        )

    def cancel(self, request_id: str) -> bool:
        """Cancel the in-flight request ``request_id`` (the ``X-Request-Id``).

        :returns: whether such a request was running.
        """
        with self.cond:
            found = [p for p in self._requests.values() if p.public_id == request_id]
        for pending in found:
            pending.events.put(("cancelled", {}, b""))
            self.stop(pending, "cancelled")
        return bool(found)

    # -- the pool ----------------------------------------------------------

    def describe(self) -> dict[str, t.Any]:
        """The executor and each worker, for ``GET /_owt/workers``."""
        with self.cond:
            workers = [slot.describe() for slot in self.slots]
        return {
            "executor": "process",
            "timeout": self.config.timeout,
            "grace": self.config.grace,
            "workers": workers,
        }

    def close(self) -> None:
        """Stop every worker (and what they started); idempotent."""
        if os.getpid() != self._pid:
            return  # a forked child: the workers are the parent's
        with self.cond:
            if self.closing:
                return
            self.closing = True
            self.cond.notify_all()
        for slot in self.slots:
            slot.stop()
        deadline = time.monotonic() + cfg.STOP_WAIT_S + 3
        for slot in self.slots:
            slot.join(max(0.1, deadline - time.monotonic()))

    def _forget_after_fork(self) -> None:
        self.closing = True
        self.cond = threading.Condition()
        for slot in self.slots:
            slot.forget_after_fork()


def _after_fork_in_child() -> None:
    for executor in list(_executors):
        executor._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
