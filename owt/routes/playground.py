"""The playground: a page at ``/_owt/`` to write an adaptor, run it and see
the answer (docs/playground.org).

- ``GET /_owt/`` (and ``/_owt``): the page, ``owt/playground/index.html``;
- ``GET /_owt/playground/<file>``: its scripts, styles, examples and the
  vendored CodeMirror, all shipped in the package. Only the files that were
  in ``owt/playground/`` when owt started are served: the path is looked up
  in that list, never joined onto a directory.

The page runs nothing by itself; it sends what the user wrote, from the
browser, through the same access checks (Host, origin, auth) as any other
request. Every answer here forbids framing and carries a Content-Security-
Policy that allows only the package's own scripts and styles.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from pathlib import Path

from flask import Blueprint
from flask import request
from werkzeug.wrappers import Response

from owt.errors import NotFound

#: The page's own files, shipped as package data.
PLAYGROUND_DIR = Path(__file__).resolve().parent.parent / "playground"

#: What the page may load and do: only this origin's scripts, styles and
#: requests, plus the images and audio it makes from answers (blob: URLs).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "object-src 'none'",
    )
)

#: The page that shows an HTML answer, framed by the playground. A document
#: in a srcdoc frame inherits its parent's policy, so the answer's inline
#: styles would be refused under the playground's own; this page's policy
#: allows them and its one inline script (by hash), and nothing else.
PREVIEW = "preview.html"

NONE = "'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def preview_policy(page: bytes) -> str:
    """The Content-Security-Policy of the preview page ``page``."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {hashes or NONE}",
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "media-src data: blob:",
            "font-src data:",
            "frame-ancestors 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "object-src 'none'",
        )
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A page of another site that opens the playground gets no handle on it.
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: Content types by suffix (``mimetypes`` depends on the machine's tables).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".py": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

playground = Blueprint("playground", __name__, url_prefix="/_owt")


def list_files(root: Path = PLAYGROUND_DIR) -> dict[str, Path]:
    """Every file under ``root`` by its relative path (``a/b.js``), leaving
    out hidden files and Python's caches."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(
            part.startswith(".") or part == "__pycache__" for part in relative.parts
        ):
            continue
        found[relative.as_posix()] = path
    return found


#: What ``/_owt/playground/<file>`` may answer with.
FILES = list_files()


def content_type(name: str) -> str:
    """The Content-Type a playground file is served with."""
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    if not suffix:  # LICENSE, VERSION
        return "text/plain; charset=utf-8"
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def serve_file(name: str) -> Response:
    """One of :data:`FILES`, with the security headers; 404 for any other.

    :raises NotFound: for a name that isn't a playground file.
    """
    path = FILES.get(name)
    if path is None:
        raise NotFound(f"/_owt/playground/{name} is not a file of the playground.")
    data = path.read_bytes()
    response = Response(data, content_type=content_type(name))
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(SECURITY_HEADERS)
    if name == PREVIEW:
        response.headers["Content-Security-Policy"] = preview_policy(data)
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response.make_conditional(request)


@playground.get("/")
def page() -> Response:
    """The playground page."""
    return serve_file("index.html")


@playground.get("/playground/<path:name>")
def asset(name: str) -> Response:
    """A script, style sheet, example or vendored file of the page."""
    return serve_file(name)
