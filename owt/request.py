"""Read an owt call out of an HTTP request.

The only module that looks at the request's fields. Fields come from the
query string, a JSON body (``curl --json``) or a form body; a field sent in
two places with different values is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing as t

from owt import codec
from owt.errors import BadRequest
from owt.errors import MissingCode
from owt.errors import UnknownCode
from owt.execute import code_digest

if t.TYPE_CHECKING:
    from flask import Request
    from werkzeug.datastructures import FileStorage

_JSON_TYPES = ("application/json",)
_MULTIPART = "multipart/form-data"
_FORM_TYPES = ("application/x-www-form-urlencoded", _MULTIPART)
_HEX = frozenset("0123456789abcdef")


class CodeSource(t.Protocol):
    """Where code sent by name or digest is found (see :mod:`owt.registry`)."""

    def by_digest(self, digest: str) -> str | None:
        """The source with this SHA-256 hex digest, if the server holds it."""

    def by_name(self, name: str) -> str:
        """The source registered as ``name``.

        :raises UnknownAdaptor: when there is none.
        """


@dataclasses.dataclass(frozen=True)
class Call:
    """What a request asks owt to do."""

    source: str
    arguments: t.Any
    fn_name: str = "run"
    use_cache: bool = False
    cache_kwargs: bool = False
    cache_key_override: str | None = None
    #: A digest of a multipart body's extra parts (see :func:`form_key`),
    #: part of the cache key with ``cache_kwargs``.
    form_key: str | None = None
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


_CODE_FIELDS = ("code_b64", "code", "code_sha256", "adaptor")


def carries_code(fields: t.Mapping[str, t.Any]) -> bool:
    """Whether the request's fields hold or name adaptor code at all."""
    return any(name in fields for name in _CODE_FIELDS)


def read_call(
    request: Request,
    max_code_bytes: int,
    evaluate_kwargs: bool = True,
    *,
    fields: dict[str, t.Any] | None = None,
    request_id: str = "",
    code_source: CodeSource | None = None,
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
    source = _read_source(fields, request, max_code_bytes, code_source)
    arguments = _read_arguments(fields, evaluate_kwargs)
    if not isinstance(arguments, codec.KwargsExpression):
        arguments = codec.check_kwargs_mapping(arguments)
        check_no_overlap(arguments, form_arguments(request))
    fn_name = fields.get("fn_name") or "run"
    if not isinstance(fn_name, str) or not fn_name.isidentifier():
        raise BadRequest(f"fn_name must be a Python identifier, not {fn_name!r}.")
    override = fields.get("cache_key_override")
    if override is not None and not isinstance(override, str):
        override = json.dumps(override, sort_keys=True)
    use_cache = _flag(fields, "use_cache")
    cache_kwargs = _flag(fields, "cache_kwargs")
    return Call(
        source=source,
        arguments=arguments,
        fn_name=fn_name,
        use_cache=use_cache,
        cache_kwargs=cache_kwargs,
        form_key=form_key(request) if use_cache and cache_kwargs else None,
        cache_key_override=override or None,
        pin=_flag(fields, "pin"),
        timeout=_read_timeout(fields),
        path=request.path,
        digest=code_digest(source),
        request_id=request_id,
        http=request,
    )


def _read_source(
    fields: dict[str, t.Any],
    request: Request,
    max_code_bytes: int,
    code_source: CodeSource | None = None,
) -> str:
    sent = [name for name in ("code_b64", "code", "adaptor") if name in fields]
    if len(sent) > 1:
        raise BadRequest(f"Send either {sent[0]} or {sent[1]}, not both.")
    claimed = _read_claimed_digest(fields)
    if "adaptor" in fields:
        if claimed is not None:
            raise BadRequest("Send either adaptor or code_sha256, not both.")
        return _registered(fields["adaptor"], code_source)
    if claimed is not None and not sent:
        held = code_source.by_digest(claimed) if code_source else None
        if held is None:
            raise UnknownCode(
                f"This server doesn't hold the code with SHA-256 {claimed}; "
                "send the code itself (code_b64 or code).",
                code_sha256=claimed,
            )
        return held
    source = _read_sent_source(fields, request, max_code_bytes)
    if claimed is not None and claimed != code_digest(source):
        raise BadRequest(
            f"code_sha256 {claimed} is not the SHA-256 of the code sent "
            f"({code_digest(source)}); send one of them, or both matching."
        )
    return source


def _read_claimed_digest(fields: dict[str, t.Any]) -> str | None:
    value = fields.get("code_sha256")
    if value is None:
        return None
    digest = value.strip().lower() if isinstance(value, str) else ""
    if len(digest) != 64 or not _HEX.issuperset(digest):
        raise BadRequest(
            "code_sha256 must be the 64 hex digits of the SHA-256 of the "
            f"adaptor's UTF-8 source, not {str(value)[:80]!r}."
        )
    return digest


def _registered(name: t.Any, code_source: CodeSource | None) -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest("adaptor must be the name of a registered adaptor.")
    if code_source is None:
        raise BadRequest("This server has no registered adaptors.")
    return code_source.by_name(name)


def _read_sent_source(
    fields: dict[str, t.Any], request: Request, max_code_bytes: int
) -> str:
    if "code_b64" in fields:
        value = fields["code_b64"]
        if not isinstance(value, str):
            raise BadRequest(f"code_b64 must be a string, not {type(value).__name__}.")
        # A cheap bound before decoding (base64 is 4/3 of the source, plus
        # padding and line breaks); the decoded size is checked below.
        if len(value) > 2 * max_code_bytes + 16:
            raise BadRequest(code_too_big(max_code_bytes))
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
        raise BadRequest(code_too_big(max_code_bytes))
    return source


def code_too_big(limit: int) -> str:
    """The message for code over ``--max-code-kb``."""
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


def form_arguments(request: Request) -> dict[str, t.Any]:
    """The arguments a ``multipart/form-data`` body carries beside owt's
    fields: each file part as a :class:`~werkzeug.datastructures.FileStorage`
    (a list when several share a name), each other text part as a string."""
    if request.method != "POST" or request.mimetype != _MULTIPART:
        return {}
    found: dict[str, t.Any] = {}
    for name in request.files:
        if name in codec.PROTOCOL_FIELDS:
            raise BadRequest(f"{name} was sent as a file; send it as a text field.")
        files = request.files.getlist(name)
        found[name] = files[0] if len(files) == 1 else files
    for name in request.form:
        if name not in codec.PROTOCOL_FIELDS:
            values = request.form.getlist(name)
            check_no_overlap({name: None}, found)
            found[name] = values[0] if len(values) == 1 else values
    return found


def check_no_overlap(
    arguments: t.Mapping[str, t.Any], form: t.Mapping[str, t.Any]
) -> None:
    """Refuse an argument sent both in kwargs and as a form part.

    :raises BadRequest: naming it.
    """
    both = sorted(set(arguments) & set(form))
    if both:
        raise BadRequest(
            f"{both[0]!r} was sent twice (in kwargs and as a form part); send "
            "each argument once."
        )


def with_form_arguments(
    arguments: dict[str, t.Any],
    request: Request | None,
    takes: t.Callable[[str], bool] = lambda name: True,
) -> dict[str, t.Any]:
    """``arguments`` plus the request's form parts (see :func:`form_arguments`)
    that the entrypoint ``takes``; the others stay in ``request.files`` and
    ``request.form`` for an adaptor that reads the request itself.

    :raises BadRequest: for an argument sent twice.
    """
    if request is None:
        return arguments
    form = form_arguments(request)
    if not form:
        return arguments
    check_no_overlap(arguments, form)
    return {**arguments, **{k: v for k, v in form.items() if takes(k)}}


def form_key(request: Request) -> str | None:
    """A digest of the form parts' names, file names, types and contents,
    for a cache key that includes the arguments (None without any)."""
    form = form_arguments(request)
    if not form:
        return None
    digest = hashlib.sha256()
    for name in sorted(form):
        values = form[name] if isinstance(form[name], list) else [form[name]]
        for value in values:
            digest.update(json.dumps(_part_identity(name, value)).encode())
    return digest.hexdigest()


def _part_identity(name: str, value: str | FileStorage) -> list[t.Any]:
    if isinstance(value, str):
        return [name, "text", value]
    stream = value.stream
    position = stream.tell()
    content = hashlib.sha256(stream.read()).hexdigest()
    stream.seek(position)
    return [name, "file", value.filename, value.content_type, content]


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
