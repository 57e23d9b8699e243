"""owt's own endpoints, under ``/_owt/`` (never reaching adaptors).

- ``GET /_owt/health``: status, version, uptime, warm adaptors;
- ``GET /_owt/cache``: the response cache's figures; ``DELETE`` clears it,
  or with ``?path=/x`` removes that pin;
- ``GET /_owt/workers``: the executor and, in process mode, each worker's
  pid, state, warm code digests, in-flight requests and restarts;
- ``DELETE /_owt/requests/<request_id>``: cancel a running request (the id
  is its ``X-Request-Id``); only the process executor can stop one;
- any other ``/_owt/`` path: 404.
"""

from __future__ import annotations

import time
import typing as t

from flask import Blueprint
from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

import owt
from owt.errors import NotFound
from owt.extension import current_owt

admin = Blueprint("admin", __name__, url_prefix="/_owt")


@admin.get("/health")
def health() -> Response:
    """Whether owt is up, and how long it has been."""
    state = current_owt()
    return jsonify(
        status="ok",
        version=owt.__version__,
        uptime_s=round(time.time() - state.started, 3),
        warm_adaptors=state.executor.warm_count(),
    )


@admin.route("/cache", methods=["GET", "DELETE"])
def cache() -> Response:
    """GET: the cache's figures; DELETE: clear it, or ``?path=`` one pin."""
    response_cache = current_owt().cache
    if request.method == "GET":
        body: dict[str, t.Any] = response_cache.stats()
    elif "path" in request.args:
        path = request.args["path"]
        if not response_cache.unpin(path):
            raise NotFound(f"No response is pinned to {path!r}.")
        body = {"unpinned": path}
    else:
        body = {"cleared": response_cache.clear()}
    return jsonify(body)


@admin.get("/workers")
def workers() -> Response:
    """The executor and its workers."""
    return jsonify(current_owt().executor.describe())


@admin.delete("/requests/<request_id>")
def cancel_request(request_id: str) -> Response:
    """Stop a running request."""
    if not current_owt().executor.cancel(request_id):
        raise NotFound(f"No request {request_id!r} is running.")
    return jsonify(request_id=request_id, cancelled=True)


@admin.route("/<everything:rest>", methods=["GET", "POST", "DELETE", "HEAD"])
def reserved(rest: str) -> Response:
    """Every other ``/_owt/`` path is owt's, and doesn't exist."""
    raise NotFound(f"/_owt/{rest} is not one of owt's endpoints.")
