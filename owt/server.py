"""The owt HTTP server: one catch-all route that runs the code it is sent.

``create_app(options)`` builds the Flask app; ``main()`` serves it with the
options in ``args`` (``owt serve`` fills them from the command line). Adaptor
code may ``from owt.server import *`` to get ``args``, ``main``, ``Server``
and the summat blocks, as the spec's meta examples do.

Every request flows one way: check access → read the call → load the warm
adaptor → execute → map the result to a response. ``/_owt/`` is reserved for
owt's own endpoints; every other path reaches adaptors.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import typing as t

from flask import Flask
from flask import Request
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

import owt
from owt import capture
from owt import logformat
from owt.cache import CACHE_HEADER
from owt.cache import CACHE_STATE_ENVIRON
from owt.errors import MissingCode
from owt.errors import NotFound
from owt.errors import OwtError
from owt.errors import PayloadTooLarge
from owt.execute import code_digest
from owt.limits import ConcurrencyLimit
from owt.limits import check_nesting
from owt.request import read_call
from owt.response import error_response
from owt.response import to_json
from owt.runtime import ServeOptions
from owt.runtime import Server
from owt.runtime import args
from owt.sealing import seal_server_modules
from owt.security import AccessPolicy
from owt.security import is_loopback
from owt.summat import *  # noqa: F403
from owt.summat import __all__ as _summat_all
from owt.workers.executor import Executor
from owt.workers.executor import create_executor
from owt.workers.routes import register_worker_routes

__all__ = ["Server", "args", "create_app", "main", *_summat_all]

log = logging.getLogger("owt")

_ALLOWED_METHODS = "GET, POST, HEAD, OPTIONS"
#: The most parts a multipart or urlencoded form may have.
MAX_FORM_PARTS = 1000


class _EverythingConverter(PathConverter):
    """Matches any path, empty segments and leading slashes included."""

    # Not ".*": a path may hold a (percent-encoded) line break, which "."
    # doesn't match; every path must reach adaptors.
    regex = r"[\s\S]*"
    part_isolating = False


class OwtApp(Flask):
    """The Flask app, holding the collaborators it was built with."""

    owt_options: ServeOptions
    owt_policy: AccessPolicy
    owt_executor: Executor


def create_app(options: ServeOptions | None = None) -> OwtApp:
    """Build the owt WSGI app for ``options`` (default: ``args``)."""
    options = (options or args).copy()
    app = OwtApp(__name__, static_folder=None)
    app.owt_options = options
    app.owt_policy = AccessPolicy(
        options.auth, options.allow_origins, is_loopback(options.address)
    )
    app.owt_executor = create_executor(options)
    app.config["MAX_CONTENT_LENGTH"] = int(options.max_request_mb * 1024 * 1024)
    # A form field may be as large as the body (code_b64 of a big adaptor);
    # the number of parts stays bounded (see http_error).
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    app.url_map.converters["everything"] = _EverythingConverter
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    started = time.time()

    policy = app.owt_policy
    executor = app.owt_executor
    max_code_bytes = int(options.max_code_kb * 1024)
    in_front = options.executor != "process"
    max_kwargs_depth = options.max_kwargs_depth
    # In process mode --max-concurrency bounds each worker (owt.workers).
    slots = ConcurrencyLimit(options.max_concurrency if in_front else 0)
    hide_tracebacks = options.hide_tracebacks

    @app.before_request
    def check_access() -> Response | None:
        req = _current_request()
        g.request_id = req.environ.get("owt.request_id") or new_request_id()
        if policy.is_allowed_preflight(req):
            return Response(status=204, headers=policy.preflight_headers(req))
        policy.check(req)
        return None

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        cache_state = request.environ.get(CACHE_STATE_ENVIRON)
        if cache_state is not None:
            response.headers[CACHE_HEADER] = cache_state
        origin = request.headers.get("Origin")
        if origin is not None:
            for name, value in policy.cors_headers(origin).items():
                response.headers.setdefault(name, value)
        return response

    @app.errorhandler(OwtError)
    def owt_error(error: OwtError) -> Response:
        if error.status >= 500:
            # With --hide-tracebacks the log is the only place left for it.
            trace = error.details.get("traceback") if hide_tracebacks else None
            log.error(
                "%s: %s%s", error.kind, error.message, f"\n{trace}" if trace else ""
            )
        return error_response(error, g.get("request_id"), hide_tracebacks)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            converted: OwtError = _why_too_large(request, options.max_request_mb)
        else:
            converted = OwtError(error.description or str(error))
            converted.status = error.code or 500  # type: ignore[misc]
            converted.kind = (error.name or "error").lower().replace(" ", "_")  # type: ignore[misc]
        return error_response(converted, g.get("request_id"), hide_tracebacks)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("owt failed to handle a request")
        converted = OwtError(f"owt failed: {type(error).__name__}: {error}")
        return error_response(converted, g.get("request_id"), hide_tracebacks)

    register_worker_routes(app, executor)

    @app.get("/_owt/health")
    def health() -> Response:
        body = {
            "status": "ok",
            "version": owt.__version__,
            "uptime_s": round(time.time() - started, 3),
            "warm_adaptors": len(executor.code_cache),
        }
        return Response(to_json(body), mimetype="application/json")

    @app.route("/_owt/cache", methods=["GET", "DELETE"])
    def cache_admin() -> Response:
        # GET: stats; DELETE: clear all, or ?path=/x to remove that pin.
        cache = executor.response_cache
        if request.method == "GET":
            body: dict[str, t.Any] = cache.stats()
        elif "path" in request.args:
            path = request.args["path"]
            if not cache.unpin(path):
                raise NotFound(f"No response is pinned to {path!r}.")
            body = {"unpinned": path}
        else:
            body = {"cleared": cache.clear()}
        return Response(to_json(body), mimetype="application/json")

    def answer_pinned(req: Request) -> Response | None:
        response = executor.response_cache.pinned_response(req.path)
        if response is not None:
            req.environ[CACHE_STATE_ENVIRON] = "hit"
        return response

    @app.route("/_owt/<everything:rest>", methods=["GET", "POST", "DELETE", "HEAD"])
    def reserved(rest: str) -> Response:
        raise NotFound(f"/_owt/{rest} is not one of owt's endpoints.")

    def adaptor_route(path: str = "") -> Response:
        req = _current_request()
        if req.method == "OPTIONS":
            headers = {"Allow": _ALLOWED_METHODS, **policy.preflight_headers(req)}
            return Response(status=204, headers=headers)
        if req.method == "HEAD":
            # HEAD never runs code: only a pinned path has something to describe.
            pinned = answer_pinned(req)
            if pinned is not None:
                return pinned
            return Response(status=204, headers={"Allow": _ALLOWED_METHODS})
        try:
            # Expressions in kwargs are caller code: they are evaluated where
            # adaptors run, inside a concurrency slot (owt.codec.resolve_kwargs).
            call = read_call(req, max_code_bytes, evaluate_kwargs=False)
        except MissingCode:
            # A request without code (a browser's /favicon.ico) gets the pin.
            pinned = answer_pinned(req)
            if pinned is None:
                raise
            return pinned
        check_nesting(call.arguments, max_kwargs_depth)
        digest = code_digest(call.source)
        req.environ["owt.code_digest"] = digest
        if options.verbose >= 1:
            req.environ["owt.code"] = call.source
        # --max-concurrency: the slot is held until the response body closes,
        # so a stream counts for as long as it runs.
        release = slots.acquire()
        try:
            response = executor.respond(call, digest)
        except BaseException:
            release()
            raise
        response.call_on_close(release)
        return response

    methods = ["GET", "POST", "HEAD", "OPTIONS"]
    app.add_url_rule(
        "/",
        "adaptor_root",
        adaptor_route,
        methods=methods,
        provide_automatic_options=False,
    )
    app.add_url_rule(
        "/<everything:path>",
        "adaptor",
        adaptor_route,
        methods=methods,
        provide_automatic_options=False,
    )
    app.wsgi_app = _AccessLog(app.wsgi_app, options.verbose)  # type: ignore[method-assign]
    return app


def _why_too_large(req: Request, limit_mb: float) -> PayloadTooLarge:
    """The 413 for what was really refused: the body's size or its parts."""
    length = req.content_length
    if length is not None and length <= limit_mb * 1024 * 1024:
        return PayloadTooLarge(
            f"The form has more than {MAX_FORM_PARTS} parts, the most owt reads "
            f"(the body, {length:,} bytes, is within the {limit_mb:g} MB limit); "
            "send fewer fields, or a JSON body."
        )
    return PayloadTooLarge(
        f"The request body is over the {limit_mb:g} MB limit (--max-request-mb)."
    )


def _current_request() -> Request:
    """The request itself: each attribute read through Flask's proxy costs."""
    return t.cast(Request, request._get_current_object())  # type: ignore[attr-defined]


class _AccessLog:
    """WSGI middleware: one log line per request, written when it finishes.

    Method, path, short code hash, status and duration; ``-v`` adds the code.
    Streams are logged when they end, so the duration covers the whole stream.
    """

    def __init__(self, app: t.Any, verbose: int) -> None:
        self.app = app
        self.verbose = verbose

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        started = time.perf_counter()
        environ["owt.request_id"] = new_request_id()
        status_holder: list[str] = []

        def recording_start_response(status: str, headers: t.Any, *exc: t.Any) -> t.Any:
            status_holder.append(status)
            return start_response(status, headers, *exc)

        body = self.app(environ, recording_start_response)
        return _LoggedBody(body, lambda: self._log(environ, status_holder, started))

    def _log(
        self, environ: dict[str, t.Any], status: list[str], started: float
    ) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        digest = environ.get("owt.code_digest", "")[:8] or "-"
        path = logformat.printable(environ.get("PATH_INFO", ""))
        code = status[0].split(" ", 1)[0] if status else "-"
        if log.isEnabledFor(logging.INFO):
            # Written directly, in the format configure_logging sets: a
            # LogRecord per request cost more than the rest of the line.
            method = environ.get("REQUEST_METHOD")
            request_id = environ.get("owt.request_id")
            sys.stderr.write(
                f"{_timestamp()} INFO {method} {path} code={digest} status={code} "
                f"{elapsed_ms:.1f}ms id={request_id}\n"
            )
        if self.verbose >= 1 and "owt.code" in environ:
            log.info("code %s:\n%s", digest, environ["owt.code"])


_clock: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """Now, as logging's default ``asctime`` writes it (cached per second)."""
    global _clock
    now = time.time()
    second = int(now)
    if _clock[0] != second:
        _clock = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_clock[1]},{int((now - second) * 1000):03d}"


def new_request_id() -> str:
    """16 random hex digits naming a request (cheaper than a uuid4)."""
    return os.urandom(8).hex()


class _LoggedBody:
    def __init__(self, body: t.Any, on_close: t.Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> t.Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


def configure_logging(verbose: int) -> None:
    """One line per request at the default level; more with ``-vv``/``-vvv``."""
    level = logging.DEBUG if verbose >= 2 else logging.INFO
    logformat.configure(level, "%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(
        logging.DEBUG if verbose >= 3 else logging.WARNING
    )


def prepare_app(options: ServeOptions) -> OwtApp:
    """Set up this process to serve adaptors and build the app for ``options``.

    Called once in each process that runs adaptors (every way owt starts).
    """
    configure_logging(options.verbose)
    capture.install()
    Server.install(options)
    app = create_app(options)
    # Adaptors run in this process: from here on, rebinding a name of owt's
    # server modules (import owt.server; owt.server.x = None) is refused
    # instead of breaking every later request (see owt.sealing).
    seal_server_modules()
    return app


def main(options: ServeOptions | None = None) -> None:
    """Serve owt with ``options`` (default: the module's ``args``) until stopped.

    The spec's meta example sets ``args.port`` and starts this in a
    ``multiprocessing.Process``, giving a second server on that port.
    """
    from owt.serving import serve

    options = (options or args).copy()
    configure_logging(options.verbose)
    serve(options, prepare_app)


if __name__ == "__main__":
    from owt.cli import main as cli_main

    cli_main(["serve", *sys.argv[1:]])
