"""Request blocks: read the HTTP request the adaptor is answering.

They import Flask when they run, never when this module is imported, so the
rest of summat works (and is tested) without Flask. Outside a request they
fail with Flask's "Working outside of request context" error.

owt's own protocol fields (``code_b64``, ``kwargs_b64``, ``fn_name``...) are
left out of ``query()`` and ``json()``: they carry the adaptor, not its input.
"""

from __future__ import annotations

import typing as t

from owt.codec import PROTOCOL_FIELDS
from owt.summat.core import ValueBlock

if t.TYPE_CHECKING:
    from flask import Request


def _request() -> Request:
    from flask import request

    return request


class RequestPath(ValueBlock[t.Any, list[str]]):
    """``path()``: the URL path's segments: ``/one/two/three`` gives
    ``['one', 'two', 'three']`` and ``/`` gives ``[]``."""

    def apply(self, value: t.Any) -> list[str]:
        return [part for part in _request().path.split("/") if part]


class RequestQuery(ValueBlock[t.Any, dict[str, t.Any]]):
    """``query()``: the query string's parameters as a dict of strings (the
    first value of a repeated one); ``multi=True`` gives lists of all values."""

    def __init__(self, multi: bool = False) -> None:
        self.multi = multi

    def apply(self, value: t.Any) -> dict[str, t.Any]:
        args = _request().args
        if self.multi:
            return {k: args.getlist(k) for k in args.keys() if k not in PROTOCOL_FIELDS}
        return {k: v for k, v in args.items() if k not in PROTOCOL_FIELDS}


class RequestJson(ValueBlock[t.Any, t.Any]):
    """``json()``: the POST body parsed as JSON (``None`` if there is none).
    An object loses owt's protocol fields; other JSON values come as they are."""

    def apply(self, value: t.Any) -> t.Any:
        body = _request().get_json(silent=True)
        if isinstance(body, dict):
            return {k: v for k, v in body.items() if k not in PROTOCOL_FIELDS}
        return body
