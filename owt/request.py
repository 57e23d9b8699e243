"""Read an owt call out of an HTTP request.

The only module that looks at the request's fields. Fields come from the
query string, a JSON body (``curl --json``) or a form body; a field sent in
two places with different values is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t

from owt import codec
from owt.errors import BadRequest
from owt.errors import MissingCode
from owt.execute import code_digest

if t.TYPE_CHECKING:
    from flask import Request

_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclasses.dataclass(frozen=True)
class Call:
    """What a request asks owt to do."""

    source: str
    arguments: t.Any
    fn_name: str = "run"
    use_cache: bool = False
    cache_kwargs: bool = False
    cache_key_override: str | None = None
    pin: bool = False
    timeout: float | None = None
    #: Where it was sent (the cache key and pins use it).
    path: str = "/"
    #: :func:`owt.execute.code_digest` of ``source``: routes it to warm code.
    digest: str = ""
    #: The ``X-Request-Id`` answered to the client.
    request_id: str = ""
    #: The HTTP request itself, for adaptors that ask for it (and for
    #: executors that pass it on to another process).
    http: Request | None = dataclasses.field(default=None, compare=False, repr=False)

    def time_limit(self, server_limit: float | None) -> float | None:
        """The limit this call runs under: the server's (``--timeout``),
        lowered by the request's own ``timeout``."""
        limits = [s for s in (server_limit, self.timeout) if s is not None]
        return min(limits) if limits else None


def gather_fields(request: Request) -> dict[str, t.Any]:
    """Protocol fields from the query string and the body, merged.

    :raises BadRequest: for an unreadable body or a conflicting field.
    """
    found: dict[str, t.Any] = {}
    query = request.args  # read once: each access may go through a proxy
    if query:
        for name in codec.PROTOCOL_FIELDS:
            if name in query:
                found[name] = query[name]
    if request.method != "POST":
        return found
    body = _body_fields(request)
    for name in codec.PROTOCOL_FIELDS:
        if name in body:
            if name in found and found[name] != body[name]:
                raise BadRequest(
                    f"{name} was sent both in the query string and in the body "
                    "with different values; send it once."
                )
            found[name] = body[name]
    return found


def _body_fields(request: Request) -> t.Mapping[str, t.Any]:
    mimetype = request.mimetype
    if _is_json(mimetype):
        raw = request.get_data(cache=True)
        _check_not_cut(request)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except RecursionError:
            raise BadRequest("The JSON body is nested too deeply.") from None
        except ValueError as e:
            raise BadRequest(f"The request body is not valid JSON: {e}.") from None
        if not isinstance(body, dict):
            raise BadRequest(
                "The JSON body must be an object of owt fields "
                f"(code_b64, kwargs_b64...), not {type(body).__name__}."
            )
        return body
    if mimetype in _FORM_TYPES:
        form = request.form
        _check_not_cut(request)
        return form
    return {}


def _is_json(mimetype: str) -> bool:
    return mimetype in _JSON_TYPES or mimetype.endswith("+json")


def _check_not_cut(request: Request) -> None:
    if request.content_length is None:
        # A chunked body is cut at --max-request-mb without complaint; reading
        # past the cut raises the 413 that a Content-Length body gets upfront.
        request.stream.read(1)


def carries_code(fields: t.Mapping[str, t.Any]) -> bool:
    """Whether the request's fields hold adaptor code at all."""
    return "code_b64" in fields or "code" in fields


def read_call(
    request: Request,
    max_code_bytes: int,
    evaluate_kwargs: bool = True,
    *,
    fields: dict[str, t.Any] | None = None,
    request_id: str = "",
) -> Call:
    """Decode the request's fields (``fields``, if already gathered) into a
    :class:`Call` that carries all the rest of the request needs.

    ``evaluate_kwargs=False`` leaves kwargs that only Python evaluation can
    read as a :class:`owt.codec.KwargsExpression` (for the executor to
    evaluate where adaptors run).

    :raises BadRequest: naming the field that is missing or malformed.
    """
    if fields is None:
        fields = gather_fields(request)
    source = _read_source(fields, request, max_code_bytes)
    arguments = _read_arguments(fields, evaluate_kwargs)
    if not isinstance(arguments, codec.KwargsExpression):
        arguments = codec.check_kwargs_mapping(arguments)
    fn_name = fields.get("fn_name") or "run"
    if not isinstance(fn_name, str) or not fn_name.isidentifier():
        raise BadRequest(f"fn_name must be a Python identifier, not {fn_name!r}.")
    override = fields.get("cache_key_override")
    if override is not None and not isinstance(override, str):
        override = json.dumps(override, sort_keys=True)
    return Call(
        source=source,
        arguments=arguments,
        fn_name=fn_name,
        use_cache=_flag(fields, "use_cache"),
        cache_kwargs=_flag(fields, "cache_kwargs"),
        cache_key_override=override or None,
        pin=_flag(fields, "pin"),
        timeout=_read_timeout(fields),
        path=request.path,
        digest=code_digest(source),
        request_id=request_id,
        http=request,
    )


def _read_source(
    fields: dict[str, t.Any], request: Request, max_code_bytes: int
) -> str:
    if "code_b64" in fields and "code" in fields:
        raise BadRequest("Send either code_b64 or code, not both.")
    if "code_b64" in fields:
        value = fields["code_b64"]
        if not isinstance(value, str):
            raise BadRequest(f"code_b64 must be a string, not {type(value).__name__}.")
        # A cheap bound before decoding (base64 is 4/3 of the source, plus
        # padding and line breaks); the decoded size is checked below.
        if len(value) > 2 * max_code_bytes + 16:
            raise BadRequest(_too_big(max_code_bytes))
        source = codec.decode_code(value)
    elif "code" in fields:
        source = fields["code"]
        if not isinstance(source, str):
            raise BadRequest(f"code must be a string, not {type(source).__name__}.")
    else:
        raise MissingCode(_missing_code_message(request))
    if not source.strip():
        raise MissingCode(
            "The adaptor code (code_b64 or code) is empty; send Python source "
            "that defines run."
        )
    if len(source.encode("utf-8")) > max_code_bytes:
        raise BadRequest(_too_big(max_code_bytes))
    return source


def _too_big(limit: int) -> str:
    return f"The adaptor code is over the {limit // 1024} KB limit (--max-code-kb)."


def _missing_code_message(request: Request) -> str:
    message = (
        "No adaptor code: send code_b64 (base64 Python source defining run) "
        "in the query string or a JSON or form body."
    )
    if (
        request.method == "POST"
        and request.content_length
        and not _is_json(request.mimetype)
        and request.mimetype not in _FORM_TYPES
    ):
        message += (
            f" The body's Content-Type is {request.mimetype or 'missing'!r}; owt "
            "reads application/json and form bodies."
        )
    return message


def _read_arguments(fields: dict[str, t.Any], evaluate: bool = True) -> t.Any:
    if "kwargs_b64" in fields and "kwargs" in fields:
        raise BadRequest("Send either kwargs_b64 or kwargs, not both.")
    if "kwargs_b64" in fields:
        value = fields["kwargs_b64"]
        if not isinstance(value, str):
            raise BadRequest(
                f"kwargs_b64 must be a string, not {type(value).__name__}."
            )
        return codec.decode_kwargs(value, evaluate=evaluate)
    if "kwargs" in fields:
        value = fields["kwargs"]
        if isinstance(value, str):
            # From a query string or a form: text to read like kwargs_b64's.
            return codec.parse_kwargs_text(value, "kwargs", evaluate)
        return value
    return {}


def _flag(fields: dict[str, t.Any], name: str) -> bool:
    if name not in fields or fields[name] is None:
        return False
    return codec.parse_bool(fields[name], name)


def _read_timeout(fields: dict[str, t.Any]) -> float | None:
    value = fields.get("timeout")
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise BadRequest(
            f"timeout must be a number of seconds, not {value!r}."
        ) from None
    if not seconds > 0:
        raise BadRequest(f"timeout must be positive, not {value!r}.")
    return seconds
