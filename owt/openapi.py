"""``/_owt/openapi.json``: the registered adaptors as an OpenAPI 3.1 document.

Each adaptor NAME is described as ``POST /NAME`` with a JSON body
``{"adaptor": "NAME", "kwargs": {...}}`` (or a multipart body when ``run``
takes files), its ``kwargs`` schema built from ``run``'s parameters and type
hints, and its answer from the return annotation. The JSON Schemas come
from pydantic's ``TypeAdapter``.

Type hints are read from the source's syntax tree, never by running the
adaptor: an annotation made only of names (``int``, ``list[str]``,
``Literal["a"]``, ``str | None``, ``typing.Any``...) is evaluated among
builtins and :mod:`typing`; anything else is described as any value.
"""

from __future__ import annotations

import ast
import types
import typing as t

import owt
from owt.registry import RegisteredAdaptor
from owt.signature import REQUIRED
from owt.signature import Parameter
from owt.signature import Signature
from owt.signature import read_signature

_FILE_SCHEMA = {"type": "string", "contentMediaType": "application/octet-stream"}
_FILE_TYPES = frozenset({"FileStorage", "werkzeug.datastructures.FileStorage"})
_REQUEST_NAMES = frozenset({"request", "_"})
#: What annotations may name, and what each name means.
_NAMES: dict[str, t.Any] = {
    **{name: getattr(t, name) for name in ("Any", "Optional", "Union", "Literal")},
    **{name: getattr(t, name) for name in ("List", "Dict", "Tuple", "Set")},
    **{
        kind.__name__: kind
        for kind in (int, float, str, bool, bytes, list, dict, tuple, set)
    },
    "None": None,
}
_TYPING = types.SimpleNamespace(**{k: v for k, v in _NAMES.items() if k[0].isupper()})
_NAMES.update(t=_TYPING, typing=_TYPING)
_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a stable word: the kind"},
        "message": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "traceback": {"type": "string"},
    },
    "required": ["error", "message"],
}
#: Return annotations whose response isn't JSON, by their last name.
_MEDIA_TYPES = {
    "str": "text/html",
    "bytes": "application/octet-stream",
    "Image": "image/png",
    "Path": "application/octet-stream",
    "Iterator": "text/event-stream",
    "Generator": "text/event-stream",
    "Iterable": "text/event-stream",
}


def document(adaptors: list[RegisteredAdaptor]) -> dict[str, t.Any]:
    """The OpenAPI 3.1 document describing ``adaptors``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "owt adaptors",
            "version": owt.__version__,
            "description": (
                "Adaptors registered with PUT /_owt/adaptors/NAME. Each is "
                "called by any path with adaptor=NAME; POST /NAME is the "
                "path described here."
            ),
        },
        "paths": {f"/{a.name}": {"post": _operation(a)} for a in adaptors},
        "components": {"schemas": {"Error": _ERROR}},
    }


def _operation(adaptor: RegisteredAdaptor) -> dict[str, t.Any]:
    signature = read_signature(adaptor.source) or Signature("run", ())
    parameters = [p for p in _arguments(signature) if p.kind != "var_positional"]
    files = [p for p in parameters if p.annotation in _FILE_TYPES]
    values = [p for p in parameters if p not in files]
    kwargs = _kwargs_schema(values, signature)
    name = {"const": adaptor.name, "default": adaptor.name}
    content: dict[str, t.Any] = {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"adaptor": name, "kwargs": kwargs},
                "required": ["adaptor"] + (["kwargs"] if kwargs["required"] else []),
            }
        }
    }
    if files:
        content = {"multipart/form-data": _multipart(name, kwargs, files)}
    operation: dict[str, t.Any] = {
        "operationId": _operation_id(adaptor.name),
        "summary": signature.doc.split("\n", 1)[0] or f"run {adaptor.name}",
        "requestBody": {"required": True, "content": content},
        "responses": {
            "200": _answer(signature.returns),
            "4XX": _error("The request is wrong (its message says how)."),
            "5XX": _error("The adaptor failed: its error and traceback."),
        },
    }
    if signature.doc:
        operation["description"] = signature.doc
    return operation


def _arguments(signature: Signature) -> list[Parameter]:
    """The parameters a caller fills (not the request a first one may get)."""
    parameters = list(signature.parameters)
    if parameters and parameters[0].kind == "positional":
        first = parameters[0]
        takes_request = first.name in _REQUEST_NAMES or first.annotation.endswith(
            "Request"
        )
        if takes_request and first.default is REQUIRED:
            parameters = parameters[1:]
    return parameters


def _kwargs_schema(
    parameters: list[Parameter], signature: Signature
) -> dict[str, t.Any]:
    properties = {}
    for parameter in parameters:
        if parameter.kind == "var_keyword":
            continue
        schema = schema_for(parameter.annotation)
        if parameter.default is not REQUIRED and not parameter.default_text:
            schema = {**schema, "default": parameter.default}
        properties[parameter.name] = schema
    takes_any = any(p.kind == "var_keyword" for p in signature.parameters)
    return {
        "type": "object",
        "properties": properties,
        "required": [p.name for p in parameters if p.required],
        "additionalProperties": takes_any,
    }


def _multipart(
    name: dict[str, t.Any], kwargs: dict[str, t.Any], files: list[Parameter]
) -> dict[str, t.Any]:
    properties = {"adaptor": name, "kwargs": kwargs}
    properties.update({p.name: _FILE_SCHEMA for p in files})
    return {
        "schema": {
            "type": "object",
            "properties": properties,
            "required": ["adaptor"] + [p.name for p in files if p.required],
        },
        "encoding": {"kwargs": {"contentType": "application/json"}},
    }


def _answer(returns: str) -> dict[str, t.Any]:
    last_name = returns.split("[", 1)[0].rsplit(".", 1)[-1]
    media_type = _MEDIA_TYPES.get(last_name)
    if not returns:
        content: dict[str, t.Any] = {"*/*": {"schema": {}}}
    elif media_type is None:
        content = {"application/json": {"schema": schema_for(returns)}}
    else:
        content = {media_type: {"schema": {"type": "string"}}}
    return {"description": "What run returns.", "content": content}


def _error(description: str) -> dict[str, t.Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _operation_id(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return cleaned if cleaned[:1].isalpha() else f"adaptor_{cleaned}"


def schema_for(annotation: str) -> dict[str, t.Any]:
    """The JSON Schema of the type ``annotation`` (source text) names, or
    ``{}`` (any value) when it names something else."""
    hint = _evaluate(annotation)
    if hint is None:
        return {}
    from pydantic import PydanticUserError
    from pydantic import TypeAdapter

    try:
        schema = TypeAdapter(hint).json_schema()
    except (PydanticUserError, TypeError, ValueError):
        return {}
    return {} if "$defs" in schema else schema


def _evaluate(annotation: str) -> t.Any:
    if not annotation:
        return None
    try:
        tree = ast.parse(annotation, mode="eval")
    except SyntaxError:
        return None
    if not all(_allowed(node) for node in ast.walk(tree)):
        return None
    try:
        return eval(compile(tree, "<annotation>", "eval"), {"__builtins__": {}}, _NAMES)
    except Exception:  # an unknown name, or a subscript typing refuses
        return None


def _allowed(node: ast.AST) -> bool:
    """Names, ``typing.X``, subscripts, ``|`` and literal constants only."""
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id in ("t", "typing")
    return isinstance(
        node,
        ast.Expression
        | ast.Name
        | ast.Load
        | ast.Subscript
        | ast.Tuple
        | ast.List
        | ast.Constant
        | ast.BinOp
        | ast.BitOr,
    )
