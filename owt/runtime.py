"""The names adaptor code uses: ``args``, ``Server`` and the summat blocks.

``from owt.server import *`` re-exports them. They live here, not in
``owt/server.py``, so that ``python -m owt.server`` (which loads that file
twice, as ``__main__`` and as ``owt.server``) still has one ``args`` and one
running ``Server``.
"""

from __future__ import annotations

import os
import time
import typing as t

from owt.options import ServeOptions
from owt.summat import *  # noqa: F403
from owt.summat import __all__ as _summat_all

__all__ = ["Server", "args", *_summat_all]


#: The options the next call of ``owt.server.main()`` starts a server with.
#: The spec's meta example sets ``args.port`` and starts ``main`` in a child
#: process; ``owt serve`` fills it from the command line.
args = ServeOptions.from_env()


class Server:
    """The server this process is running, as adaptors see it.

    ``Server.sing()`` (the singleton) tells an adaptor where it is served:
    ``Server.sing().address`` and ``Server.sing().port``.
    """

    _instance: t.ClassVar[Server | None] = None

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.address = options.address
        self.port = options.port
        self.started_at = time.time()
        self.pid = os.getpid()

    @property
    def url(self) -> str:
        """The base URL of this server."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    @classmethod
    def sing(cls) -> Server:
        """The running server (or, before one starts, one built from ``args``)."""
        if cls._instance is None:
            return cls(args)
        return cls._instance

    @classmethod
    def install(cls, options: ServeOptions) -> Server:
        """Record ``options`` as the running server of this process."""
        cls._instance = cls(options)
        return cls._instance
