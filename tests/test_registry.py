"""Adaptors sent once: registered by name, called by name or by hash, and
described in /_owt/openapi.json; multipart parts as keyword arguments.

Everything runs against a real ``owt serve`` over loopback HTTP, each server
with its own ``--adaptors-dir`` under the test's tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from owt.security import hash_password
from tests.owtserver import OwtProcess
from tests.owtserver import b64
from tests.owtserver import running_owt

HELLO = textwrap.dedent(
    '''
    def run(name: str = "world", times: int = 1) -> str:
        """Greet someone.

        Says hello, times over."""
        return " ".join(["hello " + name] * times)
    '''
)

FILE_INFO = textwrap.dedent(
    """
    import hashlib

    def run(image, note="none"):
        data = image.read()
        return {
            "filename": image.filename,
            "content_type": image.content_type,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "note": note,
        }
    """
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def adaptors_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adaptors")


@pytest.fixture(scope="module")
def server(adaptors_dir: Path):
    with running_owt("--adaptors-dir", str(adaptors_dir)) as running:
        yield running


def put(server: OwtProcess, name: str, code: str, **kwargs) -> requests.Response:
    return requests.put(
        f"{server.url}/_owt/adaptors/{name}", data=code.encode(), timeout=10, **kwargs
    )


def unique(code: str) -> str:
    return f"# {uuid.uuid4().hex}\n{code}"


# --- the registry --------------------------------------------------------------


def test_register_list_show_replace_and_remove(server):
    created = put(server, "hello", HELLO)
    assert created.status_code == 201, created.text
    described = created.json()
    assert described["name"] == "hello"
    assert described["digest"] == sha(HELLO)
    assert described["size"] == len(HELLO.encode())
    assert described["signature"] == "run(name: str = 'world', times: int = 1) -> str"
    assert created.headers["Location"] == "/_owt/adaptors/hello"

    listed = requests.get(server.url + "/_owt/adaptors", timeout=10).json()
    assert "hello" in [a["name"] for a in listed["adaptors"]]
    shown = requests.get(server.url + "/_owt/adaptors/hello", timeout=10).json()
    assert shown["code"] == HELLO

    replaced = put(server, "hello", HELLO.replace("hello ", "hi "))
    assert replaced.status_code == 200
    answer = requests.post(server.url + "/x", json={"adaptor": "hello"}, timeout=10)
    assert answer.text == "hi world"

    assert requests.delete(server.url + "/_owt/adaptors/hello", timeout=10).json() == {
        "removed": "hello"
    }
    again = requests.delete(server.url + "/_owt/adaptors/hello", timeout=10)
    assert again.status_code == 404
    assert again.json()["error"] == "unknown_adaptor"


def test_a_registered_adaptor_is_called_by_name_by_get_and_post(server):
    assert put(server, "greet", HELLO).ok
    by_get = requests.get(
        server.url + "/anywhere",
        params={"adaptor": "greet", "kwargs": '{"name": "owt", "times": 2}'},
        timeout=10,
    )
    assert by_get.status_code == 200
    assert by_get.text == "hello owt hello owt"
    by_post = requests.post(
        server.url + "/greet",
        json={"adaptor": "greet", "kwargs": {"name": "ada"}},
        timeout=10,
    )
    assert by_post.text == "hello ada"


def test_an_unknown_name_is_a_clear_404(server):
    r = requests.post(server.url + "/x", json={"adaptor": "nobody"}, timeout=10)
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_adaptor"
    assert "PUT /_owt/adaptors/nobody" in body["message"]


@pytest.mark.parametrize(
    "name, kind",
    [
        (".hidden", "bad_adaptor_name"),
        ("a b", "bad_adaptor_name"),
        ("x" * 101, "bad_adaptor_name"),
    ],
)
def test_names_that_cannot_be_files_are_refused(server, name, kind):
    r = put(server, name, HELLO)
    assert r.status_code == 400
    assert r.json()["error"] == kind


def test_code_that_does_not_compile_is_refused_with_its_line(server):
    r = put(server, "broken", "def run(:\n    return 1\n")
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "syntax_error"
    assert body["line"] == 1
    listed = requests.get(server.url + "/_owt/adaptors", timeout=10).json()
    assert "broken" not in [a["name"] for a in listed["adaptors"]]


def test_registering_never_runs_the_code(server, tmp_path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\ndef run():\n    return 'ok'\n"
    assert put(server, "side-effect", code).status_code == 201
    requests.get(server.url + "/_owt/adaptors", timeout=10)
    requests.get(server.url + "/_owt/openapi.json", timeout=10)
    assert not marker.exists()


def test_an_empty_or_oversized_body_is_refused(adaptors_dir, tmp_path):
    with running_owt("--adaptors-dir", str(tmp_path), "--max-code-kb", "1") as small:
        empty = put(small, "empty", "  \n")
        assert empty.status_code == 400
        assert "No code to register" in empty.json()["message"]
        big = put(small, "big", "x = 1\n" * 400)
        assert big.status_code == 400
        assert "--max-code-kb" in big.json()["message"]


def test_a_json_body_may_carry_code_or_code_b64(server):
    by_code = requests.put(
        server.url + "/_owt/adaptors/j1",
        json={"code": "run = lambda: 'one'"},
        timeout=10,
    )
    by_b64 = requests.put(
        server.url + "/_owt/adaptors/j2",
        json={"code_b64": b64("run = lambda: 'two'")},
        timeout=10,
    )
    assert (by_code.status_code, by_b64.status_code) == (201, 201)
    call = requests.get(server.url + "/", params={"adaptor": "j2"}, timeout=10)
    assert call.text == "two"


def test_registered_adaptors_survive_a_restart(tmp_path):
    with running_owt("--adaptors-dir", str(tmp_path)) as first:
        assert put(first, "kept", HELLO).status_code == 201
    assert (tmp_path / "kept.py").read_text() == HELLO
    with running_owt("--adaptors-dir", str(tmp_path)) as second:
        listed = requests.get(second.url + "/_owt/adaptors", timeout=10).json()
        assert [a["name"] for a in listed["adaptors"]] == ["kept"]
        r = requests.get(second.url + "/", params={"adaptor": "kept"}, timeout=10)
        assert r.text == "hello world"
        # ...and by its digest, which this new process never received.
        r = requests.get(
            second.url + "/", params={"code_sha256": sha(HELLO)}, timeout=10
        )
        assert r.text == "hello world"


def test_registering_needs_credentials_when_auth_is_on(tmp_path):
    auth = "me:" + hash_password("secret")
    with running_owt("--adaptors-dir", str(tmp_path), "--auth", auth) as guarded:
        refused = put(guarded, "x", HELLO)
        assert refused.status_code == 401
        assert not (tmp_path / "x.py").exists()
        accepted = put(guarded, "x", HELLO, auth=("me", "secret"))
        assert accepted.status_code == 201


def test_a_foreign_web_page_cannot_register(server, adaptors_dir):
    r = put(server, "evil", HELLO, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert not (adaptors_dir / "evil.py").exists()


# --- calls by hash -------------------------------------------------------------


def test_code_sent_once_is_then_called_by_its_hash(server):
    code = unique("def run(n: int = 1):\n    return {'twice': n * 2}\n")
    first = requests.post(
        server.url + "/h", json={"code": code, "kwargs": {"n": 4}}, timeout=10
    )
    assert first.json() == {"twice": 8}
    by_hash = requests.get(
        server.url + "/h",
        params={"code_sha256": sha(code), "kwargs": '{"n": 5}'},
        timeout=10,
    )
    assert by_hash.status_code == 200
    assert by_hash.json() == {"twice": 10}
    upper = requests.post(
        server.url + "/h", json={"code_sha256": sha(code).upper()}, timeout=10
    )
    assert upper.json() == {"twice": 2}


def test_an_unknown_hash_asks_for_the_code(server):
    code = unique("run = lambda: 'fresh'")
    r = requests.get(server.url + "/", params={"code_sha256": sha(code)}, timeout=10)
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_code"
    assert body["code_sha256"] == sha(code)
    assert "send the code" in body["message"]
    both = requests.post(
        server.url + "/", json={"code": code, "code_sha256": sha(code)}, timeout=10
    )
    assert both.text == "fresh"


def test_a_hash_that_does_not_match_the_code_is_refused(server):
    r = requests.post(
        server.url + "/",
        json={"code": "run = lambda: 1", "code_sha256": sha("something else")},
        timeout=10,
    )
    assert r.status_code == 400
    assert "is not the SHA-256 of the code sent" in r.json()["message"]


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 63])
def test_a_malformed_hash_is_refused(server, value):
    r = requests.get(server.url + "/", params={"code_sha256": value}, timeout=10)
    assert r.status_code == 400
    assert "64 hex digits" in r.json()["message"]


def test_a_hash_call_shares_the_cache_entry_of_the_code(server):
    code = unique("import time\ndef run():\n    return str(time.time_ns())\n")
    first = requests.post(
        server.url + "/c", json={"code": code, "use_cache": True}, timeout=10
    )
    assert first.headers["X-Owt-Cache"] == "miss"
    again = requests.get(
        server.url + "/c",
        params={"code_sha256": sha(code), "use_cache": "true"},
        timeout=10,
    )
    assert again.headers["X-Owt-Cache"] == "hit"
    assert again.text == first.text


def test_by_name_and_by_hash_with_the_process_executor(tmp_path):
    with running_owt(
        "--adaptors-dir", str(tmp_path), "--executor", "process", "--workers", "1"
    ) as server:
        assert put(server, "hello", HELLO).status_code == 201
        by_name = requests.post(
            server.url + "/",
            json={"adaptor": "hello", "kwargs": {"name": "p"}},
            timeout=20,
        )
        assert by_name.text == "hello p"
        by_hash = requests.get(
            server.url + "/", params={"code_sha256": sha(HELLO)}, timeout=20
        )
        assert by_hash.text == "hello world"


# --- OpenAPI -------------------------------------------------------------------


def test_openapi_describes_each_registered_adaptor(tmp_path):
    thumb = textwrap.dedent(
        """
        import typing as t
        from werkzeug.datastructures import FileStorage

        def run(image: FileStorage, size: int = 128, mode: t.Literal["L", "RGB"] = "L"):
            return {"size": size, "mode": mode, "name": image.filename}
        """
    )
    with running_owt("--adaptors-dir", str(tmp_path)) as server:
        assert put(server, "hello", HELLO).ok
        assert put(server, "thumb", thumb).ok
        assert put(server, "any", "def run(request, **kwargs):\n    return kwargs\n").ok
        doc = requests.get(server.url + "/_owt/openapi.json", timeout=10).json()
        validate(doc)  # raises if it is not a valid OpenAPI 3.1 document
        assert doc["openapi"] == "3.1.0"
        assert set(doc["paths"]) == {"/hello", "/thumb", "/any"}

        hello = doc["paths"]["/hello"]["post"]
        assert hello["summary"] == "Greet someone."
        schema = hello["requestBody"]["content"]["application/json"]["schema"]
        kwargs = schema["properties"]["kwargs"]
        assert kwargs["properties"] == {
            "name": {"type": "string", "default": "world"},
            "times": {"type": "integer", "default": 1},
        }
        assert kwargs["additionalProperties"] is False
        assert "text/html" in hello["responses"]["200"]["content"]

        thumb_body = doc["paths"]["/thumb"]["post"]["requestBody"]["content"]
        form = thumb_body["multipart/form-data"]["schema"]
        assert (
            form["properties"]["image"]["contentMediaType"]
            == "application/octet-stream"
        )
        assert "image" in form["required"]
        assert form["properties"]["kwargs"]["properties"]["mode"]["enum"] == [
            "L",
            "RGB",
        ]

        any_kwargs = doc["paths"]["/any"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]["properties"]["kwargs"]
        assert any_kwargs["properties"] == {}  # the request is not an argument
        assert any_kwargs["additionalProperties"] is True

        # A call built from the document works as described.
        example = {"adaptor": "hello", "kwargs": {"name": "spec", "times": 2}}
        r = requests.post(server.url + "/hello", json=example, timeout=10)
        assert r.text == "hello spec hello spec"
        r = requests.post(
            server.url + "/thumb",
            data={"adaptor": "thumb", "kwargs": json.dumps({"size": 64})},
            files={"image": ("cat.png", b"\x89PNG...", "image/png")},
            timeout=10,
        )
        assert r.json() == {"size": 64, "mode": "L", "name": "cat.png"}


def test_openapi_with_nothing_registered_is_still_valid(tmp_path):
    with running_owt("--adaptors-dir", str(tmp_path / "none")) as server:
        doc = requests.get(server.url + "/_owt/openapi.json", timeout=10).json()
        validate(doc)
        assert doc["paths"] == {}


# --- files in ------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_file_parts_become_keyword_arguments(tmp_path, executor):
    payload = bytes(range(256)) * 40
    with running_owt("--adaptors-dir", str(tmp_path), "--executor", executor) as server:
        r = requests.post(
            server.url + "/upload",
            data={"code_b64": b64(FILE_INFO), "note": "a text part"},
            files={"image": ("photo.jpg", payload, "image/jpeg")},
            timeout=20,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "filename": "photo.jpg",
            "content_type": "image/jpeg",
            "sha256": hashlib.sha256(payload).hexdigest(),
            "size": len(payload),
            "note": "a text part",
        }


def test_typed_kwargs_travel_beside_files(server):
    r = requests.post(
        server.url + "/upload",
        data={"code": FILE_INFO, "kwargs_b64": b64(json.dumps({"note": [1, 2]}))},
        files={"image": ("a.bin", b"abc")},
        timeout=10,
    )
    assert r.json()["note"] == [1, 2]
    assert r.json()["size"] == 3


def test_parts_the_entrypoint_does_not_take_stay_on_the_request(server):
    code = "from flask import request\ndef run():\n    return sorted(request.files) + sorted(request.form)\n"
    r = requests.post(
        server.url + "/",
        data={"code": code, "extra": "x"},
        files={"f": ("a.txt", b"hello")},
        timeout=10,
    )
    assert r.json() == ["f", "code", "extra"]


def test_an_argument_sent_twice_is_refused(server):
    r = requests.post(
        server.url + "/",
        data={"code": FILE_INFO, "kwargs": '{"image": 1}'},
        files={"image": ("a.bin", b"abc")},
        timeout=10,
    )
    assert r.status_code == 400
    assert "'image' was sent twice" in r.json()["message"]


def test_a_protocol_field_sent_as_a_file_is_refused(server):
    r = requests.post(
        server.url + "/",
        data={"code": FILE_INFO},
        files={"kwargs_b64": ("k.txt", b"e30=")},
        timeout=10,
    )
    assert r.status_code == 400
    assert "kwargs_b64 was sent as a file" in r.json()["message"]


def test_files_count_toward_the_request_limit(tmp_path):
    with running_owt(
        "--adaptors-dir", str(tmp_path), "--max-request-mb", "1"
    ) as server:
        r = requests.post(
            server.url + "/",
            data={"code": FILE_INFO},
            files={"image": ("big.bin", b"x" * (2 * 1024 * 1024))},
            timeout=20,
        )
        assert r.status_code == 413
        assert requests.get(server.url + "/_owt/health", timeout=10).ok


def test_cached_calls_with_files_are_keyed_by_the_files(server):
    code = unique(FILE_INFO)

    def send(content: bytes, name: str = "a.bin") -> requests.Response:
        return requests.post(
            server.url + "/cached-upload",
            data={"code": code, "use_cache": "true", "cache_kwargs": "true"},
            files={"image": (name, content)},
            timeout=10,
        )

    first = send(b"one")
    assert first.headers["X-Owt-Cache"] == "miss"
    assert send(b"one").headers["X-Owt-Cache"] == "hit"
    other = send(b"two")
    assert other.headers["X-Owt-Cache"] == "miss"
    assert other.json()["size"] == 3
    assert send(b"one", "b.bin").headers["X-Owt-Cache"] == "miss"
