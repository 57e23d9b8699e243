"""The Ray executor: adaptors run on the slots (Ray actors) of a cluster.

``owt serve --executor ray --ray-address HOST:PORT --slots N`` answers each
request here, in the HTTP front, which never runs adaptor code itself:

- **Routing.** A call goes to a free slot that holds its code warm, else to
  any free slot (which then loads it); when this front end has a call on
  every slot, 503. Slots are named, so every front end on the cluster
  shares them; each slot runs one call at a time.
- **Time limits.** ``--timeout`` (or a smaller per-request ``timeout``)
  bounds each stretch of adaptor work: up to the result or first chunk, and
  from one chunk to the next. Past it the client gets 504, the call is
  cancelled (a stream stops at its next chunk), and a slot still busy
  ``--grace`` seconds later is killed, and so restarted by Ray.
- **Cancelling.** A client that disconnects, or
  ``DELETE /_owt/requests/<request_id>``, stops the call the same way.
- **Crashes.** A slot whose process dies fails the call it was running
  (502) and is restarted by Ray.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import typing as t

import ray
import ray.exceptions
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from owt.errors import AdaptorTimeout
from owt.errors import Overloaded
from owt.errors import RequestCancelled
from owt.errors import WorkerDied
from owt.errors import error_from_data
from owt.executors.process.environ import call_fields
from owt.executors.process.environ import client_gone_probe
from owt.executors.ray.config import NAMESPACE
from owt.executors.ray.config import slot_config
from owt.executors.ray.slot import CONCURRENCY_GROUPS
from owt.executors.ray.slot import Message
from owt.executors.ray.slot import SlotRunner
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

#: How often a waiting request looks for a cancel or its client leaving.
POLL_S = 0.2
#: How long ``/_owt/workers`` waits for a slot to describe itself.
DESCRIBE_S = 2.0


@dataclasses.dataclass
class _Slot:
    """This front end's view of one slot."""

    index: int
    actor: t.Any
    warm: set[str] = dataclasses.field(default_factory=set)
    running: int = 0
    restarts: int = 0


@dataclasses.dataclass
class _RayCall:
    """One call running on a slot."""

    request_id: str
    slot: _Slot
    generator: t.Any = None
    finished: bool = False
    cancelled: bool = False
    stop_reason: str | None = None


class RayExecutor:
    """Runs each call on one of the cluster's owt slots."""

    keeps_body = True

    def __init__(self, options: ServeOptions) -> None:
        self.config = slot_config(options)
        ray.init(
            address=self.config.address,
            namespace=NAMESPACE,
            logging_level=logging.WARNING,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
        # (ray.remote's type hints don't list concurrency_groups.)
        as_actor = t.cast(t.Any, ray.remote)
        runner = as_actor(concurrency_groups=CONCURRENCY_GROUPS)(SlotRunner)
        settings = dataclasses.asdict(options)
        self.slots = [
            _Slot(
                index,
                runner.options(
                    name=f"owt-slot-{index}",
                    get_if_exists=True,
                    lifetime="detached",
                    max_restarts=-1,
                    max_task_retries=0,
                    **self.config.resources,
                ).remote(index, settings, self.config.resources),
            )
            for index in range(self.config.slots)
        ]
        self.cond = threading.Condition()
        self._calls: dict[str, _RayCall] = {}

    # -- answering a request ---------------------------------------------

    def run(self, call: Call, watcher: StreamWatcher | None = None) -> Response:
        """Run ``call`` on a slot and relay its response.

        :raises OwtError: for a bad request, a failing adaptor, a timeout
            (504), a dead slot (502), a cancel (409) or no free slot (503).
        """
        message, body = call_fields(call)
        running = self._start(call, message, body)
        timeout = call.time_limit(self.config.timeout)
        client = client_gone_probe(call.http.environ if call.http else {})
        first = self._next(running, timeout, client)
        if first["op"] == "result":
            self._finish(running)
            return Response(first["body"], first["status"], first["headers"])
        if first["op"] == "start":
            chunks = relay(
                self._chunks(running, timeout, client),
                sse=is_event_stream(Headers(first["headers"])),
                request_id=call.request_id,
                watcher=watcher,
            )
            next(chunks)  # started, so closing it unread still stops the call
            return Response(chunks, first["status"], first["headers"])
        self._finish(running)
        raise error_from_data(first)

    def _start(self, call: Call, message: Message, body: bytes) -> _RayCall:
        with self.cond:
            free = [s for s in self.slots if s.running == 0]
            warm = [s for s in free if call.digest in s.warm]
            if not free:
                raise Overloaded(
                    f"Every slot (--slots {len(self.slots)}) is running a request; "
                    "retry shortly."
                )
            slot = (warm or free)[0]
            slot.running += 1
            slot.warm.add(call.digest)
            running = _RayCall(call.request_id, slot)
            self._calls[call.request_id] = running
        running.generator = slot.actor.run.options(
            num_returns="streaming", concurrency_group="calls"
        ).remote(message, body)
        return running

    def _next(
        self, running: _RayCall, timeout: float | None, client: ClientGone | None
    ) -> Message:
        """The call's next message; or the error that ends it for the client."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if running.cancelled:  # looked at first: a fast stream is always ready
                self.stop(running, "cancelled")
                raise RequestCancelled(
                    f"Request {running.request_id} was cancelled "
                    "(DELETE /_owt/requests/...)."
                )
            wait = POLL_S
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            ready, _ = ray.wait([running.generator], timeout=wait)
            if ready:
                return self._take(running)
            if deadline is not None and time.monotonic() >= deadline:
                self.stop(running, "timeout")
                raise AdaptorTimeout(
                    f"The adaptor ran for more than {timeout:g} s (the time limit) "
                    "and was stopped.",
                    timeout=timeout,
                )
            if client is not None and client():
                self.stop(running, "disconnected")
                raise RequestCancelled(
                    "The client went away; the request was cancelled."
                )

    def _take(self, running: _RayCall) -> Message:
        try:
            ref = next(running.generator)
            message: Message = ray.get(ref)
        except StopIteration:
            self._finish(running)
            raise WorkerDied("The slot ended the call without an answer.") from None
        except ray.exceptions.TaskCancelledError:
            if running.stop_reason is None:
                self._finish(running)
            # else the slot may still be running it: _kill_lingering decides
            raise RequestCancelled(
                f"Request {running.request_id} was cancelled."
            ) from None
        except ray.exceptions.RayActorError as e:
            self._lost(running)
            raise WorkerDied(
                f"Slot {running.slot.index} died while running the call "
                f"({type(e).__name__}); Ray restarts it.",
                worker=running.slot.index,
            ) from None
        if message["op"] in ("result", "error", "end"):
            self._finish(running)
        return message

    def _chunks(
        self, running: _RayCall, timeout: float | None, client: ClientGone | None
    ) -> Source:
        """The slot's chunks as they come; closing this early stops the call."""
        try:
            while True:
                message = self._next(running, timeout, client)
                if message["op"] == "chunk":
                    yield message["data"]
                elif message["op"] == "end":
                    return t.cast("StreamEnd", message["outcome"])
                else:
                    raise error_from_data(message)
        finally:
            if not running.finished:
                self.stop(running, "disconnected")

    # -- stopping calls --------------------------------------------------

    def stop(self, running: _RayCall, reason: str) -> None:
        """Cancel ``running``; kill its slot if it is still busy after --grace."""
        with self.cond:
            if running.stop_reason is not None or running.finished:
                return
            running.stop_reason = reason
        log.info(
            "stopping request %s on slot %d: %s",
            running.request_id,
            running.slot.index,
            reason,
        )
        ray.cancel(running.generator)
        timer = threading.Timer(self.config.grace, self._kill_lingering, (running,))
        timer.daemon = True
        timer.start()

    def _kill_lingering(self, running: _RayCall) -> None:
        # A cancelled call's generator reports the cancel at once, even when
        # the slot is still in the adaptor's code: ask the slot itself.
        actor = running.slot.actor
        try:
            ref = actor.current_call.options(concurrency_group="admin").remote()
            still = ray.get(ref, timeout=DESCRIBE_S) == running.request_id
        except (ray.exceptions.RayError, TimeoutError):
            still = True
        if running.finished:
            return
        if not still:
            self._finish(running)
            return
        log.warning(
            "slot %d still runs request %s (%s) after %g s (--grace): killing it",
            running.slot.index,
            running.request_id,
            running.stop_reason,
            self.config.grace,
        )
        ray.kill(running.slot.actor, no_restart=False)
        self._lost(running)

    def _finish(self, running: _RayCall) -> None:
        with self.cond:
            if running.finished:
                return
            running.finished = True
            running.slot.running -= 1
            self._calls.pop(running.request_id, None)
            self.cond.notify_all()

    def _lost(self, running: _RayCall) -> None:
        with self.cond:
            running.slot.warm.clear()
            running.slot.restarts += 1
        self._finish(running)

    def cancel(self, request_id: str) -> bool:
        """Cancel the running request ``request_id`` (its ``X-Request-Id``)."""
        with self.cond:
            running = self._calls.get(request_id)
            if running is None:
                return False
            running.cancelled = True
        return True

    # -- the slots -------------------------------------------------------

    def warm_count(self) -> int:
        """How many distinct codes this front end has sent to some slot."""
        with self.cond:
            return len({d for slot in self.slots for d in slot.warm})

    def describe(self) -> dict[str, t.Any]:
        """The executor and each slot, for ``GET /_owt/workers``."""
        return {
            "executor": "ray",
            "address": self.config.address,
            "timeout": self.config.timeout,
            "grace": self.config.grace,
            "workers": [self._describe(slot) for slot in self.slots],
        }

    def _describe(self, slot: _Slot) -> dict[str, t.Any]:
        mine = {
            "index": slot.index,
            "name": f"owt-slot-{slot.index}",
            "state": "busy" if slot.running else "ready",
            "in_flight": slot.running,
            "restarts": slot.restarts,
        }
        try:
            ref = slot.actor.describe.options(concurrency_group="admin").remote()
            return {**mine, **ray.get(ref, timeout=DESCRIBE_S)}
        except (ray.exceptions.RayError, TimeoutError) as e:
            return {**mine, "state": "unavailable", "error": type(e).__name__}

    def close(self) -> None:
        """Leave the slots running: they are the cluster's, shared."""
