""":class:`Client`, which calls one owt server through a ``requests`` session:
the code sent by its hash first, files as multipart parts, answers decoded
or streamed, adaptors registered by name.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import json
import typing as t
import urllib.parse

import requests

from owt.client.fields import CallOptions
from owt.client.fields import build_fields
from owt.client.fields import build_url
from owt.client.fields import query_fields
from owt.client.fields import registered_fields
from owt.client.responses import broken_off
from owt.client.responses import closed_without_answer
from owt.client.responses import decode_body
from owt.client.responses import error_from_response
from owt.client.source import Code
from owt.client.source import Registered
from owt.client.source import Source
from owt.client.source import Target
from owt.client.source import code_sha256
from owt.client.source import load_source
from owt.client.stream import Stream
from owt.client.uploads import Upload
from owt.client.uploads import is_file
from owt.client.uploads import is_files
from owt.client.uploads import split_files
from owt.codec import check_url_length

#: Where ``owt serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:9876"

#: Credentials: ``"user:password"``, ``(user, password)`` or any requests auth.
Auth: t.TypeAlias = "str | tuple[str, str] | requests.auth.AuthBase"

#: The error kind owt answers a ``code_sha256`` it doesn't hold with.
UNKNOWN_CODE = "unknown_code"


def basic_auth(auth: Auth | None) -> requests.auth.AuthBase | None:
    """Credentials for requests, sent as UTF-8 (requests alone would use Latin-1).

    ``"user:password"`` splits at the first colon.
    """
    if isinstance(auth, str):
        user, sep, password = auth.partition(":")
        if not sep:
            raise ValueError("auth must look like 'username:password'.")
        auth = (user, password)
    if isinstance(auth, tuple):
        user, password = auth
        return requests.auth.HTTPBasicAuth(
            user.encode("utf-8"), password.encode("utf-8")
        )
    return auth


class Client:
    """Calls one owt server (the URL may include a path: adaptors see it).

    :param url: the server's URL, e.g. ``http://127.0.0.1:9876/hello``.
    :param auth: ``"user:password"``, ``(user, password)`` or a requests auth.
    :param options: protocol fields sent with every call (see :class:`CallOptions`).
    :param http_timeout: seconds to wait for the server to connect and to
        answer each read; ``None`` (the default) waits as long as it takes.
    :param session: a ``requests.Session`` to reuse connections with.
    :param send_hash: send the code's SHA-256 (``code_sha256``) first, and
        the code only when the server answers ``unknown_code``, so code
        crosses the wire once per server; ``False`` sends the code each time.
    """

    #: Digests remembered as held by the server, at most this many.
    MAX_HELD = 1024

    def __init__(
        self,
        url: str = DEFAULT_URL,
        auth: Auth | None = None,
        *,
        options: CallOptions | None = None,
        http_timeout: float | None = None,
        session: requests.Session | None = None,
        send_hash: bool = True,
    ) -> None:
        self.base_url = url
        self.auth = basic_auth(auth)
        self.options = options or CallOptions()
        self.http_timeout = http_timeout
        self.session = session or requests.Session()
        self.send_hash = send_hash
        # Digests of code the server took from this client (see send).
        self._held: set[str] = set()

    def using(self, **options: t.Any) -> Client:
        """A client for the same server that sends these :class:`CallOptions`.

        ``owt.using(fn_name="main", use_cache=True).call(code, x=1)``
        """
        twin = Client(
            self.base_url,
            self.auth,
            options=dataclasses.replace(self.options, **options),
            http_timeout=self.http_timeout,
            session=self.session,
            send_hash=self.send_hash,
        )
        twin._held = self._held
        return twin

    def _options_for(self, source: Source) -> CallOptions:
        if source.fn_name and not self.options.fn_name:
            return dataclasses.replace(self.options, fn_name=source.fn_name)
        return self.options

    def fields(self, code: Target, kwargs: str | None = None) -> dict[str, t.Any]:
        """The protocol fields for ``code`` and argument text ``kwargs``: the
        code itself (never its hash), or the name of a :class:`Registered`."""
        if isinstance(code, Registered):
            return registered_fields(code.name, kwargs, self.options)
        source = load_source(code)
        return build_fields(source.text, kwargs, self._options_for(source))

    def url(self, code: Target, /, **kwargs: t.Any) -> str:
        """A GET URL that runs ``code`` with ``kwargs`` (the spec's ``owtify``).

        The URL carries the code itself (or a registered adaptor's name), so
        it works by itself; it carries no credentials, a browser asks for
        them itself.

        :raises owt.errors.UrlTooLong: when the server would refuse a URL
            this long (see :data:`owt.codec.MAX_REQUEST_TARGET`); use
            :meth:`call`, which sends a POST, instead.
        :raises ValueError: for a file argument, which only a POST can carry.
        """
        for name, value in kwargs.items():
            if is_file(value) or is_files(value):
                raise ValueError(_GET_WITH_FILE.format(name=name))
        url = build_url(self.base_url, self.fields(code, _json_kwargs(kwargs)))
        return check_url_length(url)

    def send(
        self,
        code: Target,
        kwargs: str | None = None,
        *,
        method: str = "POST",
        stream: bool = False,
        files: cabc.Iterable[tuple[str, Upload]] | None = None,
    ) -> requests.Response:
        """Send a request and return the response, raising if it is an error.

        With ``send_hash`` (the default), the code's SHA-256 goes first and,
        if the server answers ``unknown_code``, the same request again with
        the code. With files, the code goes along at once unless the server
        already took it from this client (a file is bigger than a hash).

        :param code: adaptor code (see :func:`load_source`) or a :class:`Registered`.
        :param kwargs: argument text, JSON or a Python expression the server
            evaluates (``None`` for no arguments).
        :param method: ``POST`` sends a JSON body (multipart with files),
            ``GET`` a query string.
        :param stream: leave the body unread, to read it as it arrives.
        :param files: ``(name, Upload)`` pairs sent as file parts (POST only).
        :raises OwtClientError: for a 4xx or 5xx answer.
        :raises owt.errors.UrlTooLong: for a GET URL the server would refuse
            (with the code in it, as the second try would send it).
        """
        method = method.upper()
        uploads = list(files or ())
        if uploads and method != "POST":
            raise ValueError(_GET_WITH_FILE.format(name=uploads[0][0]))
        digest: str | None = None
        if isinstance(code, Registered):
            attempts = [registered_fields(code.name, kwargs, self.options)]
        else:
            source = load_source(code)
            options = self._options_for(source)
            attempts = [build_fields(source.text, kwargs, options)]
            digest = code_sha256(source.text)
            if self.send_hash and not (uploads and digest not in self._held):
                attempts.insert(
                    0, build_fields(source.text, kwargs, options, by_hash=True)
                )
        if method == "GET":
            check_url_length(build_url(self.base_url, attempts[-1]))
        for fields in attempts:
            response = self._request(method, fields, uploads, stream)
            if fields is attempts[-1] or not _asks_for_code(response):
                break
            response.close()  # a 404 unknown_code: send the code this time
        if response.status_code >= 400:
            with response:
                raise error_from_response(response)
        if digest is not None:
            if len(self._held) >= self.MAX_HELD:
                self._held.clear()
            self._held.add(digest)
        return response

    def _request(
        self,
        method: str,
        fields: dict[str, t.Any],
        uploads: list[tuple[str, Upload]],
        stream: bool,
    ) -> requests.Response:
        common: dict[str, t.Any] = {
            "auth": self.auth,
            "stream": stream,
            "timeout": self.http_timeout,
        }
        if method == "GET":
            common["params"] = query_fields(fields)
        elif uploads:
            common["data"] = query_fields(fields)
            common["files"] = [(name, upload.part()) for name, upload in uploads]
        else:
            common["json"] = fields
        try:
            return self.session.request(method, self.base_url, **common)
        except requests.exceptions.ConnectionError as e:
            if closed_without_answer(e):
                raise broken_off(None, e) from None
            raise

    def call(self, code: Target, /, **kwargs: t.Any) -> t.Any:
        """Run ``code`` with ``kwargs`` and return the answer.

        JSON answers come back as data, text as ``str``, anything else as
        ``bytes`` (see :func:`decode_body`). File arguments (see
        :class:`Upload`) make the request a multipart POST.

        :raises OwtClientError: when the server answers with an error.
        """
        plain, files = split_files(kwargs)
        try:
            response = self.send(code, _json_kwargs(plain), files=files)
        except requests.exceptions.ChunkedEncodingError as e:
            raise broken_off(None, e) from None
        return decode_body(response)

    def stream(self, code: Target, /, **kwargs: t.Any) -> Stream:
        """Run ``code`` and read its answer as it arrives.

        Iterate the result: a ``text/event-stream`` answer yields
        :class:`Event` objects, any other answer yields byte chunks. An
        ``event: error`` from the server raises :class:`OwtClientError`.
        """
        plain, files = split_files(kwargs)
        return Stream(self.send(code, _json_kwargs(plain), stream=True, files=files))

    # --- registered adaptors ---

    def register(self, name: str, code: Code) -> dict[str, t.Any]:
        """Keep ``code`` on the server as the adaptor ``name`` (replacing one
        of that name), to call as ``Registered(name)``; it survives a restart.

        A function is registered by its source; call it with
        ``using(fn_name=...)`` unless it is named ``run``.

        :returns: the server's description: ``name``, ``digest``, ``size``,
            ``registered`` (when) and ``signature`` (``run``'s).
        :raises OwtClientError: e.g. ``bad_adaptor_name``, ``syntax_error``.
        """
        source = load_source(code)
        response = self._registry(
            "PUT",
            name,
            data=source.text.encode("utf-8"),
            headers={"Content-Type": "text/x-python; charset=utf-8"},
        )
        self._held.add(code_sha256(source.text))
        return t.cast(dict[str, t.Any], response.json())

    def adaptors(self) -> list[dict[str, t.Any]]:
        """The adaptors registered on the server, each described as
        :meth:`register` returns it."""
        found = self._registry("GET").json().get("adaptors", [])
        return t.cast(list[dict[str, t.Any]], found)

    def unregister(self, name: str) -> None:
        """Remove the adaptor registered as ``name``.

        :raises OwtClientError: ``unknown_adaptor`` (404) when there is none.
        """
        self._registry("DELETE", name).close()

    def registry_url(self, name: str | None = None) -> str:
        """``/_owt/adaptors`` (or ``/_owt/adaptors/NAME``) on this client's server."""
        path = "/_owt/adaptors"
        if name is not None:
            if not name:
                raise ValueError("a registered adaptor's name must be non-empty.")
            path += "/" + urllib.parse.quote(name, safe="")
        return urllib.parse.urljoin(self.base_url, path)

    def _registry(
        self, method: str, name: str | None = None, **kwargs: t.Any
    ) -> requests.Response:
        response = self.session.request(
            method,
            self.registry_url(name),
            auth=self.auth,
            timeout=self.http_timeout,
            **kwargs,
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response


_GET_WITH_FILE = (
    "{name!r} is a file, which only a POST (multipart/form-data) can carry; "
    "it can't go in a GET URL."
)


def _asks_for_code(response: requests.Response) -> bool:
    """Whether the server answered that it doesn't hold the code sent by hash."""
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == UNKNOWN_CODE


def _json_kwargs(kwargs: dict[str, t.Any]) -> str | None:
    return json.dumps(kwargs, ensure_ascii=False) if kwargs else None
