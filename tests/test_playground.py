"""The playground at ``/_owt/`` (issue 16): its headers and files over HTTP,
and the page itself in a real headless Chromium (Debian's, under Playwright).

The browser tests run adaptors from the page as a user would: type into the
editors, press Run, read what the page shows. Where something must *not*
run (code from a link, a page framed or opened by another site), the adaptor
would write a marker file, and the test looks for it on disk. Files are
picked with Playwright's ``set_input_files``, and the commands "Copy as"
writes for them run in a temporary directory that holds the same files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import http.server
import io
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

from owt.security import hash_password
from tests.browser import CHROMIUM
from tests.browser import chromium_args
from tests.owtserver import REPO
from tests.owtserver import OwtProcess
from tests.owtserver import free_port
from tests.owtserver import running_owt

PLAYGROUND = REPO / "owt" / "playground"

#: Seconds any one wait in the browser may take.
WAIT_MS = 15_000

#: Adaptor code that leaves a marker file when it runs.
MARKER_CODE = (
    "import pathlib\n\n\n"
    "def run(path):\n"
    "    pathlib.Path(path).write_text('ran')\n"
    "    return 'ran'\n"
)


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def share_fragment(code: str, kwargs: dict[str, t.Any], path: str = "/shared") -> str:
    """The #fragment of a share link, as the page's Share button writes it."""
    params = {
        "code": b64url(code),
        "kwargs": b64url(json.dumps(kwargs)),
        "path": path,
        "method": "POST",
    }
    return "#" + urllib.parse.urlencode(params)


def raw_get(server: OwtProcess, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- HTTP: headers, files, routes ---------------------------------------------

POLICY_DIRECTIVES = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "object-src": "'none'",
}


def policy(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


@pytest.mark.parametrize("path", ["/_owt/", "/_owt"])
def test_the_page_is_served_with_a_tight_policy(owt_server, path):
    response = requests.get(owt_server.url + path, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>owt playground</title>" in response.text
    directives = policy(response.headers["Content-Security-Policy"])
    for name, value in POLICY_DIRECTIVES.items():
        assert directives[name] == value, (name, directives)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_page_has_no_inline_script_or_style(owt_server):
    page = requests.get(owt_server.url + "/_owt/", timeout=10).text
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert re.search(r"<style|\sstyle=|\son[a-z]+=", page) is None
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert src.startswith("/_owt/playground/"), src  # nothing from elsewhere


ASSETS = {
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "vendor/codemirror/lib/codemirror.js": "text/javascript; charset=utf-8",
    "vendor/codemirror/lib/codemirror.css": "text/css; charset=utf-8",
    "vendor/codemirror/mode/python/python.js": "text/javascript; charset=utf-8",
    "vendor/codemirror/mode/javascript/javascript.js": "text/javascript; charset=utf-8",
    "vendor/codemirror/LICENSE": "text/plain; charset=utf-8",
    "examples/examples.json": "application/json",
    "examples/echo.py": "text/plain; charset=utf-8",
    "examples/thumbnail.py": "text/plain; charset=utf-8",
}


@pytest.mark.parametrize("name", ASSETS)
def test_assets_come_from_the_package_with_their_types(owt_server, name):
    response = requests.get(f"{owt_server.url}/_owt/playground/{name}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ASSETS[name]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.content == (PLAYGROUND / name).read_bytes()
    again = requests.get(
        f"{owt_server.url}/_owt/playground/{name}",
        headers={"If-None-Match": response.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304


def test_the_vendored_codemirror_is_the_pinned_version():
    script = (REPO / "scripts" / "vendor-codemirror.sh").read_text()
    pinned = re.search(r"^VERSION=(\S+)$", script, re.MULTILINE)
    assert pinned is not None
    vendored = PLAYGROUND / "vendor" / "codemirror"
    assert (vendored / "VERSION").read_text().strip() == pinned.group(1)
    code = (vendored / "lib" / "codemirror.js").read_text()
    assert f'CodeMirror.version = "{pinned.group(1)}"' in code
    assert "MIT License" in (vendored / "LICENSE").read_text()


def test_the_preview_page_allows_only_its_own_script(owt_server):
    response = requests.get(
        f"{owt_server.url}/_owt/playground/preview.html", timeout=10
    )
    assert response.status_code == 200
    directives = policy(response.headers["Content-Security-Policy"])
    script = re.search(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest())
    assert directives["script-src"] == f"'sha256-{digest.decode()}'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert "connect-src" not in directives  # so: none
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


TRAVERSALS = [
    "/_owt/playground/../../security.py",
    "/_owt/playground/..%2f..%2fsecurity.py",
    "/_owt/playground/%2e%2e/%2e%2e/security.py",
    "/_owt/playground/%2e%2e%2f%2e%2e%2fsecurity.py",
    "/_owt/playground/vendor/../../routes/playground.py",
    "/_owt/playground/..\\..\\security.py",
    "/_owt/playground//etc/passwd",
    "/_owt/playground/%2fetc%2fpasswd",
    "/_owt/playground/.",
    "/_owt/playground/",
    "/_owt/playground/vendor",
    "/_owt/playground/vendor/codemirror/../../../routes/playground.py",
    "/_owt/playground/examples/../../../pyproject.toml",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_paths_cannot_leave_the_playground(owt_server, path):
    status, body = raw_get(owt_server, path)
    assert status in (400, 404), (status, body[:200])
    assert b"import" not in body and b"root:" not in body and b"[project]" not in body


def test_playground_rules_are_matched_before_the_reserved_catch_all(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/_owt/")[0] == "playground.page"
    assert adapter.match("/_owt")[0] == "playground.page"
    assert adapter.match("/_owt/playground/playground.js")[0] == "playground.asset"
    assert adapter.match("/_owt/playground/vendor/codemirror/LICENSE") == (
        "playground.asset",
        {"name": "vendor/codemirror/LICENSE"},
    )
    assert adapter.match("/_owt/elsewhere")[0] == "admin.reserved"
    assert adapter.match("/_owt/health")[0] == "admin.health"


def test_the_page_runs_nothing_by_itself_on_the_server(client):
    assert client.get("/_owt/").status_code == 200
    assert client.post("/_owt/", json={"code": "def run(): return 1"}).status_code in (
        404,
        405,
    )


NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_link_from_another_site_may_open_the_page_and_nothing_else(client, site):
    visit = {**NAVIGATE, "Sec-Fetch-Site": site}
    # Opening the page in a tab (a share link clicked on another site).
    assert client.get("/_owt/", headers=visit).status_code == 200
    assert client.get("/_owt", headers=visit).status_code == 200
    # Not in a frame, not as a subresource, not its files, not by POST...
    framed = {**visit, "Sec-Fetch-Dest": "iframe"}
    assert client.get("/_owt/", headers=framed).status_code == 403
    fetched = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": ""}
    assert client.get("/_owt/", headers=fetched).status_code == 403
    js = "/_owt/playground/playground.js"
    assert client.get(js, headers=visit).status_code == 403
    assert client.post("/_owt/", headers=visit).status_code == 403
    assert client.get("/_owt/health", headers=visit).status_code == 403
    # ...and a link that carries code still runs nothing.
    code = "/x?code=" + urllib.parse.quote("def run(): return 'ran'")
    assert client.get(code, headers=visit).status_code == 403


# -- the browser ------------------------------------------------------------

pytest_browser = pytest.mark.browser

#: Catches Content-Security-Policy violations before the page's own scripts run.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=chromium_args()
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page, and every console message and page error it produced."""

    def __init__(self, page: t.Any) -> None:
        self.page = page
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def context(browser):
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(WATCH_VIOLATIONS)
    try:
        yield context
    finally:
        context.close()


def open_playground(context: t.Any, url: str) -> Watched:
    watched = Watched(context.new_page())
    response = watched.page.goto(url)
    assert response is not None and response.status == 200
    watched.page.wait_for_selector("body[data-ready=true]")
    return watched


@pytest.fixture
def playground(context, owt_server):
    return open_playground(context, owt_server.url + "/_owt/")


def editor(page: t.Any, which: str) -> t.Any:
    return page.evaluate(
        "(which) => document.querySelector(`.${which}-editor .CodeMirror`)"
        ".CodeMirror.getValue()",
        which,
    )


def fill(
    page: t.Any,
    code: str,
    kwargs: t.Any = None,
    path: str = "/play",
    method: str = "POST",
    use_cache: bool = False,
) -> None:
    """Type a request into the page's form (the editors are CodeMirror's)."""
    page.evaluate(
        """([code, kwargs]) => {
          document.querySelector('.code-editor .CodeMirror').CodeMirror.setValue(code);
          document.querySelector('.kwargs-editor .CodeMirror').CodeMirror.setValue(kwargs);
        }""",
        [code, json.dumps(kwargs if kwargs is not None else {}, ensure_ascii=False)],
    )
    page.fill("#path", path)
    page.select_option("#method", method)
    page.set_checked("#use-cache", use_cache)


def runs(page: t.Any) -> int:
    return int(page.evaluate("Number(document.body.dataset.runs || 0)"))


def press_run(page: t.Any) -> None:
    """Press Run and wait until the answer is in."""
    before = runs(page)
    page.click("#run")
    page.wait_for_function(
        "(n) => Number(document.body.dataset.runs || 0) > n", arg=before
    )


def meta(page: t.Any, name: str) -> str:
    return page.inner_text(f"#{name}").strip()


@pytest_browser
def test_the_page_loads_clean(playground):
    page = playground.page
    assert page.title() == "owt playground"
    assert page.locator(".CodeMirror").count() == 2  # the editors, not textareas
    assert "def run" in editor(page, "code")  # an example to start from
    options = page.locator("#example option").all_inner_texts()
    for name in ("Echo", "stream", "image", "thumbnail", "speech"):
        assert any(name.lower() in option.lower() for option in options), options
    time.sleep(0.3)
    assert page.evaluate("window.__violations") == []
    assert playground.errors == []
    assert [m for m in playground.console if m[0] in ("error", "warning")] == []
    assert page.inner_text("#answer").strip() == "The answer appears here."
    assert runs(page) == 0


@pytest_browser
def test_an_echo_runs_and_its_answer_is_shown(playground):
    page = playground.page
    page.select_option("#example", "echo")
    page.wait_for_function("() => document.querySelector('#path').value === '/echo'")
    press_run(page)
    shown = page.inner_text("#answer pre")
    assert json.loads(shown) == {
        "kwargs": {"name": "owt", "numbers": [1, 2, 3]},
        "method": "POST",
        "path": "/echo",
    }
    assert "\n  " in shown  # pretty-printed
    assert meta(page, "status") == "200 OK"
    assert meta(page, "cache") == "bypass"
    assert meta(page, "content-type") == "application/json"
    assert re.fullmatch(r"\d+ ms \(first byte \d+ ms\)", meta(page, "time"))
    assert re.fullmatch(r"[0-9a-f]{16}", meta(page, "request-id"))
    assert page.evaluate("window.__violations") == []


@pytest_browser
def test_use_cache_answers_the_second_run_from_the_cache(playground, tmp_path):
    page = playground.page
    code = (
        "import time\n\n\ndef run(tag):\n    return {'tag': tag, 'at': time.time()}\n"
    )
    fill(
        page, code, {"tag": str(tmp_path)}, path="/cached", method="GET", use_cache=True
    )
    press_run(page)
    first = json.loads(page.inner_text("#answer pre"))
    assert meta(page, "cache") == "miss"
    press_run(page)
    assert meta(page, "cache") == "hit"
    assert json.loads(page.inner_text("#answer pre")) == first


@pytest_browser
def test_an_error_shows_its_kind_message_line_and_traceback(playground):
    page = playground.page
    code = (
        "def helper(n):\n"
        "    return 10 / n\n\n\n"
        "def run(n=0):\n"
        "    print('about to divide')\n"
        "    return helper(n)\n"
    )
    fill(page, code, {"n": 0})
    press_run(page)
    assert meta(page, "status").startswith("500")
    assert page.inner_text(".error-kind") == "adaptor_error"
    assert page.inner_text(".error-type") == "ZeroDivisionError"
    assert "division by zero" in page.inner_text(".error-message")
    assert page.inner_text(".error-line") == "Line 2 of the adaptor"
    traceback = page.inner_text(".traceback")
    assert traceback.startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in traceback
    assert "about to divide" in page.inner_text("#answer")
    # The line is marked in the editor too.
    marked = page.locator(
        ".code-editor .marked-line .CodeMirror-line"
    ).all_inner_texts()
    assert [text.strip() for text in marked] == ["return 10 / n"]


@pytest_browser
def test_a_syntax_error_shows_its_line_and_column(playground):
    page = playground.page
    fill(page, "def run():\n    return (1 +\n\n\nx = 1\n")
    press_run(page)
    assert page.inner_text(".error-kind") == "syntax_error"
    assert re.fullmatch(
        r"Line \d+, column \d+ of the adaptor", page.inner_text(".error-line")
    )


@pytest_browser
def test_kwargs_that_are_not_a_json_object_are_not_sent(playground, owt_server):
    page = playground.page
    fill(page, "def run(): return 1")
    page.evaluate(
        "document.querySelector('.kwargs-editor .CodeMirror').CodeMirror.setValue('{nope')"
    )
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    press_run(page)
    assert "kwargs is not valid JSON" in page.inner_text("#answer")
    assert not [url for url in requests_seen if url.endswith("/play")]


STREAM_CODE = """\
import pathlib
import time


def run(closed, n=50):
    def events():
        try:
            for i in range(1, n + 1):
                yield f"data: event {i}\\n\\n"
                time.sleep(0.2)
        finally:
            pathlib.Path(closed).write_text("closed")

    return events(), {"Content-Type": "text/event-stream"}
"""


@pytest_browser
def test_a_stream_appears_event_by_event_and_stop_cuts_it(playground, tmp_path):
    page = playground.page
    closed = tmp_path / "closed"
    fill(page, STREAM_CODE, {"closed": str(closed), "n": 50})
    page.click("#run")
    page.wait_for_function("() => document.querySelectorAll('.events li').length >= 3")
    assert not page.is_disabled("#stop")
    page.click("#stop")
    page.wait_for_function("() => Number(document.body.dataset.runs || 0) === 1")
    shown = page.locator(".events li").count()
    assert 3 <= shown < 50
    assert page.locator(".events li").first.inner_text() == "event 1"
    assert page.get_attribute(".stream-state", "data-state") == "stopped"
    assert "Stopped by you" in page.inner_text(".stream-state")
    # The request ended: owt saw the client go and closed the generator.
    deadline = time.monotonic() + 10
    while not closed.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert closed.read_text() == "closed"
    time.sleep(0.5)
    assert page.locator(".events li").count() == shown  # nothing more arrived
    assert page.is_disabled("#stop") and not page.is_disabled("#run")


@pytest_browser
def test_a_whole_stream_ends_with_its_count(playground):
    page = playground.page
    page.select_option("#example", "stream")
    page.wait_for_function("() => document.querySelector('#path').value === '/ticks'")
    page.evaluate(
        "document.querySelector('.kwargs-editor .CodeMirror').CodeMirror"
        '.setValue(\'{"n": 3, "delay": 0.05}\')'
    )
    press_run(page)
    events = page.locator(".events li").all_inner_texts()
    assert events == [
        '{"tick": 1, "of": 3}',
        '{"tick": 2, "of": 3}',
        '{"tick": 3, "of": 3}',
        "[DONE]",
    ]
    assert page.get_attribute(".stream-state", "data-state") == "ended"


@pytest_browser
def test_an_image_answer_is_shown_as_an_image(playground):
    page = playground.page
    page.select_option("#example", "image")
    page.wait_for_function(
        "() => document.querySelector('#path').value === '/gradient.png'"
    )
    press_run(page)
    assert meta(page, "content-type") == "image/png"
    page.wait_for_function("() => document.querySelector('#answer img').complete")
    size = page.evaluate(
        "(() => { const i = document.querySelector('#answer img');"
        " return [i.naturalWidth, i.naturalHeight]; })()"
    )
    assert size == [320, 200]


@pytest_browser
def test_speech_is_shown_with_an_audio_player(playground):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install -y espeak-ng")
    page = playground.page
    page.select_option("#example", "speak")
    page.wait_for_function(
        "() => document.querySelector('#path').value === '/speak.wav'"
    )
    press_run(page)
    assert meta(page, "content-type") == "audio/wav"
    page.wait_for_function(
        "() => document.querySelector('#answer audio').readyState >= 1"
    )
    assert page.evaluate("document.querySelector('#answer audio').duration") > 0.5
    assert page.get_attribute("#answer audio", "controls") is not None


HTML_CODE = """\
def run():
    return (
        "<style>h1 { color: rgb(200, 0, 0); }</style><h1>Hello</h1>"
        "<script>document.title = 'script ran'</script>"
    )
"""


@pytest_browser
def test_html_is_shown_styled_in_a_frame_where_no_script_runs(playground):
    page = playground.page
    fill(page, HTML_CODE, path="/page")
    press_run(page)
    heading = page.frame_locator("#answer iframe").frame_locator("iframe").locator("h1")
    color, title, framed = heading.evaluate(
        "(h) => [getComputedStyle(h).color, document.title, location.href]"
    )
    assert color == "rgb(200, 0, 0)"
    assert title != "script ran"
    assert framed == "about:srcdoc"
    assert page.get_attribute("#answer iframe", "sandbox") == "allow-scripts"
    page.click("#answer .toolbar button")
    assert "<h1>Hello</h1>" in page.inner_text("#answer .html-source")


# -- copy as ----------------------------------------------------------------

#: Text with what shells, Python and JavaScript quote differently.
TRICKY = 'O\'Brien "quoted" $HOME `date` \\n ünï 🌍'

COPY_CODE = """\
# it's "quoted", with a backslash \\ and $PATH
def run(request, name, n=1):
    text = f"{request.method} {request.path}: {name} x{n}"
    return text, {"Content-Type": "text/plain; charset=utf-8"}
"""


def run_copied(fmt: str, text: str, tmp_path: Path, env: dict[str, str]) -> str:
    """Run a copied command or snippet as its reader would; its stdout."""
    if fmt in ("curl", "owt"):
        argv = ["bash", "-eo", "pipefail", "-c", text]
    elif fmt == "python":
        script = tmp_path / "call.py"
        script.write_text(text, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        node = shutil.which("node")
        assert node, "the JavaScript snippet needs Node.js 20 or newer"
        shutil.copy(REPO / "clients" / "js" / "owt.js", tmp_path / "owt.js")
        script = tmp_path / "call.mjs"
        script.write_text(text, encoding="utf-8")
        argv = [node, str(script)]
    result = subprocess.run(
        argv,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (text, result.stdout, result.stderr)
    return result.stdout


def copied_env(**extra: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    for name in ("OWT_URL", "OWT_CALL_AUTH"):
        env.pop(name, None)
    return {**env, **extra}


def copy_as(page: t.Any, fmt: str) -> str:
    page.click(f'[role="tab"][data-format="{fmt}"]')
    assert page.get_attribute(f'[data-format="{fmt}"]', "aria-selected") == "true"
    return page.inner_text("#copy-text")


@pytest_browser
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("fmt", ["curl", "owt", "python", "javascript"])
def test_copy_as_runs_as_shown_and_gives_the_same_answer(
    playground, tmp_path, fmt, method
):
    page = playground.page
    fill(page, COPY_CODE, {"name": TRICKY, "n": 2}, path="/copy me", method=method)
    press_run(page)
    shown = page.inner_text("#answer pre")
    assert shown == f"{method} /copy me: {TRICKY} x2"
    text = copy_as(page, fmt)
    if fmt == "curl":
        assert text.startswith("curl ") and playground_url(page) + "/copy" in text
    out = run_copied(fmt, text, tmp_path, copied_env())
    assert out.rstrip("\n") == shown


def playground_url(page: t.Any) -> str:
    return str(page.evaluate("location.origin"))


@pytest_browser
@pytest.mark.parametrize("fmt", ["curl", "owt", "python", "javascript"])
def test_copy_as_keeps_a_stream_a_stream_and_bytes_bytes(playground, tmp_path, fmt):
    page = playground.page
    page.select_option("#example", "stream")
    page.wait_for_function("() => document.querySelector('#path').value === '/ticks'")
    page.evaluate(
        "document.querySelector('.kwargs-editor .CodeMirror').CodeMirror"
        '.setValue(\'{"n": 2, "delay": 0.01}\')'
    )
    press_run(page)
    out = run_copied(fmt, copy_as(page, fmt), tmp_path, copied_env())
    assert '{"tick": 1, "of": 2}' in out and '{"tick": 2, "of": 2}' in out

    page.select_option("#example", "image")
    page.wait_for_function(
        "() => document.querySelector('#path').value === '/gradient.png'"
    )
    press_run(page)
    run_copied(fmt, copy_as(page, fmt), tmp_path, copied_env())
    png = (tmp_path / "answer.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == example_image()


def example_image() -> bytes:
    """What the image example answers with its default arguments."""
    module = runpy.run_path(str(PLAYGROUND / "examples" / "image.py"))
    png, headers = module["run"](320, 200)
    assert headers == {"Content-Type": "image/png"}
    return t.cast(bytes, png)


# -- files -------------------------------------------------------------------

SUNRISE = REPO / "example" / "image" / "sunrise.png"


def load_example(page: t.Any, name: str, path: str) -> None:
    page.select_option("#example", name)
    page.wait_for_function(
        "(path) => document.querySelector('#path').value === path", arg=path
    )


def set_kwargs(page: t.Any, kwargs: t.Any) -> None:
    page.evaluate(
        "(text) => document.querySelector('.kwargs-editor .CodeMirror')"
        ".CodeMirror.setValue(text)",
        json.dumps(kwargs),
    )


def file_row(page: t.Any, name: str) -> t.Any:
    """The Files row whose argument name is ``name``."""
    rows = page.locator("#file-rows .file-row")
    for i in range(rows.count()):
        if rows.nth(i).locator(".file-name").input_value() == name:
            return rows.nth(i)
    raise AssertionError(f"no file row named {name!r}")


def add_file_row(page: t.Any, name: str) -> t.Any:
    page.click("#add-file")
    row = page.locator("#file-rows .file-row").last
    row.locator(".file-name").fill(name)
    return row


def picked(row: t.Any) -> int:
    """How many files the row's picker holds."""
    return int(
        row.locator("input[type=file]").evaluate("(input) => input.files.length")
    )


def answer_of(page: t.Any, path: str) -> t.Any:
    """Press Run and return the response to ``path`` (its headers: Chromium
    doesn't keep the body of a fetch the page read, see :func:`downloaded`)."""
    with page.expect_response(
        lambda r: urllib.parse.urlsplit(r.url).path == path
    ) as answered:
        press_run(page)
    return answered.value


def downloaded(page: t.Any, tmp_path: Path) -> bytes:
    """The bytes the page got, through the answer's Download link."""
    with page.expect_download() as download:
        page.click("#answer .toolbar a[download]")
    saved = tmp_path / "downloaded"
    download.value.save_as(saved)
    return saved.read_bytes()


def png_image(data: bytes) -> t.Any:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_thumbnail_example_is_example_image_thumbnail():
    from werkzeug.datastructures import FileStorage

    listed = {
        example["name"]: example
        for example in json.loads(
            (PLAYGROUND / "examples" / "examples.json").read_text()
        )
    }
    assert listed["thumbnail"]["file"] == "thumbnail.py"
    assert listed["thumbnail"]["files"] == ["image"]
    assert listed["thumbnail"]["method"] == "POST"
    assert "image" in listed  # the standard-library PNG stays
    made = []
    for path in (
        PLAYGROUND / "examples" / "thumbnail.py",
        REPO / "example" / "image" / "thumbnail.py",
    ):
        run = runpy.run_path(str(path))["run"]
        with SUNRISE.open("rb") as stream:
            picture = run(
                FileStorage(stream, "sunrise.png", content_type="image/png"),
                size=64,
                grey=True,
            )
        made.append((picture.size, picture.mode, picture.tobytes()))
    assert made[0] == made[1]
    assert made[0][:2] == ((64, 40), "L")


@pytest_browser
def test_a_picked_picture_runs_the_thumbnail_example(playground, tmp_path):
    page = playground.page
    assert page.locator("#file-rows .file-row").count() == 0  # echo: no files
    load_example(page, "thumbnail", "/thumbnail")
    assert page.locator("#file-rows .file-row").count() == 1
    row = file_row(page, "image")
    assert picked(row) == 0  # the row is there, the user picks the file
    row.locator("input[type=file]").set_input_files(SUNRISE)
    set_kwargs(page, {"size": 64, "grey": True})
    answer = answer_of(page, "/thumbnail")
    request = answer.request
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert meta(page, "status") == "200 OK"
    assert meta(page, "content-type") == "image/png"
    page.wait_for_function("() => document.querySelector('#answer img').complete")
    size = page.evaluate(
        "(() => { const i = document.querySelector('#answer img');"
        " return [i.naturalWidth, i.naturalHeight]; })()"
    )
    assert size == [64, 40]
    shown = png_image(downloaded(page, tmp_path))
    assert (shown.size, shown.mode) == ((64, 40), "L")
    assert page.evaluate("window.__violations") == []
    assert playground.errors == []


@pytest_browser
@pytest.mark.parametrize("fmt", ["curl", "owt", "python", "javascript"])
def test_copy_as_with_a_file_gives_the_same_picture(playground, tmp_path, fmt):
    page = playground.page
    # A name with what shells, curl -F and string literals each quote.
    picture = tmp_path / "my sunrise's, 1.png"
    shutil.copy(SUNRISE, picture)
    load_example(page, "thumbnail", "/thumbnail")
    file_row(page, "image").locator("input[type=file]").set_input_files(picture)
    set_kwargs(page, {"size": 64, "grey": True})
    answer_of(page, "/thumbnail")
    shown = downloaded(page, tmp_path)
    text = copy_as(page, fmt)
    assert page.get_attribute("#copy-text", "data-valid") == "true"
    note = page.inner_text("#copy-note")
    assert json.dumps(picture.name) in note and "current directory" in note
    if fmt == "curl":
        assert '--form-string \'kwargs={"size":64,"grey":true}\'' in text
        assert "-F 'image=@\"my sunrise'\\''s, 1.png\";type=image/png'" in text
        assert "-o answer.png" in text
    elif fmt == "owt":
        assert "'image=@my sunrise'\\''s, 1.png'" in text
    elif fmt == "python":
        assert 'image=open("my sunrise\'s, 1.png", "rb")' in text
    else:
        assert "new File([await readFile(" in text
    run_copied(fmt, text, tmp_path, copied_env())
    png = (tmp_path / "answer.png").read_bytes()
    assert png == shown
    assert png_image(png).size == (64, 40)


FILES_CODE = """\
def run(notes, pages, n):
    listed = ", ".join(f"{page.filename} {page.content_type}" for page in pages)
    return f"{notes.filename} {notes.content_type} {notes.read()!r} | {listed} | {n!r}"
"""

#: What the page picks for FILES_CODE, by argument: (name, type, bytes).
FILES = {
    "notes": [("notes.txt", "text/plain", b"one\ntwo\n")],
    "pages": [("a.json", "application/json", b"{}"), ("b.csv", "text/csv", b"x,y\n")],
}


@pytest_browser
@pytest.mark.parametrize("fmt", ["curl", "owt", "python", "javascript"])
def test_files_reach_the_adaptor_with_their_names_and_types(playground, tmp_path, fmt):
    page = playground.page
    fill(page, FILES_CODE, {"n": 2}, path="/files")
    for name, files in FILES.items():
        row = add_file_row(page, name)
        row.locator("input[type=file]").set_input_files(
            [
                {"name": file, "mimeType": kind, "buffer": data}
                for file, kind, data in files
            ]
        )
        for file, _, data in files:
            (tmp_path / file).write_bytes(data)
    answer = answer_of(page, "/files")
    assert answer.request.headers["content-type"].startswith("multipart/form-data")
    shown = page.inner_text("#answer pre")
    assert shown == (
        "notes.txt text/plain b'one\\ntwo\\n' | "
        "a.json application/json, b.csv text/csv | 2"
    )
    out = run_copied(fmt, copy_as(page, fmt), tmp_path, copied_env())
    assert out.rstrip("\n") == shown


@pytest_browser
def test_files_are_refused_in_a_get_and_where_run_could_not_take_them(playground):
    page = playground.page
    load_example(page, "thumbnail", "/thumbnail")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/thumbnail" in r.url else None)

    def refused(expected: str) -> None:
        press_run(page)
        assert expected in page.inner_text("#answer .error-message")
        copy_as(page, "curl")
        assert page.get_attribute("#copy-text", "data-valid") == "false"
        assert expected in page.inner_text("#copy-text")

    refused("Choose a file for image, or remove its row.")
    row = file_row(page, "image")
    row.locator("input[type=file]").set_input_files(SUNRISE)
    page.select_option("#method", "GET")
    refused("Files travel only in a POST (multipart/form-data), never in a GET URL")
    page.select_option("#method", "POST")
    set_kwargs(page, {"image": "a text"})
    refused("image is both in kwargs and a file: send it once.")
    set_kwargs(page, {})
    row.locator(".file-name").fill("kwargs")
    refused("kwargs is one of owt's own fields")
    row.locator(".file-name").fill("")
    refused("Give sunrise.png an argument name")
    assert sent == []
    # Removing the row leaves a request without files, sent as JSON.
    row.locator(".file-remove").click()
    answer = answer_of(page, "/thumbnail")
    assert answer.request.headers["content-type"] == "application/json"
    assert page.inner_text(".error-kind") == "bad_arguments"


@pytest_browser
def test_files_stay_out_of_share_links_and_the_history(context, owt_server):
    author = open_playground(context, owt_server.url + "/_owt/")
    page = author.page
    load_example(page, "thumbnail", "/thumbnail")
    file_row(page, "image").locator("input[type=file]").set_input_files(SUNRISE)
    press_run(page)
    assert meta(page, "status") == "200 OK"

    # The history says which files the run had, by name only.
    stored = page.evaluate("localStorage.getItem('owt-playground-history')")
    assert json.loads(stored)[0]["files"] == [
        {"name": "image", "files": ["sunrise.png"]}
    ]
    assert len(stored) < len(SUNRISE.read_bytes())  # no room for the picture
    assert "image=sunrise.png" in page.inner_text("#history li")

    # A share link names the argument, and carries no file.
    page.click("#share")
    link = page.input_value("#share-url")
    fragment = urllib.parse.parse_qs(urllib.parse.urlsplit(link).fragment)
    assert fragment["file"] == ["image"]
    assert set(fragment) == {"code", "kwargs", "path", "method", "file"}
    assert "never go into a link" in page.inner_text("#share-note")
    reader = open_playground(context, link)
    row = file_row(reader.page, "image")
    assert picked(row) == 0
    assert "pick your own" in reader.page.inner_text("#notice")
    assert runs(reader.page) == 0

    # Back from the history: the row, a reminder of the file, no file.
    load_example(page, "echo", "/echo")
    assert page.locator("#file-rows .file-row").count() == 0
    before = runs(page)
    page.locator("#history li button").first.click()
    row = file_row(page, "image")
    assert picked(row) == 0
    assert row.locator(".file-was").inner_text() == "was sunrise.png: pick it again"
    assert runs(page) == before
    # ...and the draft keeps the row across a reload.
    page.wait_for_timeout(400)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert picked(file_row(page, "image")) == 0


# -- history and share links ------------------------------------------------


@pytest_browser
def test_history_restores_a_run_without_running_it(playground, tmp_path):
    page = playground.page
    marker = tmp_path / "ran"
    fill(page, MARKER_CODE, {"path": str(marker)}, path="/first")
    press_run(page)
    assert marker.exists()
    marker.unlink()
    fill(page, "def run():\n    return 'second'\n", path="/second")
    press_run(page)
    items = page.locator("#history li")
    assert items.count() == 2
    assert "/second" in items.nth(0).inner_text()
    items.nth(1).locator("button").click()
    assert page.input_value("#path") == "/first"
    assert editor(page, "code") == MARKER_CODE
    time.sleep(0.5)
    assert not marker.exists()
    assert runs(page) == 2
    # Kept in localStorage: a fresh load of the page lists them again.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#history li").count() == 2
    assert not marker.exists()


@pytest_browser
def test_a_share_link_fills_the_editors_and_runs_only_on_run(
    context, owt_server, tmp_path
):
    marker = tmp_path / "ran"
    author = open_playground(context, owt_server.url + "/_owt/")
    fill(author.page, MARKER_CODE, {"path": str(marker)}, path="/shared", method="GET")
    author.page.click("#share")
    link = author.page.input_value("#share-url")
    assert link.startswith(owt_server.url + "/_owt/#code=")
    assert "?" not in link  # nothing in the query string: it stays in the browser

    reader = open_playground(context, link)
    page = reader.page
    assert editor(page, "code") == MARKER_CODE
    assert json.loads(editor(page, "kwargs")) == {"path": str(marker)}
    assert page.input_value("#path") == "/shared"
    assert page.input_value("#method") == "GET"
    assert "came from a link" in page.inner_text("#notice")
    time.sleep(1)
    assert not marker.exists()
    assert runs(page) == 0
    press_run(page)  # the reader's own decision
    assert marker.read_text() == "ran"


@pytest_browser
def test_a_new_fragment_is_offered_not_loaded(playground, tmp_path):
    page = playground.page
    marker = tmp_path / "ran"
    before = editor(page, "code")
    fragment = share_fragment(MARKER_CODE, {"path": str(marker)})
    page.evaluate("(hash) => { location.hash = hash; }", fragment)
    page.wait_for_selector("#notice-load:visible")
    assert editor(page, "code") == before
    page.click("#notice-load")
    assert editor(page, "code") == MARKER_CODE
    time.sleep(1)
    assert not marker.exists()
    assert runs(page) == 0


# -- other sites --------------------------------------------------------------


class ForeignSite:
    """Another origin: a tiny web server on another loopback port, serving
    one page, for as long as the ``with`` block lasts."""

    def __init__(self, html: str) -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        page = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: t.Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ForeignSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def playground_link(server: OwtProcess, marker: Path) -> str:
    return server.url + "/_owt/" + share_fragment(MARKER_CODE, {"path": str(marker)})


@pytest_browser
def test_another_site_cannot_frame_the_playground(context, owt_server, tmp_path):
    marker = tmp_path / "ran"
    link = playground_link(owt_server, marker)
    html = f'<!doctype html><iframe id="owt" src="{link}"></iframe>'
    with ForeignSite(html) as site:
        page = context.new_page()
        statuses: list[int] = []
        page.on(
            "response",
            lambda r: statuses.append(r.status) if "/_owt/" in r.url else None,
        )
        page.goto(site.origin + "/")
        page.wait_for_load_state("load")
        time.sleep(1)
        frames = [f for f in page.frames if f != page.main_frame]
        assert len(frames) == 1
        framed = frames[0]
        # owt refuses the framed request (a cross-site subresource), and the
        # page would refuse to be framed anyway: nothing of it is shown.
        assert statuses == [403]
        assert framed.locator(".CodeMirror").count() == 0
        assert "owt playground" not in framed.content()
    assert not marker.exists()


@pytest_browser
def test_framing_is_refused_even_from_owts_own_origin(context, owt_server, tmp_path):
    # A page an adaptor returns is same-origin with owt, so the origin check
    # lets its frame through: frame-ancestors and X-Frame-Options stop it.
    marker = tmp_path / "ran"
    link = playground_link(owt_server, marker)
    framing = f"def run():\n    return '<iframe src=\"{link}\"></iframe>'\n"
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    query = urllib.parse.urlencode({"code": framing})
    page.goto(f"{owt_server.url}/framing?{query}")
    page.wait_for_load_state("load")
    time.sleep(1)
    framed = [f for f in page.frames if f != page.main_frame]
    assert len(framed) == 1
    assert framed[0].locator(".CodeMirror").count() == 0
    assert any(
        "frame-ancestors" in text or "X-Frame-Options" in text for text in console
    ), console
    assert not marker.exists()


OPENER = """<!doctype html><meta charset="utf-8">
<button id="open">open</button><a id="go" href="__LINK__">go</a>
<script>
document.getElementById('open').addEventListener('click', () => {
  window.opened = window.open('__LINK__', '_blank');
});
</script>"""


@pytest_browser
@pytest.mark.parametrize("how", ["window.open", "link"])
def test_another_site_may_open_the_playground_but_runs_nothing(
    context, owt_server, tmp_path, how
):
    marker = tmp_path / "ran"
    link = playground_link(owt_server, marker)
    with ForeignSite(OPENER.replace("__LINK__", link)) as site:
        page = context.new_page()
        page.goto(site.origin + "/")
        if how == "window.open":
            with context.expect_page() as popup:
                page.click("#open")
            opened = popup.value
        else:
            page.click("#go")
            opened = page
        opened.wait_for_selector("body[data-ready=true]")
        assert opened.url.startswith(owt_server.url + "/_owt/")
        assert editor(opened, "code") == MARKER_CODE
        assert "came from a link" in opened.inner_text("#notice")
        if how == "window.open":
            # The opener has no handle on the playground (COOP).
            assert page.evaluate("window.opened === null || window.opened.closed")
        time.sleep(1.5)
        assert runs(opened) == 0
    assert not marker.exists()


# -- --auth -----------------------------------------------------------------


@pytest_browser
def test_with_auth_the_page_asks_for_credentials_and_works_with_them(browser, tmp_path):
    password = "s3cret pass"
    with running_owt(
        "--auth", "me:" + hash_password(password), log_dir=tmp_path
    ) as server:
        bare = requests.get(server.url + "/_owt/", timeout=10)
        assert bare.status_code == 401
        assert bare.headers["WWW-Authenticate"].startswith("Basic ")
        asset = requests.get(server.url + "/_owt/playground/playground.js", timeout=10)
        assert asset.status_code == 401

        # A browser without credentials is asked for them (Playwright's
        # Chromium has no one to ask, and gives up).
        anonymous = browser.new_context()
        try:
            seen: list[tuple[int, str]] = []
            page = anonymous.new_page()
            page.on(
                "response",
                lambda r: seen.append(
                    (r.status, r.headers.get("www-authenticate", ""))
                ),
            )
            with contextlib.suppress(PlaywrightError):
                page.goto(server.url + "/_owt/")
            assert seen and seen[0][0] == 401
            assert seen[0][1].startswith("Basic ")
            assert page.locator(".CodeMirror").count() == 0
        finally:
            anonymous.close()

        context = browser.new_context(
            http_credentials={"username": "me", "password": password}
        )
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(WATCH_VIOLATIONS)
        try:
            watched = open_playground(context, server.url + "/_owt/")
            page = watched.page
            fill(page, COPY_CODE, {"name": "me"}, path="/auth")
            press_run(page)
            assert page.inner_text("#answer pre") == "POST /auth: me x1"
            command = copy_as(page, "curl")
            assert '-u "$OWT_CALL_AUTH"' in command
            assert "OWT_CALL_AUTH" in page.inner_text("#copy-note")
            env = copied_env(OWT_CALL_AUTH=f"me:{password}")
            assert run_copied("curl", command, tmp_path, env) == "POST /auth: me x1"
            owt_call = copy_as(page, "owt")
            assert run_copied("owt", owt_call, tmp_path, env) == "POST /auth: me x1"
            assert page.evaluate("window.__violations") == []
            assert watched.errors == []
        finally:
            context.close()
