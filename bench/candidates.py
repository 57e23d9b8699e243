"""Serve a WSGI app on one of the candidate servers, for ``bench/servers.py``.

``python bench/candidates.py --app owt|reference --server NAME --port P``

Candidates: ``granian`` (Rust, event-driven connection I/O: the server
``owt serve`` runs on; here its plain WSGI interface with ``owt.serving``'s
bounds, where ``owt serve`` puts owt's ASGI bridge, ``owt.front``, between
them), ``cheroot`` (owt's previous front), ``waitress``, ``gunicorn``
(gthread worker) and ``werkzeug`` (threaded, what owt ran on first). Each
is set up for 32+ requests in flight and a timeout for clients that are
slow to send their request (``BENCH_HEADER_TIMEOUT`` seconds, default 30).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import typing as t

THREADS = 40
#: Connections the kernel may queue before the server accepts them.
BACKLOG = 1024
TIMEOUT = float(os.environ.get("BENCH_HEADER_TIMEOUT", "30"))
CANDIDATES = ("granian", "cheroot", "waitress", "gunicorn", "werkzeug")


def run_candidate(
    name: str,
    load_app: t.Callable[[], t.Any],
    address: str,
    port: int,
    workers: int = 1,
) -> None:
    """Serve the app ``load_app()`` builds on candidate ``name`` until SIGTERM.

    ``load_app`` is a module-level function (granian calls it in its worker
    process; the others call it here).
    """
    print(f"Candidate {name} serving on {address}:{port}", flush=True)
    if name == "granian":
        _run_granian(load_app, address, port, workers)
    elif name == "werkzeug":
        from werkzeug.serving import WSGIRequestHandler
        from werkzeug.serving import make_server

        class Quiet(WSGIRequestHandler):
            timeout = TIMEOUT

            def log_request(self, *args: t.Any) -> None:
                pass

        server = make_server(
            address, port, load_app(), threaded=True, request_handler=Quiet
        )
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _stop_on_sigterm()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    elif name == "waitress":
        import waitress

        app = load_app()
        _stop_on_sigterm()
        try:
            waitress.serve(
                app,
                host=address,
                port=port,
                threads=THREADS,
                channel_timeout=TIMEOUT,
                cleanup_interval=max(1, int(TIMEOUT / 2)),
                connection_limit=1000,
                _quiet=True,
            )
        except KeyboardInterrupt:
            pass
    elif name == "cheroot":
        from cheroot import wsgi

        server = wsgi.Server(
            (address, port),
            load_app(),
            numthreads=THREADS,
            timeout=TIMEOUT,
            # The backlog owt's cheroot front had (cheroot's default is 5).
            request_queue_size=BACKLOG,
        )
        _stop_on_sigterm()
        try:
            server.start()
        except KeyboardInterrupt:
            server.stop()
    elif name == "gunicorn":
        from gunicorn.app.base import BaseApplication

        app = load_app()

        class App(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                host = f"[{address}]" if ":" in address else address
                self.cfg.set("bind", [f"{host}:{port}"])
                self.cfg.set("workers", workers)
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("threads", THREADS)
                self.cfg.set("keepalive", int(TIMEOUT))
                self.cfg.set("loglevel", "warning")

            def load(self) -> t.Any:
                return app

        App().run()
    else:
        raise SystemExit(f"unknown server {name!r}; one of {', '.join(CANDIDATES)}")


def _run_granian(
    load_app: t.Callable[[], t.Any], address: str, port: int, workers: int
) -> None:
    """granian's WSGI interface over HTTP/1 with ``owt.serving``'s threads,
    connection and header bounds (granian stops on SIGTERM by itself)."""
    from granian.constants import HTTPModes
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import MPServer

    from owt import serving
    from owt.options import ServeOptions

    threads = serving.threads_per_process(ServeOptions())
    server = MPServer(
        "bench:candidate",  # a label: the app comes from load_app
        address=address,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        backpressure=max(serving.CONNECTIONS_PER_PROCESS, threads),
        backlog=serving.BACKLOG,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, int(TIMEOUT * 1000)),
            keep_alive=True,
            max_buffer_size=serving.HEADER_BUFFER_BYTES,
        ),
        workers_kill_timeout=serving.SHUTDOWN_SECONDS,
        log_level=LogLevels.error,
    )
    server.serve(target_loader=load_app, wrap_loader=False)


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: t.Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def owt_app() -> t.Any:
    """owt's app, set up as ``owt serve`` sets it up in each serving process."""
    from owt.options import ServeOptions
    from owt.server import prepare_app

    return prepare_app(ServeOptions())


def reference_app() -> t.Any:
    """The plain Flask routes of ``bench/reference.py``."""
    from reference import create_reference_app

    return create_reference_app()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", choices=["owt", "reference"], required=True)
    parser.add_argument("--server", choices=CANDIDATES, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    opts = parser.parse_args()
    load_app = owt_app if opts.app == "owt" else reference_app
    run_candidate(opts.server, load_app, opts.address, opts.port, opts.workers)
    sys.exit(0)


if __name__ == "__main__":
    main()
