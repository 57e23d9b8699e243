"""Make owt's own server modules read-only while it serves (issue 7).

Adaptor code runs in the server's process and may ``import owt.server``. An
adaptor that rebinds one of its names (``owt.server.read_call = None``) would
otherwise break every later request, whoever sends it. Once serving starts,
:func:`seal_server_modules` swaps the class of each module on the request
path for one whose attributes can't be set or deleted, so such an adaptor
gets a clear ``AttributeError`` and nobody else notices.

This guards against accidents, not malice: code that owt runs can still
reach into a module's ``__dict__``, patch Flask or the standard library, or
end the process. Only running adaptors in another process isolates that.
"""

from __future__ import annotations

import sys
import types
import typing as t

from owt.errors import SealedModuleError

#: The plain (non-package) modules a request passes through. Packages stay
#: open: importing a submodule sets an attribute on its package.
SERVER_MODULES = (
    "owt.server",
    "owt.runtime",
    "owt.options",
    "owt.startup",
    "owt.extension",
    "owt.routes.adaptor",
    "owt.routes.admin",
    "owt.errorhandler",
    "owt.accesslog",
    "owt.security",
    "owt.request",
    "owt.codec",
    "owt.execute",
    "owt.executors.inline",
    "owt.executors.relay",
    "owt.response",
    "owt.sse",
    "owt.errors",
    "owt.capture",
    "owt.limits",
    "owt.cache.entry",
    "owt.cache.keys",
    "owt.cache.memory",
    "owt.cache.respond",
    "owt.cache.store",
    "owt.cache.redis_store",
    "owt.serving",
    "owt.front",
    "owt.logformat",
    "owt.sealing",
)


class SealedModule(types.ModuleType):
    """A module whose attributes can be read but not rebound or deleted."""

    def __setattr__(self, name: str, value: t.Any) -> None:
        raise SealedModuleError(_refusal(self.__name__, name))

    def __delattr__(self, name: str) -> None:
        raise SealedModuleError(_refusal(self.__name__, name))


def _refusal(module: str, name: str) -> str:
    return (
        f"{module}.{name} can't be changed while owt serves: the server "
        "relies on it for every request. Keep state in your adaptor's own "
        "module instead."
    )


def seal(module: types.ModuleType) -> None:
    """Make ``module``'s attributes read-only (idempotent)."""
    if not isinstance(module, SealedModule):
        module.__class__ = SealedModule


def seal_server_modules(extra: t.Iterable[str] = ()) -> list[str]:
    """Seal every loaded module of :data:`SERVER_MODULES` and ``extra``.

    :returns: the names of the modules sealed.
    """
    sealed = []
    for name in (*SERVER_MODULES, *extra):
        module = sys.modules.get(name)
        if module is not None and not hasattr(module, "__path__"):
            seal(module)
            sealed.append(name)
    return sealed
