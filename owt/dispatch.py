"""Adaptor calls dispatched without Flask's per-request machinery.

Almost every request owt serves is a ``GET`` or ``POST`` to an adaptor
path, and its view is always the same one. Flask's dispatch (signals,
hook lookups, view lookup, ``make_response``, ``process_response``) costs
more than owt's own work on a small call, so :class:`AdaptorDispatch`,
WSGI middleware in front of the app, does for those requests exactly what
the app's hooks and view would, in order, inside the app's own request
context (so ``flask.request`` and ``flask.g`` work in adaptors as ever):

1. :func:`owt.server.check_access` (Host, origin, ``--auth``);
2. :func:`owt.routes.adaptor.run_adaptor`;
3. any exception through :func:`owt.errorhandler.handle_exception`;
4. :func:`owt.server.add_headers`.

Every other request (``HEAD``, ``OPTIONS``, ``/_owt/...``) goes to the
app, whose hooks are those same functions.
"""

from __future__ import annotations

import typing as t

from flask import Flask
from werkzeug.wrappers import Response

WSGIApp = t.Callable[[dict[str, t.Any], t.Any], t.Iterable[bytes]]
Hook = t.Callable[[], Response | None]

_RESERVED = "/_owt"


class AdaptorDispatch:
    """WSGI middleware running adaptor calls straight through owt's steps."""

    def __init__(
        self,
        app: WSGIApp,
        flask_app: Flask,
        before: Hook,
        view: t.Callable[[], Response],
        on_error: t.Callable[[Exception], Response],
        after: t.Callable[[Response], Response],
    ) -> None:
        self.app = app
        self.flask_app = flask_app
        self.before = before
        self.view = view
        self.on_error = on_error
        self.after = after

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        method = environ.get("REQUEST_METHOD")
        if (method != "GET" and method != "POST") or environ.get(
            "PATH_INFO", ""
        ).startswith(_RESERVED):
            return self.app(environ, start_response)
        with self.flask_app.request_context(environ):
            try:
                response = self.before() or self.view()
            except Exception as error:  # the app's one handler answers it
                response = self.on_error(error)
            response = self.after(response)
            return response(environ, start_response)
