"""Who may run code: auth on every route form, DNS rebinding (issue 7)."""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import statistics
import time
import urllib.parse

import pytest
from werkzeug.test import EnvironBuilder

from owt.security import AccessPolicy
from owt.security import hash_password
from tests.owtserver import b64
from tests.owtserver import running_owt
from tests.security.conftest import marker_code
from tests.security.conftest import markers

USER, PASSWORD = "alice", "correct horse battery staple"
AUTH = f"{USER}:{hash_password(PASSWORD)}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def raw_request(port, method, target, headers=None, body=None):
    """One request with the target sent byte for byte (no normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = headers or {}
        conn.putrequest(
            method, target, skip_host="Host" in headers, skip_accept_encoding=True
        )
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


@pytest.fixture(scope="module")
def auth_markers(tmp_path_factory):
    return tmp_path_factory.mktemp("auth-markers")


@pytest.fixture(scope="module")
def authed(tmp_path_factory):
    with running_owt("--auth", AUTH, log_dir=tmp_path_factory.mktemp("logs")) as server:
        yield server


ROUTES = [
    "/",
    "/x",
    "//x",
    "/%2e%2e/",
    "/%2e%2e/%2e%2e/etc",
    "/_owt/health",
    "/_owt/cache",
    "/_owt/../x",
]
METHODS = ["GET", "POST", "HEAD", "OPTIONS"]
BAD_CREDENTIALS = {
    "none": None,
    "wrong password": basic(USER, "wrong"),
    "wrong user": basic("mallory", PASSWORD),
    "empty": basic("", ""),
    "hash instead of password": basic(USER, hash_password(PASSWORD)),
    "not base64": "Basic %%%",
    "bearer": "Bearer " + PASSWORD,
    "user only": "Basic " + base64.b64encode(USER.encode()).decode(),
}


def attempt(server, marker_dir, method, route, authorization, name):
    query = urllib.parse.urlencode(
        {
            "code_b64": b64(marker_code(marker_dir)),
            "kwargs_b64": b64(json.dumps({"name": name})),
        }
    )
    headers = {"Host": f"127.0.0.1:{server.port}"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = None
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = query.encode()
    target = route if method == "POST" else f"{route}?{query}"
    return raw_request(server.port, method, target, headers, body)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("method", METHODS)
def test_every_route_form_refuses_bad_credentials_and_runs_nothing(
    authed, auth_markers, method, route
):
    names = []
    for label, authorization in BAD_CREDENTIALS.items():
        name = f"{method}-{route}-{label}".replace("/", "_")
        names.append(name)
        status, headers, data = attempt(
            authed, auth_markers, method, route, authorization, name
        )
        assert status == 401, (label, data)
        assert headers["www-authenticate"].startswith("Basic")
        assert headers["x-request-id"]
        if method != "HEAD":
            body = json.loads(data)
            assert body["error"] == "unauthorized"
            assert body["request_id"] == headers["x-request-id"]
    assert not set(names) & set(markers(auth_markers))


@pytest.mark.parametrize("route", ["/", "/x", "//x", "/%2e%2e/"])
def test_right_credentials_run_code_on_every_route_form(authed, auth_markers, route):
    name = "ok" + route.replace("/", "_").replace("%", "")
    status, _, data = attempt(
        authed, auth_markers, "GET", route, basic(USER, PASSWORD), name
    )
    assert (status, data) == (200, f"ran {name}".encode())
    assert name in markers(auth_markers)


def test_owt_endpoints_answer_with_right_credentials(authed):
    status, _, data = raw_request(
        authed.port, "GET", "/_owt/health", {"Authorization": basic(USER, PASSWORD)}
    )
    assert status == 200 and json.loads(data)["status"] == "ok"


def test_cors_preflight_passes_the_host_check_like_any_request(tmp_path):
    page = "http://127.0.0.1:5555"
    with running_owt("--allow-origin", page, log_dir=tmp_path) as server:
        status, _, _ = raw_request(
            server.port,
            "OPTIONS",
            "/x",
            {
                "Origin": page,
                "Access-Control-Request-Method": "POST",
                "Host": f"rebound.example:{server.port}",
            },
        )
        assert status == 403
        status, _, _ = raw_request(
            server.port,
            "OPTIONS",
            "/x",
            {"Origin": page, "Access-Control-Request-Method": "POST"},
        )
        assert status == 204


def test_cors_preflight_needs_no_credentials_but_runs_nothing(tmp_path):
    # Browsers never send credentials on a preflight (Fetch standard), so an
    # allowed origin's preflight is answered without them; the request it
    # announces still needs them.
    page = "http://127.0.0.1:5555"
    with running_owt(
        "--auth", AUTH, "--allow-origin", page, log_dir=tmp_path
    ) as server:
        status, headers, _ = raw_request(
            server.port,
            "OPTIONS",
            "/x?code_b64=" + b64(marker_code(tmp_path)),
            {"Origin": page, "Access-Control-Request-Method": "POST"},
        )
        assert status == 204
        assert headers["access-control-allow-origin"] == page
        status, _, _ = raw_request(
            server.port,
            "POST",
            "/x",
            {"Origin": page, "Content-Type": "application/json"},
            json.dumps({"code_b64": b64(marker_code(tmp_path))}).encode(),
        )
        assert status == 401
        # A preflight from an origin that isn't allowed is refused outright.
        status, _, _ = raw_request(
            server.port,
            "OPTIONS",
            "/x",
            {
                "Origin": "http://127.0.0.1:6666",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert status in (401, 403)
        assert [
            p.name for p in tmp_path.iterdir() if p.is_file() and "ran" == p.read_text()
        ] == []


def test_credentials_are_compared_with_hmac_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("owt.security.hmac.compare_digest", recording)
    policy = AccessPolicy(AUTH, (), True)

    def FakeRequest(authorization):  # a real Werkzeug request, no server
        headers = {"Host": "127.0.0.1"}
        if authorization:
            headers["Authorization"] = authorization
        return EnvironBuilder(method="GET", headers=headers).get_request()

    for authorization in (basic("mallory", "wrong"), basic(USER, "wrong"), None):
        calls.clear()
        with pytest.raises(Exception) as refused:
            policy.check(FakeRequest(authorization))
        assert getattr(refused.value, "status", None) == 401
        # Both the user name and the password digest are compared, every time,
        # even when the user name is already wrong.
        assert len(calls) == 2
    calls.clear()
    policy.check(FakeRequest(basic(USER, PASSWORD)))
    assert len(calls) == 2
    # The password is compared as its digest: equal-length values.
    assert len(calls[1][0]) == len(calls[1][1]) == 64


def test_credential_check_time_does_not_depend_on_how_much_matches():
    """Coarse sanity check only (the guarantee is hmac.compare_digest)."""
    policy = AccessPolicy(AUTH, (), True)

    class FakeRequest:
        method, scheme = "GET", "http"

        def __init__(self, authorization):
            self.headers = {"Host": "127.0.0.1", "Authorization": authorization}

    def median_seconds(authorization):
        request = FakeRequest(authorization)
        samples = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(300):
                try:
                    policy.check(request)
                except Exception:
                    pass
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    nothing_right = median_seconds(basic("x" * len(USER), "y" * len(PASSWORD)))
    user_right = median_seconds(basic(USER, "y" * len(PASSWORD)))
    almost = median_seconds(basic(USER, PASSWORD[:-1] + "!"))
    fastest = min(nothing_right, user_right, almost)
    assert max(nothing_right, user_right, almost) < fastest * 3


REBINDING_HOSTS = [
    "attacker.example:{port}",
    "attacker.example",
    "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "[::ffff:7f00:1].attacker.example",
    "127.0.0.1:{port}, attacker.example",
]


@pytest.mark.parametrize("host", REBINDING_HOSTS)
def test_dns_rebinding_hosts_are_refused_and_run_nothing(owt, marker_dir, host):
    host = host.format(port=owt.port)
    query = "code_b64=" + urllib.parse.quote(b64(marker_code(marker_dir)))
    status, headers, data = raw_request(owt.port, "GET", "/x?" + query, {"Host": host})
    assert status == 403, data
    body = json.loads(data)
    assert body["error"] == "forbidden" and "DNS rebinding" in body["message"]
    assert body["request_id"] == headers["x-request-id"]
    assert markers(marker_dir) == []


def test_absolute_form_request_target_is_judged_by_its_host_header(owt, marker_dir):
    # The front (granian) drops the authority of an absolute-form target
    # ("GET http://x:PORT/path"), so the Host header is what is checked.
    # Browsers never send that form to a server (only to a proxy), so a
    # rebinding page still shows its own name there, and is refused.
    query = "code_b64=" + urllib.parse.quote(b64(marker_code(marker_dir)))
    status, _, _ = raw_request(
        owt.port,
        "GET",
        f"http://127.0.0.1:{owt.port}/x?{query}",
        {"Host": f"attacker.example:{owt.port}"},
    )
    assert status == 403
    assert markers(marker_dir) == []


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "127.0.0.1", "LOCALHOST:{port}"]
)
def test_loopback_hosts_are_served(owt, host):
    query = "code_b64=" + urllib.parse.quote(b64("def run():\n    return 'hi'\n"))
    status, _, data = raw_request(
        owt.port, "GET", "/?" + query, {"Host": host.format(port=owt.port)}
    )
    assert (status, data) == (200, b"hi")
