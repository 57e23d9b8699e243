"""Encode and decode adaptor code and arguments for the wire.

Pure functions shared by the server, ``owt encode``, ``owt call`` and the
Python client. Each ``encode_*`` has a ``decode_*`` partner::

    >>> decode_code(encode_code("def run(): return 1"))
    'def run(): return 1'
    >>> decode_kwargs(encode_kwargs({"name": "owt"}))
    {'name': 'owt'}

Decoding is forgiving about the shapes base64 takes in the wild (URL-safe
alphabet, missing padding, line breaks, ``+`` turned into a space by a
careless query encoder) and strict about everything else: a bad value raises
:class:`CodecError` with a message that names the field and the problem.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import dataclasses
import functools
import json
import types
import typing as t
import urllib.parse

from owt.errors import CodecError
from owt.errors import KwargsNotAMapping
from owt.errors import UrlTooLong

#: Fields of the request protocol, in the order they are documented.
PROTOCOL_FIELDS = (
    "code_b64",
    "code",
    "code_sha256",
    "adaptor",
    "kwargs_b64",
    "kwargs",
    "fn_name",
    "use_cache",
    "cache_kwargs",
    "cache_key_override",
    "pin",
    "timeout",
)

#: The longest request target (path and query string, as sent on the request
#: line) owt's HTTP front accepts: granian answers a longer one with a bare
#: ``414 URI Too Long`` before owt sees it. Code sent by GET is limited to
#: about 48 KB of source; POST has no such limit.
MAX_REQUEST_TARGET = 65_534

# What requests (and browsers) leave unescaped when they send a URL.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def b64encode_text(text: str) -> str:
    """Base64 (standard alphabet, padded) of ``text`` as UTF-8."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def b64decode_bytes(value: str, field: str) -> bytes:
    """Decode base64 in either alphabet, tolerating whitespace and lost padding.

    :param value: the base64 text as received.
    :param field: the protocol field it came from, for the error message.
    :raises CodecError: if ``value`` is not base64.
    """
    # A '+' sent unescaped in a query string arrives as a space.
    cleaned = value.strip().replace(" ", "+")
    cleaned = "".join(cleaned.split())
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CodecError(
            f"{field} is not valid base64 ({e}); encode the text with "
            f"'base64 -w 0' or 'owt encode'."
        ) from None


def encode_code(source: str) -> str:
    """Encode adaptor source for the ``code_b64`` field."""
    return b64encode_text(source)


#: Sources up to this long (base64) are remembered once decoded: the same
#: adaptor arrives again and again.
_REMEMBERED_CODE_CHARS = 16 * 1024


def decode_code(code_b64: str, field: str = "code_b64") -> str:
    """Decode the ``code_b64`` field to adaptor source text.

    :raises CodecError: for bad base64 or bytes that are not UTF-8.
    """
    if len(code_b64) <= _REMEMBERED_CODE_CHARS:
        return _decode_remembered(code_b64, field)
    return _decode_code(code_b64, field)


@functools.lru_cache(maxsize=256)
def _decode_remembered(code_b64: str, field: str) -> str:
    return _decode_code(code_b64, field)


def _decode_code(code_b64: str, field: str) -> str:
    raw = b64decode_bytes(code_b64, field)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CodecError(
            f"{field} decodes to bytes that are not UTF-8 text "
            f"(byte {e.start}: {raw[e.start : e.start + 1]!r})."
        ) from None


def encode_kwargs(kwargs: t.Any) -> str:
    """Encode arguments (normally a dict) as JSON for ``kwargs_b64``."""
    return b64encode_text(json.dumps(kwargs, ensure_ascii=False))


def decode_kwargs(
    kwargs_b64: str, field: str = "kwargs_b64", evaluate: bool = True
) -> t.Any:
    """Decode ``kwargs_b64``: JSON when it parses, else a Python expression.

    The spec evaluates the text so that it may hold richer logic, such as
    ``{'n': 2 ** 10}``; JSON is tried first because it is the common case
    and cannot run anything.

    ``evaluate=False`` leaves an expression that is not a literal unevaluated
    (see :class:`KwargsExpression`).

    :raises CodecError: when the text is neither JSON nor a Python expression.
    """
    stripped = kwargs_b64.strip()
    if stripped[:1] in ("{", "["):
        # Not base64 at all (braces aren't in either alphabet): the spec's
        # client-free curl example sends the dict as it is.
        return parse_kwargs_text(stripped, field, evaluate)
    raw = b64decode_bytes(kwargs_b64, field)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CodecError(f"{field} decodes to bytes that are not UTF-8 text.") from None
    return parse_kwargs_text(text, field, evaluate)


@dataclasses.dataclass(frozen=True)
class KwargsExpression:
    """Argument text that only evaluating Python can read, not yet evaluated.

    With ``--executor process`` the server never runs code it is sent: such
    arguments are evaluated by the worker that runs the adaptor.
    """

    text: str
    field: str

    def evaluate(self) -> t.Any:
        """The value of the expression.

        :raises CodecError: if evaluating it fails.
        """
        return parse_kwargs_text(self.text, self.field)


def check_kwargs_mapping(arguments: t.Any) -> dict[str, t.Any]:
    """``arguments`` if they are a mapping of argument names to values.

    :raises KwargsNotAMapping: naming what they are instead.
    """
    if isinstance(arguments, dict):
        return arguments
    got = f"{type(arguments).__name__} {_preview(repr(arguments))}"
    raise KwargsNotAMapping(
        "kwargs must be an object of argument names and values, such as "
        f'{{"name": "owt"}}; got {got}.'
    )


def resolve_kwargs(arguments: t.Any, max_depth: int) -> dict[str, t.Any]:
    """The keyword arguments to call with: an expression evaluated now (it is
    caller code, so it runs where adaptors run, inside a concurrency slot),
    checked to be a mapping nested at most ``max_depth`` deep.

    :raises CodecError: if evaluating fails or the value is not a mapping.
    :raises owt.limits.KwargsTooDeep: if it nests too deeply.
    """
    if isinstance(arguments, KwargsExpression):
        from owt.limits import check_nesting

        arguments = check_kwargs_mapping(arguments.evaluate())
        check_nesting(arguments, max_depth)
    return check_kwargs_mapping(arguments)


def parse_kwargs_text(text: str, field: str = "kwargs", evaluate: bool = True) -> t.Any:
    """Read argument text as JSON, falling back to a Python expression.

    With ``evaluate=False`` only literals are read (``ast.literal_eval``);
    any other expression comes back as a :class:`KwargsExpression`.
    """
    text = text.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    tree, code = _compile_expression(text, field)
    if not evaluate:
        try:
            return ast.literal_eval(tree)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return KwargsExpression(text, field)
    try:
        return eval(code, {"__builtins__": builtins})
    except RecursionError:
        raise CodecError(f"{field} is nested too deeply to evaluate.") from None
    except BaseException as e:
        # SystemExit and KeyboardInterrupt too: an expression such as exit()
        # must not take the request thread (or the server) down with it.
        raise CodecError(f"evaluating {field} raised {type(e).__name__}: {e}") from None


@functools.lru_cache(maxsize=512)
def _compile_expression(text: str, field: str) -> tuple[ast.Expression, types.CodeType]:
    """Parse and compile argument text once; callers evaluate it afresh each
    time, so every request still gets its own objects."""
    try:
        tree = ast.parse(text, mode="eval")
        return tree, compile(tree, f"<{field}>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        detail = getattr(e, "msg", None) or type(e).__name__
        raise CodecError(
            f"{field} is neither JSON nor a Python expression ({detail}): "
            f"{_preview(text)!r}"
        ) from None


def check_url_length(url: str) -> str:
    """Return ``url`` if its request target fits :data:`MAX_REQUEST_TARGET`.

    The target is measured as it goes on the wire: the percent-encoded path,
    ``?`` and query string (no scheme, host or fragment). ``url`` may also be
    just that path and query.

    :raises UrlTooLong: when the server would refuse the URL.
    """
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    size = len(urllib.parse.quote(target, safe=_URI_SAFE))
    if size > MAX_REQUEST_TARGET:
        raise UrlTooLong(
            f"This URL's path and query string are {size:,} bytes, over the "
            f"{MAX_REQUEST_TARGET:,} bytes owt's HTTP front accepts on a request "
            "line; send the call by POST (JSON body) instead."
        )
    return url


def parse_bool(value: t.Any, field: str) -> bool:
    """Read a protocol boolean: JSON booleans or true/false/1/0 strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise CodecError(f"{field} must be true or false, not {value!r}.")


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
