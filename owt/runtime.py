"""The server's options (``args``) and the running server (``Server.sing()``).

Kept in a module of their own so that ``python -m owt.server``, which loads
``owt/server.py`` twice (as ``__main__`` and as ``owt.server``), still has one
set of them.
"""

from __future__ import annotations

import dataclasses
import os
import time
import typing as t

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 9876


@dataclasses.dataclass
class ServeOptions:
    """Everything ``owt serve`` can be told. Adaptors see a copy as ``args``."""

    address: str = DEFAULT_ADDRESS
    port: int = DEFAULT_PORT
    auth: str | None = None
    verbose: int = 0
    allow_origins: tuple[str, ...] = ()
    max_request_mb: float = 32.0
    max_code_kb: float = 1024.0
    max_kwargs_depth: int = 64
    code_cache_size: int = 256
    cache_mb: float = 512.0
    cache_ttl: float | None = None
    max_concurrency: int = 256
    header_timeout: float = 10.0
    processes: int = 1
    hide_tracebacks: bool = False
    # Process executor (owt.workers): where adaptors run, and their limits.
    executor: str = "inline"
    workers: int = 0
    timeout: float | None = None
    grace: float = 3.0
    worker_env: tuple[str, ...] = ()

    def copy(self) -> ServeOptions:
        """An independent copy, so an adaptor can't change the server's own."""
        return dataclasses.replace(self)

    @classmethod
    def from_env(cls) -> ServeOptions:
        """Defaults, overridden by the ``OWT_*`` environment variables."""
        opts = cls()
        if "OWT_ADDRESS" in os.environ:
            opts.address = os.environ["OWT_ADDRESS"]
        if "OWT_PORT" in os.environ:
            opts.port = int(os.environ["OWT_PORT"])
        if os.environ.get("OWT_AUTH"):
            opts.auth = os.environ["OWT_AUTH"]
        return opts


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
