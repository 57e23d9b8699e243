"""Auth, origin policy and the Host check, with hand-made headers."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.owtserver import fields
from tests.owtserver import running_owt

HELLO = "def run():\n    return 'hi'\n"
AUTH = "alice:" + hashlib.sha256(b"s3cret").hexdigest()


def marker_code(path) -> str:
    return f"def run():\n    open({str(path)!r}, 'w').write('ran')\n    return 'ran'\n"


@pytest.fixture(scope="module")
def authed():
    with running_owt("--auth", AUTH) as server:
        yield server


@pytest.mark.parametrize("path", ["/", "/x", "/a/b", "/_owt/health", "/_owt/nothing"])
@pytest.mark.parametrize(
    "credentials", [None, ("alice", "wrong"), ("bob", "s3cret"), ("", "")], ids=str
)
def test_auth_refuses_missing_or_wrong_credentials_everywhere(
    authed, tmp_path, path, credentials
):
    marker = tmp_path / "ran"
    for method in ("GET", "POST", "HEAD", "OPTIONS"):
        r = requests.request(
            method,
            authed.url + path,
            params=fields(marker_code(marker)),
            auth=credentials,
            timeout=10,
        )
        assert r.status_code == 401, (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert not marker.exists()


def test_auth_accepts_the_right_credentials(authed):
    r = requests.get(
        authed.url + "/x", params=fields(HELLO), auth=("alice", "s3cret"), timeout=10
    )
    assert (r.status_code, r.text) == (200, "hi")
    health = requests.get(
        authed.url + "/_owt/health", auth=("alice", "s3cret"), timeout=10
    )
    assert health.json()["status"] == "ok"


def test_garbage_authorization_header_is_401(authed):
    for header in ("Basic !!!", "Bearer abc", "Basic " + "x" * 5000, "Basic"):
        r = requests.get(authed.url, headers={"Authorization": header}, timeout=10)
        assert r.status_code == 401


def test_bad_auth_option_is_refused_at_start():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "owt", "serve", "--auth", "alice:notahash"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode != 0
    assert "SHA256" in out.stderr or "sha256" in out.stderr.lower()


# -- origin policy --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
    ],
    ids=str,
)
def test_browser_requests_from_other_origins_are_refused(owt_server, tmp_path, headers):
    marker = tmp_path / "ran"
    for method in ("GET", "POST"):
        r = requests.request(
            method,
            owt_server.url + "/x",
            params=fields(marker_code(marker)),
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 403
        assert r.json()["error"] == "forbidden"
        assert "Access-Control-Allow-Origin" not in r.headers
    assert not marker.exists()


def test_same_origin_and_non_browser_requests_are_served(owt_server):
    own = owt_server.url
    for headers in (
        {},
        {"Origin": own, "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ):
        r = requests.get(
            owt_server.url, params=fields(HELLO), headers=headers, timeout=10
        )
        assert (r.status_code, r.text) == (200, "hi"), headers


def test_allowed_origin_gets_cors_and_preflight():
    page = "http://localhost:5173"
    with running_owt("--allow-origin", page) as server:
        r = requests.get(
            server.url,
            params=fields(HELLO),
            headers={"Origin": page, "Sec-Fetch-Site": "cross-site"},
            timeout=10,
        )
        assert (r.status_code, r.text) == (200, "hi")
        assert r.headers["Access-Control-Allow-Origin"] == page
        assert "Origin" in r.headers["Vary"]
        pre = requests.options(
            server.url + "/x",
            headers={
                "Origin": page,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )
        assert pre.status_code == 204
        assert pre.headers["Access-Control-Allow-Origin"] == page
        assert "POST" in pre.headers["Access-Control-Allow-Methods"]
        assert pre.headers["Access-Control-Allow-Headers"] == "content-type"
        other = requests.get(
            server.url,
            params=fields(HELLO),
            headers={"Origin": "http://evil.example"},
            timeout=10,
        )
        assert other.status_code == 403


def test_allow_origin_star_allows_any_page():
    with running_owt("--allow-origin", "*") as server:
        r = requests.get(
            server.url,
            params=fields(HELLO),
            headers={"Origin": "http://any.example"},
            timeout=10,
        )
        assert r.status_code == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example:9876",
        "attacker.example",
        "10.0.0.1:9876",
        "127.0.0.1.evil.example",
    ],
)
def test_dns_rebinding_hosts_are_refused_on_loopback(owt_server, tmp_path, host):
    marker = tmp_path / "ran"
    r = requests.get(
        owt_server.url,
        params=fields(marker_code(marker)),
        headers={"Host": host},
        timeout=10,
    )
    assert r.status_code == 403
    assert "Host" in r.json()["message"]
    assert not marker.exists()


@pytest.mark.parametrize(
    "host", ["localhost:1234", "127.0.0.1", "127.9.9.9:80", "[::1]:9876"]
)
def test_loopback_host_names_are_accepted(owt_server, host):
    r = requests.get(
        owt_server.url, params=fields(HELLO), headers={"Host": host}, timeout=10
    )
    assert r.status_code == 200
