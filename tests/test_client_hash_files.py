"""Hash first, registered adaptors and files in, from the Python client and
``owt call``, against real owt servers on loopback.

What crosses the wire is recorded twice over: the Python client's requests
through a ``requests`` response hook, and ``owt call`` (a process of its
own) through a small recording proxy in front of the server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import http.server
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import typing as t
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests

from owt.client import Client
from owt.client import OwtClientError
from owt.client import Registered
from owt.client import Upload
from owt.client import code_sha256
from tests.owtserver import REPO
from tests.owtserver import OwtProcess
from tests.owtserver import free_port
from tests.owtserver import running_owt

HELLO = "def run(name):\n    return f'Hello, {name}!'\n"

#: About 20 KB: padding that makes "the code crossed the wire" easy to see.
PADDING = ("# " + "x" * 98 + "\n") * 200

#: Describes the files it is sent, as the adaptor sees them.
FILE_INFO = """
import hashlib

def describe(part):
    data = part.read()
    return {
        "filename": part.filename,
        "content_type": part.content_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }

def run(image, n=1, extra=None):
    images = image if isinstance(image, list) else [image]
    return {
        "images": [describe(part) for part in images],
        "n": n,
        "extra": extra if extra is None or isinstance(extra, (str, int)) else describe(extra),
    }
"""

TICKS = """
def run(n):
    def events():
        for i in range(n):
            yield f"data: {i}\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""

#: JPEG-ish bytes: every byte value, so nothing is mangled on the way.
PHOTO = bytes(range(256)) * 40


def unique(code: str) -> str:
    """``code`` with a comment no other test sends: a server can't hold it yet."""
    return code + f"\n# {uuid.uuid4().hex}\n"


def info(data: bytes, filename: str, content_type: str) -> dict[str, t.Any]:
    return {
        "filename": filename,
        "content_type": content_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


# --- recording what was sent ----------------------------------------------------


@dataclasses.dataclass
class Sent:
    """One request as it went out, and the status it got."""

    method: str
    url: str
    body: bytes
    status: int

    @property
    def size(self) -> int:
        """Bytes of request target and body: what grows with the code."""
        return len(self.url) + len(self.body)

    def carries(self, field: str) -> bool:
        """Whether the request holds the protocol field ``field``."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        name = field.encode()
        return (
            field in query
            or b'"' + name + b'":' in self.body  # a JSON body
            or b'name="' + name + b'"' in self.body  # a multipart part
        )


class Recorder:
    """A ``requests.Session`` whose every response is noted in ``sent``."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: t.Any, **kw: t.Any) -> None:
        body = response.request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        method = response.request.method or ""
        url = response.request.url or ""
        self.sent.append(Sent(method, url, body, response.status_code))

    def take(self) -> list[Sent]:
        """What was sent since the last ``take``."""
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class RecordingProxy:
    """An HTTP proxy on loopback that notes each request (method, target,
    body size) and forwards it to the next of ``upstreams`` in turn."""

    def __init__(self, *upstreams: str) -> None:
        self.sent: list[Sent] = []
        self._next = itertools.cycle([urllib.parse.urlsplit(u) for u in upstreams])
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: t.Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with proxy._lock:
                    upstream = next(proxy._next)
                connection = http.client.HTTPConnection(
                    upstream.hostname, upstream.port, timeout=60
                )
                try:
                    headers = {k: v for k, v in self.headers.items()}
                    connection.request(self.command, self.path, body, headers)
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                with proxy._lock:
                    proxy.sent.append(
                        Sent(self.command, self.path, body, answer.status)
                    )
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection"):
                        if name.lower() != "content-length":
                            self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def adaptors_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adaptors")


@pytest.fixture(scope="module")
def server(adaptors_dir: Path) -> t.Iterator[OwtProcess]:
    """A server that keeps registered adaptors in a directory of the test's."""
    with running_owt("--adaptors-dir", str(adaptors_dir)) as process:
        yield process


def owt(*args: str, **kwargs: t.Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m owt ARGS`` as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWT_")}
    return subprocess.run(
        [sys.executable, "-m", "owt", *args],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        timeout=60,
        **kwargs,
    )


# --- hash first, from the Python client -------------------------------------------


def test_hash_first_sends_a_20kb_adaptor_once(server, recorder):
    code = unique(HELLO + PADDING)
    assert len(code.encode()) > 20_000
    client = Client(server.url, session=recorder.session)
    assert client.call(code, name="one") == "Hello, one!"
    first = recorder.take()
    # The hash went first, the server asked for the code, the code went.
    assert [(s.status, s.carries("code_b64")) for s in first] == [
        (404, False),
        (200, True),
    ]
    assert first[0].carries("code_sha256")
    assert first[0].size < 1_000 and first[1].size > 20_000

    for name in ("two", "three"):
        assert client.call(code, name=name) == f"Hello, {name}!"
    again = recorder.take()
    assert [s.status for s in again] == [200, 200]
    assert all(s.size < 1_000 and not s.carries("code_b64") for s in again)

    # Another client (another process, say) needs no code either: the
    # server holds it, not the client.
    other = Recorder()
    assert Client(server.url, session=other.session).call(code, name="x") == "Hello, x!"
    assert [(s.status, s.size < 1_000) for s in other.take()] == [(200, True)]


def test_send_hash_false_sends_the_code_every_time(server, recorder):
    code = unique(HELLO + PADDING)
    client = Client(server.url, session=recorder.session, send_hash=False)
    for name in ("a", "b"):
        assert client.call(code, name=name) == f"Hello, {name}!"
    sent = recorder.take()
    assert [s.status for s in sent] == [200, 200]
    assert all(s.carries("code_b64") and not s.carries("code_sha256") for s in sent)
    # using() keeps the choice.
    assert not client.using(use_cache=True).send_hash


def test_hash_first_by_get(server, recorder):
    code = unique(HELLO + PADDING)
    client = Client(server.url + "/get", session=recorder.session)
    for name in ("a", "b"):
        response = client.send(code, json.dumps({"name": name}), method="GET")
        assert response.text == f"Hello, {name}!"
    sent = recorder.take()
    assert [(s.method, s.status) for s in sent] == [
        ("GET", 404),
        ("GET", 200),
        ("GET", 200),
    ]
    assert [s.size > 20_000 for s in sent] == [False, True, False]
    # A URL made to be opened by itself still carries the code.
    url = client.url(code, name="url")
    assert "code_b64=" in url and "code_sha256" not in url
    assert requests.get(url, timeout=30).text == "Hello, url!"


def test_stream_by_hash_is_retried_before_the_stream_starts(server, recorder):
    code = unique(TICKS)
    client = Client(server.url, session=recorder.session)
    with client.stream(code, n=3) as events:
        assert [e.data for e in events] == ["0", "1", "2"]
    assert [(s.status, s.carries("code_b64")) for s in recorder.take()] == [
        (404, False),
        (200, True),
    ]
    assert [e.data for e in client.stream(code, n=2)] == ["0", "1"]
    assert [(s.status, s.carries("code_b64")) for s in recorder.take()] == [
        (200, False)
    ]


def test_a_restarted_server_is_sent_the_code_again(tmp_path, recorder):
    code = unique(HELLO + PADDING)
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", session=recorder.session)
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        assert client.call(code, name="before") == "Hello, before!"
        assert client.call(code, name="again") == "Hello, again!"
    assert [s.status for s in recorder.take()] == [404, 200, 200]
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        # A new process holds no code: the client finds out and sends it.
        assert client.call(code, name="after") == "Hello, after!"
        assert [e.data for e in client.stream(unique(TICKS), n=1)] == ["0"]
        # Code this client never sent goes with a file at once.
        answer = client.call(unique(FILE_INFO), image=Upload(b"x", "x.bin"))
        assert answer["images"][0]["size"] == 1
    sent = recorder.take()
    assert [(s.status, s.carries("code_b64")) for s in sent] == [
        (404, False),
        (200, True),
        (404, False),
        (200, True),
        (200, True),
    ]


def test_files_after_a_restart_are_sent_again_with_the_code(tmp_path, recorder):
    code = unique(FILE_INFO)
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", session=recorder.session)
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        client.call(code, image=Upload(PHOTO, "a.jpg"))
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        answer = client.call(code, image=Upload(PHOTO, "b.jpg"), n=2)
    assert answer == {
        "images": [info(PHOTO, "b.jpg", "image/jpeg")],
        "n": 2,
        "extra": None,
    }
    sent = recorder.take()
    # The client believed the new server held the code (the old one did):
    # the hash went with the file, then both again.
    assert [(s.status, s.carries("code_b64")) for s in sent] == [
        (200, True),
        (404, False),
        (200, True),
    ]
    assert all(PHOTO in s.body for s in sent)


def test_behind_a_balancer_each_unknown_code_is_retried_once(tmp_path, recorder):
    with (
        running_owt("--adaptors-dir", str(tmp_path / "a")) as a,
        running_owt("--adaptors-dir", str(tmp_path / "b")) as b,
        RecordingProxy(a.url, b.url) as balancer,
    ):
        client = Client(balancer.url, session=recorder.session)
        code = unique(HELLO)
        for name in ("1", "2", "3"):
            assert client.call(code, name=name) == f"Hello, {name}!"
    # Strict round robin is the worst case: each hash reaches a, which never
    # got the code, and each code reaches b. Every call still works, with
    # one retry each, never more.
    assert [s.status for s in balancer.sent] == [404, 200] * 3
    assert [s.carries("code_b64") for s in recorder.take()] == [False, True] * 3


def test_cache_and_pin_work_the_same_by_hash(server, recorder):
    code = unique("import time\n\ndef run():\n    return str(time.monotonic_ns())\n")
    client = Client(server.url + "/pinned", session=recorder.session)
    cached = client.using(use_cache=True, pin=True)
    first = cached.send(code)  # 404 by hash, then the code: a miss
    second = cached.send(code)  # by hash: the entry the code made
    assert first.headers["X-Owt-Cache"] == "miss"
    assert second.headers["X-Owt-Cache"] == "hit"
    assert second.text == first.text
    # The pin answers a request without any code.
    assert requests.get(server.url + "/pinned", timeout=30).text == first.text
    assert [(s.status, s.carries("code_b64")) for s in recorder.take()] == [
        (404, False),
        (200, True),
        (200, False),
    ]


@pytest.fixture(scope="module")
def auth_server(adaptors_dir):
    password = "pässwörd 🔑"
    digest = hashlib.sha256(password.encode()).hexdigest()
    with running_owt(
        "--auth", f"me:{digest}", "--adaptors-dir", str(adaptors_dir)
    ) as process:
        yield process, password


def test_hash_first_with_auth(auth_server, recorder):
    server, password = auth_server
    code = unique(HELLO)
    client = Client(server.url, f"me:{password}", session=recorder.session)
    assert client.call(code, name="a") == "Hello, a!"
    assert client.call(code, name="b") == "Hello, b!"
    assert [s.status for s in recorder.take()] == [404, 200, 200]
    # Wrong credentials are refused once: a 401 is not a reason to send code.
    wrong = Client(server.url, "me:wrong", session=recorder.session)
    with pytest.raises(OwtClientError) as caught:
        wrong.call(unique(HELLO), name="x")
    assert (caught.value.status, caught.value.kind) == (401, "unauthorized")
    assert [s.status for s in recorder.take()] == [401]
    with pytest.raises(OwtClientError) as caught:
        wrong.register("x", HELLO)
    assert caught.value.status == 401
    registered = client.register("secret-hello", HELLO)
    assert registered["name"] == "secret-hello"
    assert client.call(Registered("secret-hello"), name="c") == "Hello, c!"
    client.unregister("secret-hello")


def test_other_errors_by_hash_are_not_retried(server, recorder):
    code = unique("def run():\n    return 1 / 0\n")
    client = Client(server.url, session=recorder.session)
    for _ in range(2):
        with pytest.raises(OwtClientError) as caught:
            client.call(code)
        assert caught.value.kind == "adaptor_error"
    # The first error came after the code was sent; the second by hash alone.
    assert [(s.status, s.carries("code_b64")) for s in recorder.take()] == [
        (404, False),
        (500, True),
        (500, False),
    ]


# --- registered adaptors ----------------------------------------------------------


def test_register_list_call_and_unregister(server, recorder):
    client = Client(server.url + "/some/path", session=recorder.session)
    code = unique(HELLO)
    described = client.register("hello", code)
    assert described["name"] == "hello"
    assert described["digest"] == code_sha256(code)
    assert described["signature"] == "run(name)"
    assert recorder.take()[0].url == server.url + "/_owt/adaptors/hello"

    listed = {a["name"]: a for a in client.adaptors()}
    assert listed["hello"]["digest"] == code_sha256(code)
    assert recorder.take()[0].url == server.url + "/_owt/adaptors"

    hello = Registered("hello")
    assert client.call(hello, name="by name") == "Hello, by name!"
    response = client.send(hello, json.dumps({"name": "get"}), method="GET")
    assert response.text == "Hello, get!"
    sent = recorder.take()
    assert [s.status for s in sent] == [200, 200]
    assert all(s.carries("adaptor") and not s.carries("code_b64") for s in sent)
    # A URL with the name works by itself.
    url = client.url(hello, name="url")
    assert "adaptor=hello" in url
    assert requests.get(url, timeout=30).text == "Hello, url!"
    # By hash, the registered code needs no sending either.
    assert client.call(code, name="hash") == "Hello, hash!"
    assert [s.status for s in recorder.take()] == [200]

    client.register("hello", unique(HELLO.replace("Hello", "Howdy")))
    assert client.call(hello, name="owt") == "Howdy, owt!"

    client.unregister("hello")
    assert "hello" not in {a["name"] for a in client.adaptors()}
    for attempt in (
        lambda: client.call(hello, name="x"),
        lambda: client.unregister("hello"),
    ):
        with pytest.raises(OwtClientError) as caught:
            attempt()
        assert (caught.value.status, caught.value.kind) == (404, "unknown_adaptor")


def test_registered_streams_and_options(server):
    client = Client(server.url)
    client.register("ticks", TICKS + "\ndef other(word):\n    return word * 2\n")
    try:
        assert [e.data for e in client.stream(Registered("ticks"), n=2)] == ["0", "1"]
        other = client.using(fn_name="other")
        assert other.call(Registered("ticks"), word="ab") == "abab"
    finally:
        client.unregister("ticks")


def test_register_refuses_bad_names_and_bad_code(server):
    client = Client(server.url)
    with pytest.raises(OwtClientError) as caught:
        client.register(".hidden", HELLO)
    assert (caught.value.status, caught.value.kind) == (400, "bad_adaptor_name")
    with pytest.raises(OwtClientError) as caught:
        client.register("broken", "def run(:\n")
    assert (caught.value.status, caught.value.kind) == (400, "syntax_error")
    with pytest.raises(ValueError, match="non-empty"):
        Registered("")


def test_registered_adaptors_survive_a_restart(tmp_path, recorder):
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", session=recorder.session)
    code = unique(HELLO)
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        client.register("kept", code)
    with running_owt("--adaptors-dir", str(tmp_path), port=port):
        assert client.call(Registered("kept"), name="k") == "Hello, k!"
        # The new process holds the registered code by its hash too.
        recorder.take()
        assert client.call(code, name="h") == "Hello, h!"
        assert [s.status for s in recorder.take()] == [200]


# --- files in, from the Python client ----------------------------------------------


def test_files_reach_run_with_their_name_type_and_bytes(server, tmp_path):
    client = Client(server.url)
    path = tmp_path / "photo.jpg"
    path.write_bytes(PHOTO)
    code = FILE_INFO
    expected = info(PHOTO, "photo.jpg", "image/jpeg")
    with path.open("rb") as opened:
        assert client.call(code, image=opened, n=3) == {
            "images": [expected],
            "n": 3,
            "extra": None,
        }
    assert client.call(code, image=path)["images"] == [expected]
    assert client.call(code, image=Upload.from_path(path))["images"] == [expected]
    upload = Upload(b"\x89PNG...", "tiny.png")
    assert client.call(code, image=upload)["images"] == [
        info(b"\x89PNG...", "tiny.png", "image/png")
    ]
    typed = Upload(b"RIFF", "voice", "audio/wav")
    assert client.call(code, image=typed)["images"] == [
        info(b"RIFF", "voice", "audio/wav")
    ]
    # No file name: the argument's name, and a type nobody can guess.
    nameless = client.call(code, image=io.BytesIO(b"abc"), extra=io.BytesIO(b"d"))
    assert nameless["images"] == [info(b"abc", "image", "application/octet-stream")]
    assert nameless["extra"] == info(b"d", "extra", "application/octet-stream")
    # Several files of one name: run gets a list.
    several = client.call(code, image=[upload, Upload(b"2", "two.txt")])
    assert several["images"] == [
        info(b"\x89PNG...", "tiny.png", "image/png"),
        info(b"2", "two.txt", "text/plain"),
    ]
    # Other arguments keep their JSON types beside the files.
    mixed = client.call(code, image=upload, n=[1, {"a": None}], extra="text")
    assert (mixed["n"], mixed["extra"]) == ([1, {"a": None}], "text")


def test_files_cross_once_with_the_code_then_with_the_hash(server, recorder):
    client = Client(server.url, session=recorder.session)
    code = unique(FILE_INFO + PADDING)
    for name in ("a.jpg", "b.jpg"):
        answer = client.call(code, image=Upload(PHOTO, name))
        assert answer["images"] == [info(PHOTO, name, "image/jpeg")]
    sent = recorder.take()
    # The file went once per call; the code only with the first.
    assert [(s.status, s.carries("code_b64")) for s in sent] == [
        (200, True),
        (200, False),
    ]
    assert all(s.body.count(PHOTO) == 1 for s in sent)
    assert sent[1].size < sent[0].size - 19_000
    # A registered adaptor takes files too.
    client.register("describe", code)
    try:
        answer = client.call(Registered("describe"), image=Upload(PHOTO, "c.jpg"))
        assert answer["images"] == [info(PHOTO, "c.jpg", "image/jpeg")]
    finally:
        client.unregister("describe")


def test_files_stream_too(server):
    code = (
        "def run(image):\n"
        "    data = image.read()\n"
        "    def events():\n"
        "        yield f'data: {image.filename}\\n\\n'\n"
        "        yield f'data: {len(data)}\\n\\n'\n"
        "    return events(), {'Content-Type': 'text/event-stream'}\n"
    )
    events = Client(server.url).stream(code, image=Upload(PHOTO, "s.jpg"))
    assert [e.data for e in events] == ["s.jpg", str(len(PHOTO))]


def test_a_file_by_get_is_refused_before_anything_is_sent(server, recorder):
    client = Client(server.url, session=recorder.session)
    with pytest.raises(ValueError, match="only a POST"):
        client.send(FILE_INFO, None, method="GET", files=[("image", Upload(b"x"))])
    with pytest.raises(ValueError, match="'image' is a file"):
        client.url(FILE_INFO, image=Upload(b"x"))
    assert recorder.take() == []


def test_a_file_opened_as_text_is_refused(server, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hi", encoding="utf-8")
    with path.open(encoding="utf-8") as opened, pytest.raises(TypeError, match="'rb'"):
        Client(server.url).call(FILE_INFO, image=opened)


def test_an_argument_sent_both_ways_is_the_servers_400(server):
    # kwargs as text (a Python expression) and a file of the same name.
    client = Client(server.url)
    with pytest.raises(OwtClientError) as caught:
        client.send(FILE_INFO, '{"image": 1}', files=[("image", Upload(b"x", "x"))])
    assert (caught.value.status, caught.value.kind) == (400, "bad_request")
    assert "sent twice" in caught.value.message


# --- owt call ----------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(PHOTO)
    return path


@pytest.fixture
def write(tmp_path: Path) -> t.Callable[..., str]:
    def write(source: str, name: str = "adaptor.py") -> str:
        path = tmp_path / name
        path.write_text(source, encoding="utf-8")
        return str(path)

    return write


def test_owt_call_sends_a_file_with_at(server, write, photo):
    done = owt("call", server.url, write(FILE_INFO), f"image=@{photo}", "n=3")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "images": [info(PHOTO, "photo.jpg", "image/jpeg")],
        "n": 3,
        "extra": None,
    }
    text = owt("call", server.url, write(FILE_INFO), f"image=@{photo}", "extra=@x")
    assert text.returncode == 2
    assert "cannot read the file 'x'" in text.stderr.decode()
    quoted = owt("call", server.url, write(FILE_INFO), f"image=@{photo}", 'extra="@me"')
    assert json.loads(quoted.stdout)["extra"] == "@me"


def test_owt_call_a_registered_adaptor_with_a_file(server, photo):
    Client(server.url).register("describe-cli", FILE_INFO)
    try:
        done = owt("call", server.url, "--adaptor", "describe-cli", f"image=@{photo}")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["images"] == [
            info(PHOTO, "photo.jpg", "image/jpeg")
        ]
        by_get = owt("call", "--get", server.url, "--adaptor", "describe-cli", "n=1")
        assert by_get.returncode == 1
        assert "missing a required argument: 'image'" in by_get.stderr.decode()
    finally:
        Client(server.url).unregister("describe-cli")
    gone = owt("call", server.url, "--adaptor", "describe-cli", f"image=@{photo}")
    assert gone.returncode == 1
    assert "unknown_adaptor (HTTP 404)" in gone.stderr.decode()


def test_owt_call_sends_the_code_once_per_server(server, write):
    path = write(unique(HELLO + PADDING))
    with RecordingProxy(server.url) as proxy:
        for name in ("a", "b"):
            done = owt("call", proxy.url, path, f"name={name}")
            assert done.stdout == f"Hello, {name}!".encode(), done.stderr
        hashed = [(s.status, s.size > 20_000) for s in proxy.sent]
        proxy.sent.clear()
        for name in ("c", "d"):
            done = owt("call", "--no-hash", proxy.url, path, f"name={name}")
            assert done.stdout == f"Hello, {name}!".encode(), done.stderr
        unhashed = [(s.status, s.size > 20_000) for s in proxy.sent]
    # Two processes: the first is asked for the code, the second is not.
    assert hashed == [(404, False), (200, True), (200, False)]
    assert unhashed == [(200, True), (200, True)]


def test_owt_call_file_requests_carry_the_code_once(server, write, photo):
    path = write(unique(FILE_INFO))
    with RecordingProxy(server.url) as proxy:
        done = owt("call", proxy.url, path, f"image=@{photo}")
        assert done.returncode == 0, done.stderr
    # A new process can't know what the server holds: the code goes with
    # the file, so the file crosses the wire once.
    assert [(s.status, s.carries("code_b64")) for s in proxy.sent] == [(200, True)]


def test_owt_call_usage_errors(server, write, photo):
    with_file = owt("call", server.url, "--adaptor", "x", write(HELLO))
    assert with_file.returncode == 2
    assert "give no FILE" in with_file.stderr.decode()
    nothing = owt("call", server.url)
    assert nothing.returncode == 2
    assert "or --adaptor" in nothing.stderr.decode()
    by_get = owt("call", "--get", server.url, write(FILE_INFO), f"image=@{photo}")
    assert by_get.returncode == 2
    assert "only a POST can carry: drop --get" in by_get.stderr.decode()


def test_owt_encode_refuses_a_file(write, photo):
    done = owt("encode", write(FILE_INFO), f"image=@{photo}")
    assert done.returncode == 2
    assert "owt encode prints requests without files" in done.stderr.decode()
    quoted = owt("encode", write(FILE_INFO), 'who="@me"', "--format", "json")
    assert quoted.returncode == 0, quoted.stderr
