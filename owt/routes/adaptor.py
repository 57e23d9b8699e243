"""The catch-all route: every path outside ``/_owt/`` runs the code it is sent.

One way through: read the call → check its limits → ``cache.respond(call,
executor.run)`` → the response, with its cache state as ``X-Owt-Cache``.
Access (Host, origin, auth) was checked before this, for every path.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import Request
from flask import g
from flask import request
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

from owt.accesslog import CODE_ENVIRON
from owt.accesslog import DIGEST_ENVIRON
from owt.cache import CACHE_HEADER
from owt.extension import Owt
from owt.extension import current_owt
from owt.limits import check_nesting
from owt.request import carries_code
from owt.request import gather_fields
from owt.request import read_call

ALLOWED_METHODS = "GET, POST, HEAD, OPTIONS"

adaptor = Blueprint("adaptor", __name__)


class EverythingConverter(PathConverter):
    """Matches any path, empty segments and leading slashes included."""

    # Not ".*": a path may hold a (percent-encoded) line break, which "."
    # doesn't match; every path must reach adaptors.
    regex = r"[\s\S]*"
    part_isolating = False


def run_adaptor(path: str = "") -> Response:
    """Answer one request to an adaptor path."""
    req = t.cast(Request, request._get_current_object())  # type: ignore[attr-defined]
    owt = current_owt()
    if req.method == "OPTIONS":
        headers = {"Allow": ALLOWED_METHODS, **owt.policy.preflight_headers(req)}
        return Response(status=204, headers=headers)
    if req.method == "HEAD":
        # HEAD never runs code: only a pinned path has something to describe.
        pinned = _pinned(owt, req)
        return pinned or Response(status=204, headers={"Allow": ALLOWED_METHODS})
    if owt.executor.keeps_body and req.method == "POST":
        req.get_data(cache=True, parse_form_data=False)  # before forms are parsed
    fields = gather_fields(req)
    if not carries_code(fields):
        # A request without code (a browser's /favicon.ico) gets the pin.
        pinned = _pinned(owt, req)
        if pinned is not None:
            return pinned
    # Expressions in kwargs are caller code: they are evaluated where
    # adaptors run, inside a concurrency slot (owt.codec.resolve_kwargs).
    call = read_call(
        req,
        owt.max_code_bytes,
        evaluate_kwargs=False,
        fields=fields,
        request_id=g.request_id,
        code_source=owt,
    )
    owt.known_code.remember(call.digest, call.source)
    check_nesting(call.arguments, owt.options.max_kwargs_depth)
    req.environ[DIGEST_ENVIRON] = call.digest
    if owt.options.verbose >= 1:
        req.environ[CODE_ENVIRON] = call.source
    # --max-concurrency: the slot is held until the response body closes,
    # so a stream counts for as long as it runs.
    release = owt.running.acquire()
    try:
        answer = owt.cache.respond(call, owt.executor.run)
    except BaseException:
        release()
        raise
    answer.response.headers[CACHE_HEADER] = answer.state
    answer.response.call_on_close(release)
    return answer.response


def _pinned(owt: Owt, req: Request) -> Response | None:
    response = owt.cache.pinned_response(req.path)
    if response is not None:
        response.headers[CACHE_HEADER] = "hit"
    return response


_METHODS = ["GET", "POST", "HEAD", "OPTIONS"]
adaptor.add_url_rule(
    "/", "root", run_adaptor, methods=_METHODS, provide_automatic_options=False
)
adaptor.add_url_rule(
    "/<everything:path>",
    "path",
    run_adaptor,
    methods=_METHODS,
    provide_automatic_options=False,
)
