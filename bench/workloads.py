"""The requests the benchmarks send, built once and shared by every script."""

from __future__ import annotations

import base64
import json
import urllib.parse

#: The echo adaptor of the spec's shell example: ``Hello, owt!``.
ECHO = "def run(name):\n    return f'Hello, {name}!'\n"

#: Yields an event at once, then sleeps before the second.
STREAM = """import time

def run(pause=0.05):
    def events():
        yield "data: first\\n\\n"
        time.sleep(pause)
        yield "data: second\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""

#: Sleeps, then answers: for concurrency checks.
SLEEPY = """import time

def run(seconds=1.0):
    time.sleep(seconds)
    return 'slept'
"""

#: Echoes a text argument back: for the payload-size measurements.
TEXT_ECHO = "def run(text):\n    return text\n"

EXPECTED = "Hello, owt!"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def owt_fields(code: str, kwargs: object = None, **extra: object) -> dict[str, object]:
    """Protocol fields for ``code`` called with ``kwargs``."""
    fields: dict[str, object] = {"code_b64": b64(code)}
    if kwargs is not None:
        fields["kwargs_b64"] = b64(json.dumps(kwargs))
    fields.update(extra)
    return fields


def owt_get_path(
    code: str, kwargs: object = None, path: str = "/hello", **extra: object
) -> str:
    """A GET path carrying the call in its query string."""
    return path + "?" + urllib.parse.urlencode(owt_fields(code, kwargs, **extra))


def owt_post_body(code: str, kwargs: object = None, **extra: object) -> bytes:
    """A POST JSON body carrying the call."""
    return json.dumps(owt_fields(code, kwargs, **extra)).encode("utf-8")


ECHO_KWARGS = {"name": "owt"}
ECHO_GET = owt_get_path(ECHO, ECHO_KWARGS)
ECHO_POST = owt_post_body(ECHO, ECHO_KWARGS)
REFERENCE_GET = "/hello?name=owt"
REFERENCE_POST = json.dumps(ECHO_KWARGS).encode("utf-8")
