"""The protocol fields of a request: the code (or its ``code_sha256``, or a
registered adaptor's name), the arguments and the :class:`CallOptions`; and
the same fields as query-string text or a GET URL.
"""

from __future__ import annotations

import dataclasses
import typing as t
import urllib.parse

from owt.client.source import code_sha256
from owt.codec import b64encode_text
from owt.codec import encode_code


@dataclasses.dataclass(frozen=True)
class CallOptions:
    """The protocol fields besides code and arguments.

    :param fn_name: the adaptor function to call (the server's default is ``run``).
    :param use_cache: let the server cache the response.
    :param cache_kwargs: make the arguments part of the cache key.
    :param cache_key_override: a cache key that replaces the computed one.
    :param pin: also answer later code-less requests to this path from the cache.
    :param timeout: seconds the adaptor may run (capped by the server's limit).
    """

    fn_name: str | None = None
    use_cache: bool = False
    cache_kwargs: bool = False
    cache_key_override: str | None = None
    pin: bool = False
    timeout: float | None = None


def build_fields(
    source: str,
    kwargs: str | None = None,
    options: CallOptions | None = None,
    *,
    by_hash: bool = False,
) -> dict[str, t.Any]:
    """The protocol fields for a request, as JSON-ready values.

    :param source: the adaptor source text.
    :param kwargs: argument text (JSON, or a Python expression the server
        evaluates), or ``None`` to send no arguments. See :func:`kwargs_text`.
    :param options: the other fields; only those that differ from the
        server's defaults are included, so the request stays short.
    :param by_hash: send ``code_sha256`` instead of the code (the server
        answers ``unknown_code`` when it doesn't hold it).
    """
    if by_hash:
        code = {"code_sha256": code_sha256(source)}
    else:
        code = {"code_b64": encode_code(source)}
    return {**code, **option_fields(kwargs, options)}


def registered_fields(
    name: str, kwargs: str | None = None, options: CallOptions | None = None
) -> dict[str, t.Any]:
    """The protocol fields that call the adaptor registered as ``name``."""
    return {"adaptor": name, **option_fields(kwargs, options)}


def option_fields(
    kwargs: str | None = None, options: CallOptions | None = None
) -> dict[str, t.Any]:
    """The fields besides the code: arguments, then the options that differ
    from the server's defaults."""
    options = options or CallOptions()
    fields: dict[str, t.Any] = {}
    if kwargs is not None:
        fields["kwargs_b64"] = b64encode_text(kwargs)
    if options.fn_name:
        fields["fn_name"] = options.fn_name
    if options.use_cache:
        fields["use_cache"] = True
    if options.cache_kwargs:
        fields["cache_kwargs"] = True
    if options.cache_key_override is not None:
        fields["cache_key_override"] = options.cache_key_override
    if options.pin:
        fields["pin"] = True
    if options.timeout is not None:
        fields["timeout"] = options.timeout
    return fields


def query_fields(fields: dict[str, t.Any]) -> dict[str, str]:
    """The fields as query-string text (booleans become ``true``)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def build_url(url: str, fields: dict[str, t.Any]) -> str:
    """A GET URL: ``url`` with ``fields`` added to its query string."""
    query = urllib.parse.urlencode(query_fields(fields))
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return base + joiner + query + ("#" + fragment if fragment else "")
