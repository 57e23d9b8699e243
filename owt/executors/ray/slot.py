"""A Ray slot: the actor that runs adaptor code for owt's front ends.

One actor per slot, named ``owt-slot-N`` in the ``owt`` namespace, so every
front end connected to the cluster shares it. It runs one call at a time
(its ``calls`` concurrency group has one thread) exactly as the inline
executor does, inside a Flask request context rebuilt from the HTTP request,
and keeps loaded code warm. :meth:`SlotRunner.run` is a streaming generator
of messages:

- ``result``: the whole response (status, headers, body);
- ``start``, then ``chunk`` ... and ``end``: a stream, chunk by chunk;
- ``error``: an :class:`~owt.errors.OwtError` as plain data.

``describe`` runs in a group of its own, so ``/_owt/workers`` answers while
a call runs.
"""

from __future__ import annotations

import os
import typing as t

from flask import Flask

from owt import startup
from owt.errors import OwtError
from owt.errors import error_to_data
from owt.execute import adaptor_failure
from owt.executors.inline import InlineExecutor
from owt.executors.process.environ import rebuild_environ
from owt.executors.process.environ import rebuilt_call
from owt.executors.relay import StreamOutcome
from owt.options import ServeOptions

Message = dict[str, t.Any]
#: The actor's concurrency groups: calls one at a time, and describing.
CONCURRENCY_GROUPS = {"calls": 1, "admin": 1}


class SlotRunner:
    """The actor's class (made a Ray actor by the executor)."""

    def __init__(
        self, index: int, options: dict[str, t.Any], resources: dict[str, t.Any]
    ) -> None:
        self.index = index
        self.resources = resources
        served = ServeOptions(**options)
        startup.prepare_process(served, log_prefix=f"slot {index} [{os.getpid()}] ")
        self.app = Flask("owt.executors.ray.slot")
        self.executor = InlineExecutor(served)
        self.max_kwargs_depth = served.max_kwargs_depth
        self.calls = 0
        self.current: str | None = None

    def run(self, call: Message, body: bytes) -> t.Iterator[Message]:
        """Run one call; yield its response as messages (see the module)."""
        self.calls += 1
        self.current = call["request_id"]
        try:
            environ = rebuild_environ(call["environ"], body)
            with self.app.request_context(environ) as context:
                yield from self._respond(call, context.request)
        finally:
            self.current = None

    def current_call(self) -> str | None:
        """The request id of the call running now, if any."""
        return self.current

    def _respond(self, message: Message, request: t.Any) -> t.Iterator[Message]:
        ending = StreamOutcome()
        try:
            request_id = message["request_id"]
            call = rebuilt_call(message, request, request_id, self.max_kwargs_depth)
            response = self.executor.run(call, ending)
        except OwtError as e:
            yield {"op": "error", **error_to_data(e)}
            return
        except BaseException as e:
            yield {"op": "error", **error_to_data(adaptor_failure(e, "running"))}
            return
        head = {
            "status": response.status_code,
            "headers": response.headers.to_wsgi_list(),
        }
        if not response.is_streamed:
            try:
                yield {"op": "result", **head, "body": response.get_data()}
            finally:
                response.close()
            return
        yield {"op": "start", **head}
        try:
            for chunk in response.iter_encoded():
                if chunk:
                    yield {"op": "chunk", "data": chunk}
        finally:
            response.close()  # runs the adaptor's own clean-up, also on cancel
        yield {"op": "end", "outcome": ending.outcome or "completed"}

    def describe(self) -> dict[str, t.Any]:
        """Where this slot runs and what it holds warm."""
        import ray

        context = ray.get_runtime_context()
        return {
            "pid": os.getpid(),
            "node_id": context.get_node_id(),
            "node_ip": t.cast(t.Any, ray.util).get_node_ip_address(),
            "warm": sorted(self.executor.code_cache.digests()),
            "resources": self.resources,
            "calls": self.calls,
            "running": self.current,
        }
