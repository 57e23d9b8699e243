"""Reading the server's answers: a body as data, text or bytes
(:func:`decode_body`); an error body, a closing ``event: error`` or an
answer cut off as an :class:`~owt.errors.OwtClientError`.
"""

from __future__ import annotations

import json
import typing as t

import requests
import urllib3
from werkzeug.http import parse_options_header

from owt.client.events import Event
from owt.errors import OwtClientError

_TEXT_TYPES = (
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
)


def error_from_response(response: requests.Response) -> OwtClientError:
    """Read owt's JSON error body (or whatever else came back) into an exception."""
    request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        return _error_from_body(response.status_code, body, request_id)
    text = response.text.strip()
    message = text[:500] if text else (response.reason or "no message")
    return OwtClientError(
        response.status_code, "http_error", message, request_id=request_id
    )


def _error_from_body(
    status: int, body: dict[str, t.Any], request_id: str | None = None
) -> OwtClientError:
    traceback = body.get("traceback")
    rid = body.get("request_id") or request_id
    return OwtClientError(
        status,
        str(body.get("error") or "error"),
        str(body.get("message") or ""),
        traceback=traceback if isinstance(traceback, str) else None,
        request_id=str(rid) if rid else None,
        body=body,
    )


def media_type(response: requests.Response) -> tuple[str, str | None]:
    """The response's media type (lower case) and its charset parameter, if any."""
    kind, params = parse_options_header(response.headers.get("Content-Type", ""))
    return kind.lower(), params.get("charset") or None


def decode_body(response: requests.Response) -> t.Any:
    """The body as JSON data, text or bytes, chosen by its Content-Type.

    JSON types give parsed data; ``text/*`` (and XML/JavaScript) give a
    ``str``, decoded with the declared charset or UTF-8; anything else,
    including no Content-Type, gives ``bytes``.
    """
    kind, charset = media_type(response)
    if kind == "application/json" or kind.endswith("+json"):
        return json.loads(response.content.decode(charset or "utf-8"))
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+xml"):
        return response.content.decode(charset or "utf-8", errors="replace")
    return response.content


def error_from_event(event: Event, status: int = 200) -> OwtClientError | None:
    """The error in owt's closing ``event: error`` (``None`` for other events)."""
    if event.event != "error":
        return None
    try:
        body = json.loads(event.data)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": "stream_error", "message": event.data}
    return _error_from_body(status, body)


def closed_without_answer(error: requests.exceptions.ConnectionError) -> bool:
    """Whether the server took the request and closed before answering (an
    adaptor's stream failed at once), rather than not being reachable."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, urllib3.exceptions.ProtocolError)


def broken_off(response: requests.Response | None, error: Exception) -> OwtClientError:
    """The error for an answer cut off before its end (the server failed)."""
    return OwtClientError(
        response.status_code if response is not None else 200,
        "stream_aborted",
        f"The answer broke off before its end ({error}); the server's log says why.",
        request_id=response.headers.get("X-Request-Id") if response else None,
    )
