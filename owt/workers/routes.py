"""owt's endpoints about workers and running requests.

- ``GET /_owt/workers``: the executor and, in process mode, each worker's
  pid, state, warm code digests, in-flight requests and restarts.
- ``DELETE /_owt/requests/<request_id>``: cancel a running request (the id
  is its ``X-Request-Id``). Only the process executor can stop one.

In process mode the raw request body is also kept before owt reads its
fields, so a worker gets it byte for byte (form and file uploads included).
"""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import request
from werkzeug.wrappers import Response

from owt.errors import NotFound
from owt.errors import OwtError
from owt.response import to_json

_ADAPTOR_ENDPOINTS = ("adaptor", "adaptor_root")


class CancelUnsupported(OwtError):
    """The inline executor can't stop a running adaptor."""

    status = 409
    kind = "cancel_unsupported"


def register_worker_routes(app: Flask, executor: t.Any) -> None:
    """Add the worker endpoints to ``app``, for ``executor``."""
    cancel = getattr(executor, "cancel", None)
    describe = getattr(executor, "describe", None)

    if cancel is not None:

        @app.before_request
        def keep_raw_body() -> None:
            if request.endpoint in _ADAPTOR_ENDPOINTS and request.method == "POST":
                request.get_data(cache=True, parse_form_data=False)

    @app.get("/_owt/workers")
    def workers() -> Response:
        body = describe() if describe is not None else {"executor": "inline"}
        return Response(to_json(body), mimetype="application/json")

    @app.delete("/_owt/requests/<request_id>")
    def cancel_request(request_id: str) -> Response:
        if cancel is None:
            raise CancelUnsupported(
                "The inline executor can't stop a running adaptor; start owt with "
                "--executor process to cancel requests."
            )
        if not cancel(request_id):
            raise NotFound(f"No request {request_id!r} is running.")
        body = {"request_id": request_id, "cancelled": True}
        return Response(to_json(body), mimetype="application/json")
