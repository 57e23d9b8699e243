"""Cache hits answered before Flask: WSGI middleware in front of the app.

A hit runs no adaptor, so what it costs is the request's reading and the
response's writing; Flask's request context, routing and hooks would cost
more than the hit itself. :class:`CacheFront` answers a ``GET`` that the
cache already holds (a stored ``use_cache`` entry, or the pin of a path
asked without code) and hands every other request, unchanged, to the app.

It runs the same checks first (Host, origin, ``--auth``: the app's own
:class:`~owt.security.AccessPolicy`), reads the call with the same
:func:`~owt.request.read_call` and keys it with the same
:func:`~owt.cache.keys.plan_for`, so a request answered here gets what the
app would have answered. Anything it isn't sure of (a refusal, a field it
can't read, a store that is down, a request that also pins) goes to the
app, which answers it in full, errors included.
"""

from __future__ import annotations

import dataclasses
import threading
import typing as t

import cachetools
from flask import Request
from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES

from owt.accesslog import CODE_ENVIRON
from owt.accesslog import DIGEST_ENVIRON
from owt.accesslog import REQUEST_ID_ENVIRON
from owt.cache import CACHE_HEADER
from owt.cache.entry import CachedResponse
from owt.cache.keys import plan_for
from owt.errors import CacheUnavailable
from owt.errors import OwtError
from owt.request import carries_code
from owt.request import gather_fields
from owt.request import read_call
from owt.response import wants_npy

if t.TYPE_CHECKING:
    from owt.extension import Owt

WSGIApp = t.Callable[[dict[str, t.Any], t.Any], t.Iterable[bytes]]

_RESERVED = "/_owt"
#: How many cacheable requests' keys are remembered.
KNOWN_REQUESTS = 1024


@dataclasses.dataclass(frozen=True)
class _Key:
    """What a cacheable request was worked out to be."""

    key: str
    digest: str
    source: str
    #: False for code named by ``adaptor`` or ``code_sha256``.
    repeatable: bool


class CacheFront:
    """WSGI middleware answering ``GET`` cache hits and pins itself."""

    def __init__(self, app: WSGIApp, owt: Owt) -> None:
        self.app = app
        self.owt = owt
        # The keys of requests seen (path, query string, npy or not): the
        # same request again finds its entry without being read again.
        self._keys: cachetools.LRUCache[tuple[str, str, bool], _Key] = (
            cachetools.LRUCache(maxsize=KNOWN_REQUESTS)
        )
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("PATH_INFO", "").startswith(_RESERVED)
            and _may_be_cached(environ.get("QUERY_STRING", ""), self.owt)
        ):
            request = Request(environ)
            entry = self._cached(request)
            if entry is not None:
                return self._send(entry, request, start_response)
        return self.app(environ, start_response)

    def _cached(self, request: Request) -> CachedResponse | None:
        """The cached answer to ``request``, or None for the app to answer."""
        owt = self.owt
        try:
            owt.policy.check(request)
            if "use_cache" in request.environ.get("QUERY_STRING", ""):
                return self._stored(request)
            if carries_code(request.args):
                return None
            return owt.cache.pinned_entry(request.path)
        except (OwtError, CacheUnavailable):
            return None  # the app answers it, and says what is wrong

    def _stored(self, request: Request) -> CachedResponse | None:
        environ = request.environ
        npy = "npy" in environ.get("HTTP_ACCEPT", "") and wants_npy(
            request.accept_mimetypes
        )
        asked = (request.path, environ.get("QUERY_STRING", ""), npy)
        with self._lock:
            known = self._keys.get(asked)
        if known is None:
            known = self._derive(request)
            if known is None:
                return None
            if known.repeatable:
                with self._lock:
                    self._keys[asked] = known
        entry = self.owt.cache.store.lookup(known.key)
        if entry is None:
            return None
        environ[DIGEST_ENVIRON] = known.digest
        if self.owt.options.verbose >= 1:
            environ[CODE_ENVIRON] = known.source
        return entry

    def _derive(self, request: Request) -> _Key | None:
        """The cache key of ``request``, as the app works it out."""
        owt = self.owt
        fields = gather_fields(request)
        call = read_call(
            request,
            owt.max_code_bytes,
            evaluate_kwargs=False,
            fields=fields,
            code_source=owt,
        )
        plan = plan_for(call)
        if plan.key is None or plan.pin_path is not None:
            return None
        # Code named by adaptor or digest may change or go: derive it again.
        repeatable = "adaptor" not in fields and "code_sha256" not in fields
        return _Key(plan.key, call.digest, call.source, repeatable)

    def _send(
        self, entry: CachedResponse, request: Request, start_response: t.Any
    ) -> t.Iterable[bytes]:
        """Answer with ``entry``, and the headers every owt response carries
        (see ``server.add_headers``)."""
        if entry.chunks is not None:
            # A stream is replayed as one, as the app would.
            response = entry.to_response()
            _add_headers(response.headers, request, self.owt)
            return response(request.environ, start_response)
        headers = Headers(list(entry.headers))
        headers["Content-Length"] = str(len(entry.body))
        _add_headers(headers, request, self.owt)
        reason = HTTP_STATUS_CODES.get(entry.status, "UNKNOWN")
        start_response(f"{entry.status} {reason}", headers.to_wsgi_list())
        return [entry.body]


def _may_be_cached(query_string: str, owt: Owt) -> bool:
    """Cheap, from the raw query: whether a GET may be a hit or a pin. A
    spelling this misses (say, use%5Fcache) only means the app answers; one
    it lets through is checked properly by :meth:`CacheFront._cached`."""
    if "use_cache" in query_string:
        return True
    carries_code = "code" in query_string or "adaptor" in query_string
    return not carries_code and owt.cache.has_pins()


def _add_headers(headers: Headers, request: Request, owt: Owt) -> None:
    headers[CACHE_HEADER] = "hit"
    headers["X-Request-Id"] = request.environ.get(REQUEST_ID_ENVIRON, "")
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is not None:
        for name, value in owt.policy.cors_headers(origin).items():
            headers.setdefault(name, value)
