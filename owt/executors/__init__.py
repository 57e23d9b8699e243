"""Executors: what runs adaptor code for the server.

``inline`` (the default, :mod:`owt.executors.inline`) runs adaptors in the
server's own threads; ``process`` (:mod:`owt.executors.process`) runs them
in supervised worker processes. The routes only call what :class:`Executor`
names. An executor runs a :class:`~owt.request.Call` and returns its
response, whole or streamed through :func:`owt.executors.relay.relay`; it
never reads Flask's request (the call carries what it needs) and knows
nothing of the response cache, which sits in front of it.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from owt.cache import StreamWatcher
    from owt.options import ServeOptions
    from owt.request import Call

EXECUTORS = ("inline", "process", "ray")


class Executor(t.Protocol):
    """Runs calls and answers with responses."""

    #: Whether it needs the request body byte for byte (read before owt
    #: parses a form out of it), to hand it on to another process.
    keeps_body: bool

    def warm_count(self) -> int:
        """How many distinct adaptors are loaded (for ``/_owt/health``)."""

    def run(self, call: Call, watcher: StreamWatcher | None = None) -> Response:
        """Run ``call`` and return its response; a stream tells ``watcher``
        its chunks and how it ended.

        :raises OwtError: for a bad request or a failing adaptor.
        """

    def cancel(self, request_id: str) -> bool:
        """Stop the running request ``request_id``; False if none runs.

        :raises CancelUnsupported: if this executor can't stop adaptors.
        """

    def describe(self) -> dict[str, t.Any]:
        """The executor and its workers, for ``GET /_owt/workers``."""

    def close(self) -> None:
        """Stop whatever the executor started."""


def create_executor(options: ServeOptions) -> Executor:
    """The executor ``options.executor`` names.

    :raises ValueError: for an unknown executor or bad process settings.
    """
    if options.executor == "inline":
        from owt.executors.inline import InlineExecutor

        return InlineExecutor(options)
    if options.executor == "process":
        from owt.executors.process.supervisor import ProcessExecutor

        return ProcessExecutor(options)
    if options.executor == "ray":
        from owt.executors.ray.executor import RayExecutor

        return RayExecutor(options)
    raise ValueError(
        f"--executor must be one of {', '.join(EXECUTORS)}, not {options.executor!r}."
    )
