"""The TTS web app in a real browser: Debian's Chromium driven by Playwright.

The page is the one bark_construct_curl.sh (and bark_meta_curl.sh) makes owt
serve. The test types two sentences, clicks Speak, and watches the
EventSource deliver two audio chunks and the player get a playable source.
Playwright's own browser download can't work here: Chromium comes from
Debian (``apt-get install -y chromium``), Playwright from PyPI. On failure a
screenshot is saved in test-artifacts/.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.browser import CHROMIUM
from tests.browser import chromium_args
from tests.examples.test_tts_examples import printed_url
from tests.owtserver import REPO
from tests.owtserver import running_owt

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = chromium_args("--autoplay-policy=no-user-gesture-required")
ARTIFACTS = REPO / "test-artifacts"

# Counts what arrives over every EventSource the page opens, before the
# page's own code sees it.
WATCH_EVENT_SOURCES = """
window.__owtEvents = [];
const NativeEventSource = window.EventSource;
window.EventSource = function (url, options) {
  const source = new NativeEventSource(url, options);
  source.addEventListener('message', (event) => {
    window.__owtEvents.push(event.data.startsWith('{')
      ? Object.keys(JSON.parse(event.data)).sort().join(',')
      : event.data);
  });
  return source;
};
window.EventSource.prototype = NativeEventSource.prototype;
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium"), "apt-get install -y chromium"
    profile = tempfile.mkdtemp(prefix="owt-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, request):
    """A fresh tab; its console and a screenshot are saved if the test fails."""
    page = browser.new_page()
    page.add_init_script(WATCH_EVENT_SOURCES)
    messages = []
    errors = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True
        )
        (ARTIFACTS / f"{request.node.name}.console.txt").write_text(
            "\n".join(messages + errors)
        )
    page.close()
    assert errors == [], "the page raised JavaScript errors"


@pytest.mark.parametrize(
    "script",
    ["./example/bark/bark_construct_curl.sh", "./example/bark/bark_meta_curl.sh"],
    ids=["construct", "meta"],
)
def test_typing_two_sentences_and_speak_streams_two_chunks(page, base_url, script):
    url = printed_url(script, base_url)
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    assert page.input_value("#adaptor") == "espeak"  # no bark on this server
    assert "def espeak_voice" in page.input_value("#code")

    page.fill("#text", "The first sentence is short. The second one is a question?")
    page.click("#speak")
    page.wait_for_selector("body[data-state=done]", timeout=60_000)

    events = page.evaluate("window.__owtEvents")
    assert events == [
        "cumulative,index,sentence,text",
        "cumulative,index,sentence,text",
        "[DONE]",
    ]
    assert page.inner_text("#status") == "Done: 2 sentence(s)."
    assert page.locator("#chunks li").all_inner_texts() == [
        "The first sentence is short.",
        "The second one is a question?",
    ]
    src = page.get_attribute("#player", "src") or page.eval_on_selector(
        "#player", "el => el.src"
    )
    assert src.startswith("blob:")
    # The browser decodes the cumulative WAV: both sentences' worth of audio.
    page.wait_for_function(
        "document.getElementById('player').readyState >= 1", timeout=10_000
    )
    duration = page.eval_on_selector("#player", "el => el.duration")
    assert duration > 2.0


def test_a_bad_speaker_shows_owts_message(page, base_url):
    page.goto(printed_url("./example/bark/bark_construct_curl.sh", base_url))
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    page.fill("#speaker", "no-such-voice")
    page.click("#speak")
    page.wait_for_selector("body[data-state=error]", timeout=30_000)
    assert "'no-such-voice' is not an espeak-ng voice" in page.inner_text("#status")
    assert page.evaluate("window.__owtEvents") == []


@pytest.fixture(scope="module")
def standin_bark_server():
    # The STAND-IN bark package of tests/examples/standin_bark (see
    # test_bark_adaptor.py): this server can import "bark".
    env = {"PYTHONPATH": str(Path(__file__).parent / "standin_bark")}
    with running_owt(env=env) as server:
        yield server


def test_the_app_picks_bark_where_it_imports_and_espeak_stays_selectable(
    page, standin_bark_server
):
    base = f"http://localhost:{standin_bark_server.port}"
    page.goto(printed_url("./example/bark/bark_construct_curl.sh", base))
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    assert page.input_value("#adaptor") == "bark"
    assert "def load_bark" in page.input_value("#code")

    page.fill("#text", "Tone one. Tone two!")
    page.click("#speak")
    page.wait_for_selector("body[data-state=done]", timeout=60_000)
    assert page.locator("#chunks li").count() == 2
    page.wait_for_function(
        "document.getElementById('player').readyState >= 1", timeout=10_000
    )
    # The stand-in's tone: 10 ms per character of "Tone one." and "Tone two!".
    duration = page.eval_on_selector("#player", "el => el.duration")
    assert duration == pytest.approx(0.18, abs=0.01)

    page.select_option("#adaptor", "espeak")
    assert "def espeak_voice" in page.input_value("#code")
    page.click("#speak")
    page.wait_for_selector("body[data-state=done]", timeout=60_000)
    assert page.locator("#chunks li").count() == 2
    assert len(page.evaluate("window.__owtEvents")) == 6  # 2 + [DONE], twice
