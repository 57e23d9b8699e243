"""One error handler: every failure becomes owt's one JSON error shape.

``{"error": kind, "message": text, "request_id": id, ...details}`` with the
error's status (see :func:`owt.response.error_response`), whether it was an
:class:`~owt.errors.OwtError`, one of Werkzeug's HTTP errors (405, 413...)
or a bug in owt itself (500, logged with its traceback).
"""

from __future__ import annotations

import logging

from flask import Request
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from owt.errors import OwtError
from owt.errors import PayloadTooLarge
from owt.errors import error_class
from owt.extension import current_owt
from owt.response import error_response

log = logging.getLogger("owt")

#: The most parts a multipart or urlencoded form may have.
MAX_FORM_PARTS = 1000


def handle_exception(error: Exception) -> Response:
    """The response for any exception a request raised."""
    hide_tracebacks = current_owt().options.hide_tracebacks
    converted = as_owt_error(error)
    if converted.status >= 500:
        # With --hide-tracebacks the log is the only place left for it.
        trace = converted.details.get("traceback") if hide_tracebacks else None
        log.error(
            "%s: %s%s", converted.kind, converted.message, f"\n{trace}" if trace else ""
        )
    return error_response(converted, g.get("request_id"), hide_tracebacks)


def as_owt_error(error: Exception) -> OwtError:
    """``error`` as the :class:`OwtError` owt answers with."""
    if isinstance(error, OwtError):
        return error
    if isinstance(error, HTTPException):
        if error.code == 413:
            return why_too_large(request, current_owt().options.max_request_mb)
        kind = (error.name or "error").lower().replace(" ", "_")
        converted = error_class(error.code or 500, kind)(error.description or "")
        allow = dict(error.get_headers()).get("Allow")
        if allow:
            converted.headers["Allow"] = allow  # 405 names what is allowed
        return converted
    log.exception("owt failed to handle a request", exc_info=error)
    return OwtError(f"owt failed: {type(error).__name__}: {error}")


def why_too_large(req: Request, limit_mb: float) -> PayloadTooLarge:
    """The 413 for what was really refused: the body's size or its parts."""
    length = req.content_length
    if length is not None and length <= limit_mb * 1024 * 1024:
        return PayloadTooLarge(
            f"The form has more than {MAX_FORM_PARTS} parts, the most owt reads "
            f"(the body, {length:,} bytes, is within the {limit_mb:g} MB limit); "
            "send fewer fields, or a JSON body."
        )
    return PayloadTooLarge(
        f"The request body is over the {limit_mb:g} MB limit (--max-request-mb)."
    )
