"""A real browser attacks owt from another origin (issue 7).

Headless Chromium (Debian's, driven by Playwright) opens a page served from
another loopback port. The page tries every way a web page can reach owt
without the user's say: image, script, no-cors fetch, text/plain and form
POSTs, auto-submitted forms, an iframe, EventSource and sendBeacon. Each
attempt's adaptor would leave a marker file: none may exist afterwards.
With ``--allow-origin`` for that page, a fetch runs and reads the answer;
a page that owt serves itself works without any flag.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
import typing as t
import urllib.parse
from pathlib import Path

import pytest

from tests.browser import CHROMIUM
from tests.browser import chromium_args
from tests.owtserver import b64
from tests.owtserver import free_port
from tests.owtserver import running_owt
from tests.security.conftest import marker_code
from tests.security.conftest import markers

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = chromium_args(
    # A DNS-rebinding attacker's name that resolves to this machine.
    "--host-resolver-rules=MAP attacker.example 127.0.0.1",
)

#: Every way the page tries to reach owt; each uses its own marker name.
ATTEMPTS = [
    "img",
    "script",
    "iframe",
    "fetch-no-cors",
    "fetch-text-plain",
    "fetch-form",
    "fetch-cors-get",
    "fetch-cors-json",
    "eventsource",
    "beacon-text",
    "beacon-form",
    "beacon-urlencoded",
    "form-x-www-form-urlencoded",
    "form-form-data",
    "form-plain",
]

ATTACK_PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>a page the user merely visits</title></head>
<body>
<iframe name="sink" style="display:none"></iframe>
<script>
const OWT = "__OWT__";
const CODE = "__CODE__";
const kw = (name) => btoa(JSON.stringify({name}));
const url = (name) => OWT + "/x?code_b64=" + encodeURIComponent(CODE)
  + "&kwargs_b64=" + encodeURIComponent(kw(name));
const payload = (name) => JSON.stringify({code_b64: CODE, kwargs_b64: kw(name)});
const fields = (name) => ({code_b64: CODE, kwargs_b64: kw(name)});
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const results = {};

async function attempt(label, make) {
  try { results[label] = await make(); } catch (e) { results[label] = "refused: " + e; }
}

function load(element, src) {
  return new Promise((resolve) => {
    element.onload = () => resolve("loaded");
    element.onerror = () => resolve("error");
    element.src = src;
    if (!element.isConnected) document.body.appendChild(element);
    setTimeout(() => resolve("timeout"), 3000);
  });
}

function submitForm(name, enctype) {
  const form = document.createElement("form");
  form.method = "POST";
  form.action = OWT + "/x";
  form.enctype = enctype;
  form.target = "sink";
  for (const [key, value] of Object.entries(fields(name))) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = key;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}

window.attack = async () => {
  results["img"] = await load(new Image(), url("img"));
  results["script"] = await load(document.createElement("script"), url("script"));
  results["iframe"] = await load(document.createElement("iframe"), url("iframe"));
  await attempt("fetch-no-cors", () =>
    fetch(url("fetch-no-cors"), {mode: "no-cors"}).then((r) => r.type));
  await attempt("fetch-text-plain", () =>
    fetch(OWT + "/x", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: payload("fetch-text-plain")})
      .then((r) => r.type));
  await attempt("fetch-form", () =>
    fetch(OWT + "/x", {method: "POST", mode: "no-cors",
      body: new URLSearchParams(fields("fetch-form"))}).then((r) => r.type));
  await attempt("fetch-cors-get", () =>
    fetch(url("fetch-cors-get")).then((r) => r.text()));
  await attempt("fetch-cors-json", () =>
    fetch(OWT + "/x", {method: "POST", headers: {"Content-Type": "application/json"},
      body: payload("fetch-cors-json")}).then((r) => r.text()));
  results["eventsource"] = await new Promise((resolve) => {
    const source = new EventSource(url("eventsource"));
    source.onmessage = (event) => { source.close(); resolve("message: " + event.data); };
    source.onerror = () => { source.close(); resolve("error"); };
    setTimeout(() => { source.close(); resolve("timeout"); }, 3000);
  });
  results["beacon-text"] = navigator.sendBeacon(OWT + "/x", payload("beacon-text"));
  const multipart = new FormData();
  for (const [key, value] of Object.entries(fields("beacon-form"))) multipart.append(key, value);
  results["beacon-form"] = navigator.sendBeacon(OWT + "/x", multipart);
  results["beacon-urlencoded"] = navigator.sendBeacon(
    OWT + "/x", new URLSearchParams(fields("beacon-urlencoded")));
  for (const enctype of ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]) {
    const name = "form-" + enctype.split("/")[1];
    submitForm(name, enctype);
    results[name] = "submitted";
    await pause(300);
  }
  return results;
};
</script>
</body></html>
"""


class PageServer:
    """A tiny web server on another loopback port, serving one page."""

    def __init__(self, html: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.port = port or free_port()
        self.origin = f"http://{host}:{self.port}"
        page = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/attack"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                else:
                    self.send_error(404)

            def log_message(self, *args: t.Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def attack_page(owt_url: str, directory: Path) -> str:
    return ATTACK_PAGE.replace("__OWT__", owt_url).replace(
        "__CODE__", b64(marker_code(directory))
    )


def logged_statuses(output: str) -> list[str]:
    return [
        line.split("status=")[1].split()[0]
        for line in output.splitlines()
        if " status=" in line and "/_owt/health" not in line
    ]


def wait_for_requests(server, count: int, seconds: float = 15) -> list[str]:
    """The statuses owt logged, once at least ``count`` requests arrived."""
    deadline = time.monotonic() + seconds
    statuses = logged_statuses(server.output())
    while len(statuses) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        statuses = logged_statuses(server.output())
    return statuses


@pytest.mark.parametrize(
    "page_host", ["127.0.0.1", "localhost"], ids=["same-site", "cross-site"]
)
def test_a_page_of_another_origin_can_run_nothing(page, tmp_path, page_host):
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    with running_owt(log_dir=tmp_path) as owt:
        with PageServer(attack_page(owt.url, marker_dir), page_host) as attacker:
            page.goto(attacker.origin + "/attack")
            results = page.evaluate("window.attack()")
            # Every attempt that sends a request did reach owt (the test would
            # prove nothing if the browser never sent them), and was refused.
            statuses = wait_for_requests(owt, len(ATTEMPTS))
    assert set(results) == set(ATTEMPTS)
    assert len(statuses) >= len(ATTEMPTS), (statuses, results)
    assert set(statuses) == {"403"}, (statuses, results)
    assert markers(marker_dir) == []
    # Nothing the page could read came back either.
    assert not str(results["fetch-cors-get"]).startswith("ran")
    assert not str(results["fetch-cors-json"]).startswith("ran")


def test_dns_rebinding_page_is_refused_by_host(page, tmp_path):
    # attacker.example resolves to 127.0.0.1 (as after a rebinding), so a page
    # there is "same origin" with owt's port as far as the browser knows.
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    with running_owt(log_dir=tmp_path) as owt:
        rebound = f"http://attacker.example:{owt.port}"
        query = urllib.parse.urlencode({"code_b64": b64(marker_code(marker_dir))})
        response = page.goto(f"{rebound}/x?{query}")
        assert response is not None and response.status == 403
        assert "DNS rebinding" in page.content()
    assert markers(marker_dir) == []


def test_allow_origin_lets_that_page_run_and_read(page, tmp_path):
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    with running_owt("--allow-origin", origin, log_dir=tmp_path) as owt:
        with PageServer(attack_page(owt.url, marker_dir), port=page_port):
            page.goto(origin + "/attack")
            read = page.evaluate(
                """async () => {
                  const r = await fetch(OWT + "/x", {method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: payload("allowed-json")});
                  return [r.status, await r.text(), r.headers.get("X-Request-Id")];
                }"""
            )
            got = page.evaluate("fetch(url('allowed-get')).then(r => r.text())")
    status, text, request_id = read
    assert (status, text) == (200, "ran allowed-json")
    assert request_id  # exposed to the page by CORS
    assert got == "ran allowed-get"
    assert {"allowed-json", "allowed-get"} <= set(markers(marker_dir))


SAME_ORIGIN_APP = r'''
def run():
    return """<!doctype html><meta charset="utf-8"><body><script>
const CODE = "__CODE__";
const SSE = "__SSE__";
(async () => {
  const r = await fetch("/api", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({code_b64: CODE, kwargs_b64: btoa(JSON.stringify({name: "same-origin"}))})});
  document.body.dataset.fetched = await r.text();
  const source = new EventSource("/events?code_b64=" + encodeURIComponent(SSE));
  source.onmessage = (event) => { document.body.dataset.event = event.data; source.close(); };
})();
</script></body>"""
'''

SSE_CODE = (
    "def run():\n"
    "    def events():\n"
    "        yield 'data: streamed to the page\\n\\n'\n"
    "    return events(), {'Content-Type': 'text/event-stream'}\n"
)


def test_a_page_owt_serves_itself_works_without_any_flag(page, tmp_path):
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    app = SAME_ORIGIN_APP.replace("__CODE__", b64(marker_code(marker_dir))).replace(
        "__SSE__", b64(SSE_CODE)
    )
    with running_owt(log_dir=tmp_path) as owt:
        query = urllib.parse.urlencode({"code_b64": b64(app)})
        response = page.goto(f"{owt.url}/app?{query}")
        assert response is not None and response.status == 200
        page.wait_for_function("document.body.dataset.event !== undefined")
        fetched = page.evaluate("document.body.dataset.fetched")
        event = page.evaluate("document.body.dataset.event")
    assert fetched == "ran same-origin"
    assert event == "streamed to the page"
    assert markers(marker_dir) == ["same-origin"]


def test_chromium_is_installed_where_the_tests_expect_it():
    assert shutil.which("chromium") == CHROMIUM or Path(CHROMIUM).exists()
