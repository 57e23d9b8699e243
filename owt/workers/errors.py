"""Errors of the process executor, and errors carried back from a worker."""

from __future__ import annotations

from owt.errors import AdaptorTimeout
from owt.errors import OwtError
from owt.workers.protocol import Header

#: A call stopped by the server before it finished: 504 with kind "timeout".
WorkerTimeout = AdaptorTimeout


class RequestCancelled(OwtError):
    """The request was cancelled (``DELETE /_owt/requests/<id>``) or its
    client went away, and its adaptor was stopped."""

    status = 409
    kind = "cancelled"


def _error_classes() -> dict[str, type[OwtError]]:
    found: dict[str, type[OwtError]] = {}
    todo: list[type[OwtError]] = [OwtError]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


def rebuild_error(header: Header) -> OwtError:
    """The :class:`OwtError` a worker reported, as the same class when owt
    knows it (the kind and status always come from the worker)."""
    cls = _error_classes().get(str(header.get("error_class")), OwtError)
    message = str(header.get("message", "the worker reported an error"))
    details = header.get("details")
    error = cls.__new__(cls)
    OwtError.__init__(error, message, **(details if isinstance(details, dict) else {}))
    status, kind = header.get("status"), header.get("kind")
    if isinstance(status, int) and status != cls.status:
        error.status = status  # type: ignore[misc]
    if isinstance(kind, str) and kind != cls.kind:
        error.kind = kind  # type: ignore[misc]
    return error


__all__ = ["RequestCancelled", "WorkerTimeout", "rebuild_error"]
