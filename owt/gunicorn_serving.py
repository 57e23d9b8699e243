"""Serve owt under gunicorn: several worker processes, for deployments.

``owt serve --gunicorn-workers N`` runs gunicorn's master process and N
worker processes of gunicorn's ``gthread`` class, each with
:data:`THREADS` threads, all listening on ``--address:--port``. Streams stay
unbuffered (gthread writes each chunk as it comes). Every ``owt serve``
option applies to every worker.

Each worker process builds its own app, so each holds its **own** warm code
and response cache: an adaptor that loads a model at its top level loads it
once per worker, and a cached response is a hit only in the worker that
stored it. The single-process server (:mod:`owt.serving`) stays the default,
for development and for the spec's meta example.

gunicorn has no timeout for a client that is slow to send its request
headers; in a deployment, put a reverse proxy in front (which you want for
TLS anyway).
"""

from __future__ import annotations

import typing as t

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from owt.runtime import ServeOptions
from owt.runtime import Server

#: Threads per worker process: 32+ requests in flight in each.
THREADS = 40
#: Seconds a stopped worker may take to finish the requests it is serving.
GRACEFUL_SECONDS = 5
#: Seconds a worker may go without reporting in before gunicorn replaces it.
#: gthread workers report from their own loop, so a long adaptor call or
#: stream does not count against it; a process stuck holding the GIL does.
WORKER_TIMEOUT = 120


class OwtGunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn's application interface, serving ``create_app(options)``."""

    def __init__(self, options: ServeOptions, workers: int) -> None:
        self.options = options
        self.workers = workers
        super().__init__()

    def load_config(self) -> None:
        host = self.options.address.strip("[]")
        bind = (
            f"[{host}]:{self.options.port}"
            if ":" in host
            else f"{host}:{self.options.port}"
        )
        settings: dict[str, t.Any] = {
            "bind": [bind],
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": THREADS,
            # Idle keep-alive connections are closed after this long.
            "keepalive": max(1, int(self.options.header_timeout)),
            "timeout": WORKER_TIMEOUT,
            "graceful_timeout": GRACEFUL_SECONDS,
            # GET requests carry their code in the query string: no cap on
            # the request line (gunicorn's default is 4094 bytes).
            "limit_request_line": 0,
            "accesslog": None,  # owt logs each request itself
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "owt",
            "when_ready": self._when_ready,
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def _when_ready(self, arbiter: t.Any) -> None:
        # The master has bound its sockets and not forked yet: record the
        # real port (``--port 0``) so that every worker's Server.sing() has it.
        from owt.serving import warn_if_exposed

        self.options.port = int(arbiter.LISTENERS[0].sock.getsockname()[1])
        Server.install(self.options)
        warn_if_exposed(self.options)
        print(
            f"Owt serving on {self.options.address}:{self.options.port} "
            f"(gunicorn, {self.workers} worker processes)",
            flush=True,
        )

    def load(self) -> t.Any:
        """Build the app in a worker process, as ``owt.server.main`` does."""
        from owt import capture
        from owt.sealing import seal_server_modules
        from owt.server import configure_logging
        from owt.server import create_app

        configure_logging(self.options.verbose)
        capture.install()
        Server.install(self.options)
        app = create_app(self.options)
        seal_server_modules()
        return app


def serve_with_gunicorn(options: ServeOptions, workers: int) -> None:
    """Serve owt with ``workers`` gunicorn worker processes until stopped."""
    OwtGunicorn(options.copy(), workers).run()
