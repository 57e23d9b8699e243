"""The reference: hand-written Flask routes doing what the benchmarked adaptors do.

``python bench/reference.py --port P`` serves them with ``owt.serving.serve``,
the very front ``owt serve`` runs on (granian, with owt's bridge and
bounds), so a comparison measures owt and nothing else. ``--server NAME``
serves them on a candidate server of ``bench/candidates.py`` instead (see
``bench/servers.py``).

Routes:

* ``/hello`` (GET, POST): reads ``name`` from the query string or a JSON body
  and answers ``Hello, {name}!`` as text/html, as the echo adaptor does.
* ``/stream``: server-sent events; the first event is sent at once, the
  second after ``?sleep=`` seconds (default 0.05).
"""

from __future__ import annotations

import time
import typing as t

from flask import Flask
from flask import Response
from flask import request


def create_reference_app() -> Flask:
    """The reference Flask app."""
    app = Flask("owt_bench_reference")

    @app.route("/hello", methods=["GET", "POST"])
    def hello() -> str:
        name = request.args.get("name")
        if name is None and request.is_json:
            name = (request.get_json(silent=True) or {}).get("name")
        return f"Hello, {name or 'owt'}!"

    @app.route("/stream")
    def stream() -> Response:
        pause = float(request.args.get("sleep", "0.05"))

        def events() -> t.Iterator[str]:
            yield "data: first\n\n"
            time.sleep(pause)
            yield "data: second\n\n"

        return Response(events(), mimetype="text/event-stream")

    return app


def build_reference_app(options: t.Any) -> Flask:
    """The reference app, built the way ``owt.serving`` builds owt's."""
    return create_reference_app()


def main() -> None:
    import argparse

    from candidates import reference_app
    from candidates import run_candidate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--server", default="owt", help="owt (owt serve's front) or a candidate"
    )
    parser.add_argument("--workers", type=int, default=1)
    opts = parser.parse_args()
    if opts.server == "owt":
        from owt.options import ServeOptions
        from owt.serving import serve

        options = ServeOptions(
            address=opts.address, port=opts.port, processes=opts.workers
        )
        serve(options, build_reference_app)
    else:
        run_candidate(opts.server, reference_app, opts.address, opts.port, opts.workers)


if __name__ == "__main__":
    main()
