"""The owt app factory, and the names adaptor code imports.

``create_app(options)`` builds the Flask app: the access checks, the admin
blueprint (``/_owt/*``), the adaptor blueprint (every other path) and one
error handler. ``main()`` serves it with the options in ``args``
(``owt serve`` fills them from the command line).

Adaptor code may ``from owt.server import *`` to get ``args``, ``main``,
``Server`` and the summat blocks, as the spec's meta examples do.
"""

from __future__ import annotations

import runpy
import sys

from flask import Flask
from flask import Request
from flask import g
from flask import request
from werkzeug.wrappers import Response

from owt.accesslog import REQUEST_ID_ENVIRON
from owt.accesslog import AccessLog
from owt.accesslog import new_request_id
from owt.cachefront import CacheFront
from owt.dispatch import AdaptorDispatch
from owt.errorhandler import MAX_FORM_PARTS
from owt.errorhandler import handle_exception
from owt.extension import Owt
from owt.extension import current_owt
from owt.logformat import configure_logging
from owt.options import ServeOptions
from owt.response import OwtJSONProvider
from owt.routes.adaptor import EverythingConverter
from owt.routes.adaptor import adaptor
from owt.routes.adaptor import run_adaptor
from owt.routes.admin import admin
from owt.routes.playground import playground
from owt.routes.registry import registry
from owt.runtime import *  # noqa: F403
from owt.runtime import __all__ as _runtime_all
from owt.runtime import args
from owt.serving import serve
from owt.startup import prepare_process
from owt.startup import seal

__all__ = ["create_app", "main", *_runtime_all]


def create_app(options: ServeOptions | None = None) -> Flask:
    """Build the owt WSGI app for ``options`` (default: ``args``)."""
    options = (options or args).copy()
    app = Flask(__name__, static_folder=None)
    app.json = OwtJSONProvider(app)
    owt = Owt.from_options(options)
    owt.install(app)
    max_body = int(options.max_request_mb * 1024 * 1024)
    app.config["MAX_CONTENT_LENGTH"] = max_body
    # A form field may be as large as the body (code_b64 of a big adaptor);
    # the number of parts stays bounded.
    app.config["MAX_FORM_MEMORY_SIZE"] = max_body
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    app.url_map.converters["everything"] = EverythingConverter
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.before_request(check_access)
    app.after_request(add_headers)
    app.register_error_handler(Exception, handle_exception)
    app.register_blueprint(playground)
    app.register_blueprint(admin)
    app.register_blueprint(registry)
    app.register_blueprint(adaptor)
    # Cache hits are answered before Flask, adaptor calls go straight through
    # owt's steps (the same functions as the hooks above), and the access log
    # sees everything.
    dispatch = AdaptorDispatch(
        app.wsgi_app, app, check_access, run_adaptor, handle_exception, add_headers
    )
    front = CacheFront(dispatch, owt)
    app.wsgi_app = AccessLog(front, options.verbose)  # type: ignore[method-assign]
    return app


def check_access() -> Response | None:
    """Before anything else: answer an allowed CORS preflight, or refuse a
    request from a host, origin or user owt doesn't accept code from."""
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    g.request_id = req.environ.get(REQUEST_ID_ENVIRON) or new_request_id()
    policy = current_owt().policy
    if policy.is_allowed_preflight(req):
        return Response(status=204, headers=policy.preflight_headers(req))
    policy.check(req)
    return None


def add_headers(response: Response) -> Response:
    """Every response names its request; an allowed origin gets CORS headers."""
    response.headers["X-Request-Id"] = g.get("request_id", "")
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is not None:
        for name, value in current_owt().policy.cors_headers(origin).items():
            response.headers.setdefault(name, value)
    return response


def prepare_app(options: ServeOptions) -> Flask:
    """Set up this process to serve adaptors and build the app for ``options``
    (run in each HTTP worker process)."""
    prepare_process(options)
    app = create_app(options)
    seal()
    return app


def main(options: ServeOptions | None = None) -> None:
    """Serve owt with ``options`` (default: ``args``) until stopped.

    The spec's meta example sets ``args.port`` and starts this in a
    ``multiprocessing.Process``, giving a second server on that port.
    """
    options = (options or args).copy()
    configure_logging(options.verbose)
    serve(options, prepare_app)


if __name__ == "__main__":
    # python -m owt.server [OPTIONS] is owt serve [OPTIONS].
    sys.argv[1:1] = ["serve"]
    runpy.run_module("owt", run_name="__main__")
