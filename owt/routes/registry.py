"""Named adaptors: register once, then call with ``adaptor=NAME``.

- ``PUT /_owt/adaptors/NAME``: register the code in the body (the source as
  text, or a JSON object with ``code`` or ``code_b64``); 201 when the name is
  new, 200 when it replaces an adaptor;
- ``GET /_owt/adaptors``: every registered adaptor (name, digest, size, when
  registered, the ``run`` signature);
- ``GET /_owt/adaptors/NAME``: one of them, with its code;
- ``DELETE /_owt/adaptors/NAME``: unregister it;
- ``GET /_owt/openapi.json``: all of them as an OpenAPI 3.1 document
  (:mod:`owt.openapi`).

Registering is sending code, so it passes the same checks as any call
(Host, origin, ``--auth``). Nothing is run when an adaptor is registered:
its code is compiled to refuse a syntax error, and described from its
syntax tree.
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Request
from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

from owt import codec
from owt import openapi
from owt.errors import BadRequest
from owt.errors import UnknownAdaptor
from owt.execute import compile_adaptor
from owt.extension import current_owt
from owt.registry import check_name
from owt.request import code_too_big

registry = Blueprint("registry", __name__, url_prefix="/_owt")


@registry.get("/adaptors")
def list_adaptors() -> Response:
    """Every registered adaptor."""
    found = current_owt().registry.all()
    return jsonify(adaptors=[adaptor.describe() for adaptor in found])


@registry.get("/openapi.json")
def openapi_document() -> Response:
    """The registered adaptors as an OpenAPI 3.1 document."""
    return jsonify(openapi.document(current_owt().registry.all()))


@registry.get("/adaptors/<name>")
def show_adaptor(name: str) -> Response:
    """One registered adaptor, with its code."""
    adaptor = current_owt().registry.get(name)
    return jsonify({**adaptor.describe(), "code": adaptor.source})


@registry.put("/adaptors/<name>")
def register_adaptor(name: str) -> Response:
    """Register (or replace) the adaptor ``name``."""
    owt = current_owt()
    check_name(name)
    source = _read_source(request, owt.max_code_bytes)
    compile_adaptor(source, f"<adaptor {name}>")
    adaptor, created = owt.registry.put(name, source)
    owt.known_code.remember(adaptor.digest, adaptor.source)
    response = jsonify(adaptor.describe())
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/_owt/adaptors/{name}"
    return response


@registry.delete("/adaptors/<name>")
def remove_adaptor(name: str) -> Response:
    """Unregister ``name``."""
    if not current_owt().registry.remove(check_name(name)):
        raise UnknownAdaptor(f"No adaptor is registered as {name!r}.", adaptor=name)
    return jsonify(removed=name)


def _read_source(req: Request, max_code_bytes: int) -> str:
    raw = req.get_data(cache=False)
    if len(raw) > 2 * max_code_bytes + 1024:
        raise BadRequest(code_too_big(max_code_bytes))
    if req.is_json:
        source = _source_from_json(raw)
    else:
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequest(f"The adaptor's code is not UTF-8 text: {e}.") from None
    if not source.strip():
        raise BadRequest(
            "No code to register: send the adaptor's Python source as the "
            'body, or a JSON body {"code": ...} or {"code_b64": ...}.'
        )
    if len(source.encode("utf-8")) > max_code_bytes:
        raise BadRequest(code_too_big(max_code_bytes))
    return source


def _source_from_json(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise BadRequest(f"The request body is not valid JSON: {e}.") from None
    if not isinstance(body, dict) or not ("code" in body or "code_b64" in body):
        raise BadRequest('A JSON body must be an object with "code" or "code_b64".')
    if "code" in body and "code_b64" in body:
        raise BadRequest("Send either code_b64 or code, not both.")
    if "code_b64" in body:
        value = body["code_b64"]
        if not isinstance(value, str):
            raise BadRequest("code_b64 must be a string.")
        return codec.decode_code(value)
    if not isinstance(body["code"], str):
        raise BadRequest("code must be a string.")
    return body["code"]
