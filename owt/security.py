"""Who may send owt code: basic auth, origin policy and the Host check.

owt runs whatever code it is sent, so every request passes these checks
before anything runs:

1. **Host** (DNS rebinding): while bound to loopback, the ``Host`` header must
   name a loopback host (``localhost``, ``127.x.x.x``, ``[::1]``), so a
   hostile domain re-pointed at 127.0.0.1 can't reach owt from a browser.
2. **Origin**: browsers label cross-origin requests (``Origin``,
   ``Sec-Fetch-Site``); curl and other programs send neither. A request from
   a page of another origin is refused unless ``--allow-origin`` lists it,
   so a web page the user merely visits can't run code through owt. (A
   link on another site may open the playground page, which runs nothing:
   :data:`NAVIGABLE_PAGES`.)
3. **Auth**: with ``--auth user:sha256hex(password)``, HTTP Basic credentials
   are required on every path, compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import typing as t

from owt.errors import Forbidden
from owt.errors import Unauthorized

if t.TYPE_CHECKING:
    from flask import Request
    from werkzeug.datastructures import Authorization

_CROSS_SITE = ("cross-site", "same-site")

#: Pages a browser may open from a link on any site (a top-level visit, not
#: a frame): they run no code themselves, and every request they make is
#: same-origin and checked in full. The playground (docs/playground.org),
#: so that its share links work when clicked.
NAVIGABLE_PAGES = frozenset({"/_owt/", "/_owt"})


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or host name) is a loopback address."""
    host = address.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hash_password(password: str) -> str:
    """The hex SHA-256 of ``password``, as ``--auth`` expects it."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def parse_auth(value: str) -> tuple[str, str]:
    """Split ``username:sha256hex`` and check its shape.

    :raises ValueError: if ``value`` is not of that form.
    """
    username, sep, digest = value.partition(":")
    digest = digest.strip().lower()
    if not sep or not username or len(digest) != 64:
        raise ValueError(
            "--auth must be USERNAME:SHA256HEX, the hex SHA-256 of the password "
            "(see 'owt hash-password')."
        )
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise ValueError("--auth's password hash must be 64 hex digits.") from None
    return username, digest


_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::\d{1,5})?"
)


@functools.lru_cache(maxsize=256)
def host_is_loopback(host_header: str) -> bool:
    """Whether a ``Host`` header names a loopback host (memoised: it is
    checked on every request and clients send the same few values)."""
    return is_loopback(_host_name(host_header))


def _host_name(host_header: str) -> str:
    """The host of a ``Host`` header; "" unless it is exactly ``host[:port]``
    (a list such as ``127.0.0.1:80, evil.example`` names no one host)."""
    match = _HOST.fullmatch(host_header.strip())
    if match is None:
        return ""
    return (match.group("ipv6") or match.group("name")).lower()


def _is_page_visit(request: Request) -> bool:
    """A browser opening one of :data:`NAVIGABLE_PAGES` in a window or tab
    (``Sec-Fetch-Mode: navigate``, ``Sec-Fetch-Dest: document``, by GET)."""
    return (
        request.method in ("GET", "HEAD")
        and request.path in NAVIGABLE_PAGES
        and request.headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
        and request.headers.get("Sec-Fetch-Dest", "").lower() == "document"
    )


class AccessPolicy:
    """The checks above, configured once from the server's options."""

    def __init__(
        self,
        auth: str | None,
        allow_origins: t.Iterable[str],
        bound_to_loopback: bool,
    ) -> None:
        self._credentials = parse_auth(auth) if auth else None
        origins = {origin.rstrip("/") for origin in allow_origins}
        self.allow_any_origin = "*" in origins
        self.allowed_origins = frozenset(origins - {"*"})
        self.check_host = bound_to_loopback

    def origin_allowed(self, origin: str) -> bool:
        """Whether ``--allow-origin`` lets pages of ``origin`` call owt."""
        return self.allow_any_origin or origin in self.allowed_origins

    def check_host_header(self, request: Request) -> str:
        """The request's ``Host``, refused if it names no loopback host while
        owt is bound to loopback (the DNS rebinding guard).

        :raises Forbidden: for a foreign host.
        """
        host: str = request.environ.get("HTTP_HOST", "")
        if self.check_host and host and not host_is_loopback(host):
            raise Forbidden(
                f"Host {host!r} is not a loopback name; owt bound to loopback only "
                "answers localhost, 127.0.0.1 and [::1] (DNS rebinding guard)."
            )
        return host

    def is_allowed_preflight(self, request: Request) -> bool:
        """A CORS preflight from an allowed origin (answered without auth:
        browsers never send credentials on preflights, and it runs nothing).

        :raises Forbidden: for a foreign ``Host``, as any request is.
        """
        origin = request.headers.get("Origin")
        if origin is not None and request.method == "OPTIONS":
            self.check_host_header(request)
        return (
            request.method == "OPTIONS"
            and origin is not None
            and "Access-Control-Request-Method" in request.headers
            and self.origin_allowed(origin)
        )

    def check(self, request: Request) -> None:
        """Refuse the request unless it passes every check.

        :raises Forbidden: bad Host or origin.
        :raises Unauthorized: missing or wrong credentials.
        """
        host = self.check_host_header(request)
        self._check_origin(request, host)
        if self._credentials is not None:
            self._check_credentials(request.authorization)

    def _check_origin(self, request: Request, host: str) -> None:
        # The environ, not request.headers: a header that is absent costs
        # Werkzeug an exception to say so, and these usually are.
        origin = request.environ.get("HTTP_ORIGIN")
        fetch_site = request.environ.get("HTTP_SEC_FETCH_SITE", "").lower()
        if origin is not None:
            if self.origin_allowed(origin):
                return
            own = f"{request.scheme}://{host}"
            if origin != own:
                raise Forbidden(
                    f"Requests from pages at {origin!r} are refused: a web page must "
                    "not run code through owt. Start owt with "
                    f"--allow-origin {origin} to allow it."
                )
        if fetch_site in _CROSS_SITE and not _is_page_visit(request):
            raise Forbidden(
                "Cross-site browser requests are refused (Sec-Fetch-Site: "
                f"{fetch_site}); start owt with --allow-origin to allow a page."
            )

    def _check_credentials(self, given: Authorization | None) -> None:
        assert self._credentials is not None
        want_user, want_digest = self._credentials
        user, password = "", ""
        if given is not None and given.type == "basic":
            user, password = given.username or "", given.password or ""
        # Compare both parts every time, so timing tells nothing.
        user_ok = hmac.compare_digest(user.encode(), want_user.encode())
        digest_ok = hmac.compare_digest(hash_password(password), want_digest)
        if not (user_ok and digest_ok):
            raise Unauthorized("Missing or wrong credentials (HTTP Basic auth).")

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """CORS headers for a response to ``origin``, if it is allowed."""
        if origin is None or not self.origin_allowed(origin):
            return {}
        if self.allow_any_origin and origin not in self.allowed_origins:
            allow = {"Access-Control-Allow-Origin": "*"}
        else:
            allow = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
            }
        allow["Access-Control-Expose-Headers"] = "X-Request-Id, X-Owt-Cache"
        allow["Vary"] = "Origin"
        return allow

    def preflight_headers(self, request: Request) -> dict[str, str]:
        """Headers answering a CORS preflight from an allowed origin."""
        headers = self.cors_headers(request.headers.get("Origin"))
        if headers:
            asked = request.headers.get("Access-Control-Request-Headers")
            headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            headers["Access-Control-Allow-Headers"] = asked or "Content-Type"
            headers["Access-Control-Max-Age"] = "600"
        return headers
