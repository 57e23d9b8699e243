"""The executor seam: what the server asks of whatever runs adaptor code.

``inline`` (the default) runs adaptors in the server's own threads;
``process`` runs them in supervised worker processes (see
:mod:`owt.workers.supervisor`). The server only calls what
:class:`Executor` names, so it does not care which one it has.
"""

from __future__ import annotations

import collections.abc as cabc
import typing as t

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from owt.cache import ResponseCache
    from owt.request import Call
    from owt.runtime import ServeOptions

EXECUTORS = ("inline", "process")


class Executor(t.Protocol):
    """Runs calls and answers with responses."""

    @property
    def code_cache(self) -> cabc.Sized:
        """The warm code (``len()`` is what ``/_owt/health`` reports)."""

    @property
    def response_cache(self) -> ResponseCache:
        """The response cache in front of the adaptors."""

    def respond(self, call: Call, digest: str) -> Response:
        """Answer ``call`` (code with that digest) with a response."""


def create_executor(options: ServeOptions) -> Executor:
    """The executor ``options.executor`` names.

    :raises ValueError: for an unknown executor or bad process settings.
    """
    kind = getattr(options, "executor", "inline")
    if kind == "inline":
        from owt.handler import InlineExecutor

        return InlineExecutor(options)
    if kind == "process":
        from owt.workers.supervisor import ProcessExecutor

        return ProcessExecutor(options)
    raise ValueError(f"--executor must be one of {', '.join(EXECUTORS)}, not {kind!r}.")
