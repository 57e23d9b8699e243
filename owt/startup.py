"""The one start-up sequence of a process that runs adaptors.

Every way owt starts runs :func:`prepare_process` before it serves: each
HTTP worker process of ``owt serve`` (and of ``owt.server.main()``), and
each worker process of the process executor.
"""

from __future__ import annotations

import typing as t

from owt import capture
from owt.logformat import configure_logging
from owt.options import ServeOptions
from owt.runtime import Server
from owt.runtime import args
from owt.sealing import seal_server_modules


def prepare_process(options: ServeOptions, log_prefix: str = "") -> None:
    """Set this process up to run adaptors for a server with ``options``.

    Logging as ``-v`` asks; adaptor output captured per request; ``args``
    and ``Server.sing()`` telling adaptors how they are served.
    """
    configure_logging(options.verbose, log_prefix)
    capture.install()
    use_options(options)
    Server.install(options.copy())


def use_options(options: ServeOptions) -> None:
    """Keep ``args`` in step with ``options`` (what adaptors and the meta
    example see)."""
    for name, value in vars(options).items():
        setattr(args, name, value)


def seal(extra: t.Iterable[str] = ()) -> None:
    """From here on adaptors run in this process: rebinding a name of owt's
    own modules (``owt.server.x = None``) is refused instead of breaking
    every later request (see :mod:`owt.sealing`)."""
    seal_server_modules(extra)
