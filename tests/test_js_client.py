"""clients/js/owt.js: its node tests against live servers, npm install, and a browser.

``node --test clients/js/test/`` runs here with the URLs of a plain server,
of one started with ``--auth`` and of one keeping registered adaptors in a
temporary directory, so the README's single pytest command runs the
JavaScript tests too. The browser tests drive headless Chromium to check
the EventSource path, which Node does not have, and files from a page.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from owt.client import build_fields
from owt.client import build_url
from tests.browser import CHROMIUM
from tests.browser import chromium_args
from tests.owtserver import REPO
from tests.owtserver import running_owt

JS = REPO / "clients" / "js"
NODE = shutil.which("node")
UNICODE = "こんにちは 🌍"
AUTH_PASSWORD = "pässwörd 🔑"


def node_major() -> int:
    assert NODE, "node is not installed"
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True)
    return int(out.stdout.strip().lstrip("v").split(".")[0])


def test_node_is_20_or_newer():
    assert node_major() >= 20


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    digest = hashlib.sha256(AUTH_PASSWORD.encode()).hexdigest()
    adaptors = tmp_path_factory.mktemp("auth-adaptors")
    with running_owt("--auth", f"js:{digest}", "--adaptors-dir", str(adaptors)) as s:
        yield s


@pytest.fixture(scope="module")
def adaptors_server(tmp_path_factory):
    """A server whose registered adaptors live in a temporary directory."""
    adaptors = tmp_path_factory.mktemp("adaptors")
    with running_owt("--adaptors-dir", str(adaptors)) as server:
        yield server


def test_node_tests_pass_against_live_servers(owt_server, auth_server, adaptors_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWT_")}
    env.update(
        OWT_TEST_URL=owt_server.url,
        OWT_TEST_AUTH_URL=auth_server.url,
        OWT_TEST_AUTH=f"js:{AUTH_PASSWORD}",
        OWT_TEST_ADAPTORS_URL=adaptors_server.url,
    )
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", "clients/js/test/"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    counts = dict(re.findall(r"^# (\w+) (\d+)$", done.stdout, re.MULTILINE))
    assert int(counts["pass"]) >= 39, report
    for kind in ("fail", "cancelled", "skipped", "todo"):
        assert counts[kind] == "0", report
    # The tests used the servers given, not servers of their own.
    assert "status=401" in auth_server.wait_for_output("status=401")
    assert "PUT /_owt/adaptors/" in adaptors_server.wait_for_output(
        "PUT /_owt/adaptors/"
    )


def test_installs_with_npm_from_the_repo_path(tmp_path):
    npm = shutil.which("npm")
    assert npm, "npm is not installed"
    done = subprocess.run(
        [npm, "install", "--offline", "--no-audit", "--no-fund", str(JS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    script = (
        "import { owtify } from 'owt-client';"
        "console.log(owtify('http://127.0.0.1:9876/x', 'def run(): pass'));"
    )
    used = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert used.returncode == 0, used.stderr
    assert used.stdout.startswith("http://127.0.0.1:9876/x?code_b64=ZGVmIHJ1bigp")


# --- in a real browser ----------------------------------------------------------

BLANK_PAGE = "def run():\n    return '<!doctype html><title>owt</title><p>owt</p>'\n"

SERVE_JS = f"""
from pathlib import Path

def run():
    body = Path({str(JS / "owt.js")!r}).read_text(encoding="utf-8")
    return body, {{"Content-Type": "text/javascript; charset=utf-8"}}
"""

# Records how each run was requested, then streams two events; with
# fail=True it raises after the first. retry: 200 would make EventSource
# reconnect (and run this again) within 0.2 s if the client did not close it.
MARKED_STREAM = """
from flask import request

def run(text, marker, fail=False):
    with open(marker, "a", encoding="utf-8") as f:
        f.write(request.method + " " + request.headers.get("Accept", "") + "\\n")
    def events():
        yield "retry: 200\\n\\n"
        yield f"data: {text}\\n\\n"
        if fail:
            raise RuntimeError("broke in the browser")
        yield "data: two\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
"""

BROWSER_SCRIPT = """
async ({ moduleUrl, base, code, marker, text }) => {
  const owt = await import(moduleUrl);
  const out = { events: [] };
  await owt.stream(base + '/sse', code, { text, marker }, (e) => out.events.push(e.data));
  try {
    await owt.stream(base + '/sse', code, { text, marker, fail: true }, () => {});
    out.failure = null;
  } catch (error) {
    out.failure = { name: error.name, kind: error.kind, message: error.serverMessage };
  }
  out.called = await owt.call(base + '/x', 'def run(t):\\n    return {"t": t}\\n', { t: text });
  const url = owt.owtify(base + '/y', 'def run(t):\\n    return t\\n', { t: text });
  out.fetched = await (await fetch(url)).text();
  return out;
}
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args()
        )
        try:
            yield launched
        finally:
            launched.close()


def owt_url(server_url: str, path: str, code: str) -> str:
    return build_url(server_url + path, build_fields(code))


def run_in_page(browser, page_url: str, api_url: str, module_url: str, marker: Path):
    page = browser.new_page()
    try:
        page.goto(page_url)
        return page.evaluate(
            BROWSER_SCRIPT,
            {
                "moduleUrl": module_url,
                "base": api_url,
                "code": MARKED_STREAM,
                "marker": str(marker),
                "text": UNICODE,
            },
        )
    finally:
        page.close()


@pytest.mark.browser
def test_browser_streams_with_eventsource_once_and_calls_with_fetch(
    browser, owt_server, tmp_path
):
    marker = tmp_path / "runs.txt"
    result = run_in_page(
        browser,
        owt_url(owt_server.url, "/page", BLANK_PAGE),
        owt_server.url,
        owt_url(owt_server.url, "/owt.js", SERVE_JS),
        marker,
    )
    assert result["events"] == [UNICODE, "two"]
    assert result["failure"] == {
        "name": "OwtError",
        "kind": "adaptor_error",
        "message": "RuntimeError while streaming from the adaptor: broke in the browser",
    }
    assert result["called"] == {"t": UNICODE}
    assert result["fetched"] == UNICODE
    time.sleep(1.0)  # room for any reconnect (retry: 200) to show up
    runs = marker.read_text(encoding="utf-8").splitlines()
    assert runs == ["GET text/event-stream"] * 2  # EventSource, each run once


@pytest.mark.browser
def test_browser_page_on_another_origin_needs_allow_origin(
    browser, owt_server, tmp_path
):
    page_url = owt_url(owt_server.url, "/page", BLANK_PAGE)
    module_url = owt_url(owt_server.url, "/owt.js", SERVE_JS)
    with running_owt("--allow-origin", owt_server.url) as other:
        marker = tmp_path / "allowed.txt"
        result = run_in_page(browser, page_url, other.url, module_url, marker)
        assert result["events"] == [UNICODE, "two"]
        assert result["called"] == {"t": UNICODE}
    with running_owt() as closed:
        page = browser.new_page()
        try:
            page.goto(page_url)
            outcome = page.evaluate(
                """async ({ moduleUrl, base }) => {
                  const owt = await import(moduleUrl);
                  try {
                    await owt.call(base, 'def run():\\n    return 1\\n');
                    return 'ran';
                  } catch (error) {
                    return error.name;
                  }
                }""",
                {"moduleUrl": module_url, "base": closed.url},
            )
        finally:
            page.close()
        assert outcome == "TypeError"  # the browser blocks it: no CORS grant
        assert "status=403" in closed.wait_for_output("status=403")
    # The same request without a browser's Origin header is fine.
    direct = requests.post(
        owt_server.url,
        json=build_fields("def run():\n    return 1\n"),
        timeout=30,
    )
    assert direct.text == "1"


FILE_INFO = """
import hashlib

def run(image, note=None):
    data = image.read()
    return {
        "filename": image.filename,
        "content_type": image.content_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": note,
    }
"""

BROWSER_FILES_SCRIPT = """
async ({ moduleUrl, base, code }) => {
  const owt = await import(moduleUrl);
  const bytes = new Uint8Array(3000).map((_, i) => i % 256);
  const file = new File([bytes], 'picked.png', { type: 'image/png' });
  const out = { secure: window.isSecureContext, digest: await owt.codeSha256(code), sent: [] };
  const realFetch = window.fetch;
  window.fetch = (input, init) => {
    const form = init && init.body instanceof FormData ? init.body : null;
    out.sent.push(form ? [...form.keys()].sort().join(' ') : init.method);
    return realFetch(input, init);
  };
  out.first = await owt.call(base + '/f', code, { image: file, note: 'ü' });
  out.second = await owt.call(base + '/f', code, { image: new Blob(['abc']) });
  await owt.register(base, 'browser-files', code);
  out.byName = await owt.call(base, { adaptor: 'browser-files' }, { image: file });
  await owt.unregister(base, 'browser-files');
  return out;
}
"""


@pytest.mark.browser
def test_browser_sends_a_file_by_hash_and_by_name(browser, adaptors_server):
    base = adaptors_server.url
    page = browser.new_page()
    try:
        page.goto(owt_url(base, "/page", BLANK_PAGE))
        result = page.evaluate(
            BROWSER_FILES_SCRIPT,
            {
                "moduleUrl": owt_url(base, "/owt.js", SERVE_JS),
                "base": base,
                "code": FILE_INFO,
            },
        )
    finally:
        page.close()
    picked = hashlib.sha256(bytes(i % 256 for i in range(3000))).hexdigest()
    assert result["secure"] is True  # a loopback page: Web Crypto is there
    assert result["digest"] == hashlib.sha256(FILE_INFO.encode()).hexdigest()
    assert result["first"] == {
        "filename": "picked.png",
        "content_type": "image/png",
        "sha256": picked,
        "note": "ü",
    }
    assert result["second"] == {
        "filename": "image",
        "content_type": "application/octet-stream",
        "sha256": hashlib.sha256(b"abc").hexdigest(),
        "note": None,
    }
    assert result["byName"]["sha256"] == picked
    # The first file went with the code, the second with its hash alone:
    # each crossed the wire once.
    assert result["sent"] == [
        "code_b64 image kwargs_b64",
        "code_sha256 image",
        "PUT",
        "adaptor image",
        "DELETE",
    ]
