"""Serve a WSGI app on one of the candidate servers, for ``bench/servers.py``.

``python bench/candidates.py --app owt|reference --server NAME --port P``

Candidates (all from PyPI, all pure Python): ``werkzeug`` (threaded, what
owt ran on first), ``waitress``, ``cheroot`` and ``gunicorn`` (gthread
worker). Each is set up for 32+ requests in flight and a timeout for
clients that are slow to send their request.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import typing as t

THREADS = 40
TIMEOUT = float(os.environ.get("BENCH_HEADER_TIMEOUT", "30"))
CANDIDATES = ("werkzeug", "waitress", "cheroot", "gunicorn")


def run_candidate(
    name: str, app: t.Any, address: str, port: int, workers: int = 1
) -> None:
    """Serve ``app`` on candidate ``name`` until SIGTERM or SIGINT."""
    print(f"Candidate {name} serving on {address}:{port}", flush=True)
    if name == "werkzeug":
        from werkzeug.serving import WSGIRequestHandler
        from werkzeug.serving import make_server

        class Quiet(WSGIRequestHandler):
            timeout = TIMEOUT

            def log_request(self, *args: t.Any) -> None:
                pass

        server = make_server(address, port, app, threaded=True, request_handler=Quiet)
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _stop_on_sigterm()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    elif name == "waitress":
        import waitress

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

        server = wsgi.Server((address, port), app, numthreads=THREADS, timeout=TIMEOUT)
        _stop_on_sigterm()
        try:
            server.start()
        except KeyboardInterrupt:
            server.stop()
    elif name == "gunicorn":
        from gunicorn.app.base import BaseApplication

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


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: t.Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def owt_app() -> t.Any:
    """owt's app, set up as ``owt serve`` sets it up."""
    from owt import capture
    from owt.runtime import ServeOptions
    from owt.runtime import Server
    from owt.server import configure_logging
    from owt.server import create_app

    options = ServeOptions()
    configure_logging(0)
    capture.install()
    Server.install(options)
    return create_app(options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", choices=["owt", "reference"], required=True)
    parser.add_argument("--server", choices=CANDIDATES, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    opts = parser.parse_args()
    if opts.app == "owt":
        app = owt_app()
    else:
        from reference import create_reference_app

        app = create_reference_app()
    run_candidate(opts.server, app, opts.address, opts.port, opts.workers)
    sys.exit(0)


if __name__ == "__main__":
    main()
