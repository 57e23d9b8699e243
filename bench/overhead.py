"""owt's own work per request, in process: decode, lookup, response mapping.

For a POST JSON request whose argument is a text of the given size, this
times what owt does between receiving the request and having a response
object: reading and decoding the body and its fields (``read_call``),
hashing the code and finding the warm adaptor, calling it (it returns its
argument, so it does nothing of its own) and mapping the result to a
response. Flask's request context is set up outside the timed part, since a
hand-written Flask route pays for it as well.
"""

from __future__ import annotations

import statistics
import time
import typing as t

import workloads as w


def own_work_seconds(size: int, repeat: int) -> list[float]:
    """``repeat`` timings of owt's own work for a ``size``-byte argument."""
    from flask import request
    from werkzeug.test import EnvironBuilder

    from owt.extension import EXTENSION_KEY
    from owt.options import ServeOptions
    from owt.request import read_call
    from owt.server import create_app

    options = ServeOptions(max_request_mb=64)
    app = create_app(options)
    owt = app.extensions[EXTENSION_KEY]
    max_code_bytes = int(options.max_code_kb * 1024)
    text = "x" * size
    body = w.owt_post_body(w.TEXT_ECHO, {"text": text})
    environ = EnvironBuilder(
        method="POST",
        path="/echo",
        data=body,
        content_type="application/json",
        headers={"Host": "127.0.0.1"},
    ).get_environ()
    timings = []
    for _ in range(repeat + 1):  # the first call loads the adaptor
        env = dict(environ)
        env["wsgi.input"] = _fresh_input(body)
        with app.request_context(env):
            req = request._get_current_object()  # type: ignore[attr-defined]
            started = time.perf_counter()
            call = read_call(req, max_code_bytes)
            response = owt.cache.respond(call, owt.executor.run).response
            elapsed = time.perf_counter() - started
        if len(response.get_data()) != size:
            raise AssertionError("the echo adaptor did not answer its argument")
        timings.append(elapsed)
    return timings[1:]


def _fresh_input(body: bytes) -> t.Any:
    import io

    return io.BytesIO(body)


def measure(sizes: t.Sequence[int], quick: bool) -> dict[int, float]:
    """Median seconds of owt's own work for each payload size."""
    result = {}
    for size in sizes:
        if size >= 1_000_000:
            repeat = 3 if quick else 7
        elif size >= 100_000:
            repeat = 20 if quick else 100
        else:
            repeat = 200 if quick else 2000
        result[size] = statistics.median(own_work_seconds(size, repeat))
    return result
