"""A small Python client for owt, and the request-building pieces ``owt call`` uses.

Call an owt server from Python without writing any base64 by hand::

    from owt.client import Client

    owt = Client("http://127.0.0.1:9876")
    owt.call("def run(name): return f'Hello, {name}!'", name="owt")
    # 'Hello, owt!'

    for event in owt.stream("adaptor.py", text="Hi"):  # server-sent events
        print(event.data)

    owt.url("adaptor.py", prompt="output SOTA results")  # a GET URL, for a browser

    owt.call("thumb.py", image=open("photo.jpg", "rb"))  # a file: multipart POST

    owt.register("thumb", "thumb.py")  # kept by the server under a name...
    owt.call(Registered("thumb"), image=Path("photo.jpg"))  # ...called by it

``code`` may be adaptor source text, the path of a ``.py`` file, or a Python
function whose source is sent (and called by its own name). Calls send the
code's SHA-256 first and the code itself only when the server answers that
it doesn't hold it (``send_hash=False`` sends the code every time). A server
error raises :class:`OwtClientError` carrying the server's message and
traceback.

The lower-level functions (:func:`parse_assignments`, :func:`build_fields`,
:func:`build_url`, :class:`SSEParser`) are shared with the ``owt`` command line.

The modules, each with one job:

- :mod:`owt.client.arguments`: ``NAME=VALUE`` items and ``--kwargs`` text;
- :mod:`owt.client.source`: code into source text, its ``code_sha256``,
  :class:`Registered` adaptors;
- :mod:`owt.client.fields`: the protocol fields, :class:`CallOptions`, GET URLs;
- :mod:`owt.client.uploads`: file arguments as multipart parts (:class:`Upload`);
- :mod:`owt.client.events`: server-sent events (:class:`Event`, :class:`SSEParser`);
- :mod:`owt.client.responses`: answers into data, and errors into
  :class:`OwtClientError`;
- :mod:`owt.client.stream`: an answer read as it arrives (:class:`Stream`);
- :mod:`owt.client.session`: :class:`Client`, which sends the requests.

Every name is importable from ``owt.client`` itself.
"""

from owt.client.arguments import kwargs_text
from owt.client.arguments import parse_assignment
from owt.client.arguments import parse_assignments
from owt.client.arguments import parse_value
from owt.client.events import Event
from owt.client.events import SSEParser
from owt.client.events import iter_events
from owt.client.fields import CallOptions
from owt.client.fields import build_fields
from owt.client.fields import build_url
from owt.client.fields import option_fields as option_fields
from owt.client.fields import query_fields as query_fields
from owt.client.fields import registered_fields
from owt.client.responses import broken_off as broken_off
from owt.client.responses import decode_body
from owt.client.responses import error_from_event
from owt.client.responses import error_from_response
from owt.client.responses import media_type as media_type
from owt.client.session import DEFAULT_URL
from owt.client.session import UNKNOWN_CODE
from owt.client.session import Auth as Auth
from owt.client.session import Client
from owt.client.session import basic_auth as basic_auth
from owt.client.source import Code as Code
from owt.client.source import Registered
from owt.client.source import Source
from owt.client.source import Target as Target
from owt.client.source import code_sha256
from owt.client.source import load_source
from owt.client.stream import Stream
from owt.client.uploads import Upload
from owt.client.uploads import as_upload as as_upload
from owt.client.uploads import guess_type as guess_type
from owt.client.uploads import is_file as is_file
from owt.client.uploads import split_files
from owt.errors import AssignmentError
from owt.errors import CodeSourceError
from owt.errors import OwtClientError

__all__ = [
    "DEFAULT_URL",
    "UNKNOWN_CODE",
    "AssignmentError",
    "CallOptions",
    "Client",
    "CodeSourceError",
    "Event",
    "OwtClientError",
    "Registered",
    "SSEParser",
    "Source",
    "Stream",
    "Upload",
    "build_fields",
    "build_url",
    "code_sha256",
    "decode_body",
    "error_from_event",
    "error_from_response",
    "iter_events",
    "kwargs_text",
    "load_source",
    "parse_assignment",
    "parse_assignments",
    "parse_value",
    "registered_fields",
    "split_files",
]
