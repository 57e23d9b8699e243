"""example/bark with the espeak-ng adaptor: real speech, real WAV files.

Covers owt/lib/espeak.py through a live server (the SSE contract shared with
owt/lib/bark.py), bark.sh writing one WAV per sentence, and the URLs that
bark_construct_curl.sh and bark_meta_curl.sh print actually serving the app.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import requests

from tests.examples.conftest import run_bash
from tests.examples.wavcheck import b64_wav_duration
from tests.examples.wavcheck import speech_events
from tests.examples.wavcheck import wav_file_duration
from tests.owtserver import REPO

ESPEAK = (REPO / "owt" / "lib" / "espeak.py").read_text()
BARK_SCRIPTS = ("bark.sh", "bark_construct_curl.sh", "bark_meta_curl.sh")


def test_espeak_ng_is_installed():
    assert shutil.which("espeak-ng"), "apt-get install -y espeak-ng"


def speak(server, **kwargs):
    r = server.post(ESPEAK, kwargs, path="/tts", timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    return speech_events(r.text)


# -- owt/lib/espeak.py sent as code ---------------------------------------------


def test_espeak_streams_one_event_per_sentence_with_cumulative_audio(example_server):
    events = speak(example_server, text="Hello world! This is a test. Dr. Who?")
    assert [e["text"] for e in events] == [
        "Hello world!",
        "This is a test.",
        "Dr. Who?",
    ]
    sentence_lengths = [b64_wav_duration(e["sentence"]) for e in events]
    cumulative = [b64_wav_duration(e["cumulative"]) for e in events]
    assert all(length > 0.3 for length in sentence_lengths)
    for i in range(len(events)):
        assert cumulative[i] == pytest.approx(sum(sentence_lengths[: i + 1]), abs=1e-3)


def test_espeak_split_none_speaks_one_piece(example_server):
    events = speak(example_server, text="One. Two. Three.", split_type="none")
    assert [e["text"] for e in events] == ["One. Two. Three."]


def test_espeak_applies_the_sentence_template(example_server):
    events = speak(
        example_server, text="Good morning. Bye.", sentence_template="%s Over."
    )
    assert [e["text"] for e in events] == ["Good morning. Over.", "Bye. Over."]


def test_bark_speaker_names_pick_different_espeak_voices(example_server):
    text = "Bonjour tout le monde."
    english = speak(example_server, text=text, speaker="v2/en_speaker_6")[0]
    french = speak(example_server, text=text, speaker="v2/fr_speaker_1")[0]
    own_voice = speak(example_server, text=text, speaker="fr+f2")[0]
    assert len({english["sentence"], french["sentence"], own_voice["sentence"]}) == 3


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"text": "Hi.", "speaker": "no-such-voice"}, "unknown_speaker"),
        ({"text": "Hi.", "speaker": "v2/xx_speaker_1"}, "unknown_speaker"),
        ({"text": "Hi.", "split_type": "word"}, "bad_speech_request"),
        ({"text": "Hi.", "sentence_template": "no placeholder"}, "bad_speech_request"),
        ({"text": "   "}, "bad_speech_request"),
    ],
)
def test_espeak_rejects_bad_arguments_before_streaming(example_server, kwargs, kind):
    r = example_server.post(ESPEAK, kwargs, path="/tts")
    assert r.status_code == 400
    assert r.json()["error"] == kind


# -- bark.sh --------------------------------------------------------------------


@pytest.mark.parametrize("name", BARK_SCRIPTS)
def test_bark_scripts_are_executable_bash_scripts(name):
    path = REPO / "example" / "bark" / name
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env bash\n")


def test_bark_sh_writes_one_wav_file_per_sentence(base_url, tmp_path):
    outdir = tmp_path / "output_dir"
    done = run_bash(
        f'./example/bark/bark.sh {base_url}/file.wav "Hello world! This is a test." '
        f"{outdir}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "owt/lib/espeak.py" in done.stdout  # the server can't import bark
    files = sorted(outdir.glob("sentence*.wav"))
    assert [f.name for f in files] == ["sentence0.wav", "sentence1.wav"]
    lengths = [wav_file_duration(f) for f in files]
    assert all(length > 0.3 for length in lengths)
    assert wav_file_duration(outdir / "all.wav") == pytest.approx(
        sum(lengths), abs=1e-3
    )
    assert "Wrote 2 sentence file(s)" in done.stdout


def test_bark_sh_keeps_quotes_and_dollars_in_the_text(base_url, tmp_path):
    text = 'It\'s \\"quoted\\"; \\$HOME stays. Second one!'
    done = run_bash(f'./example/bark/bark.sh {base_url} "{text}" {tmp_path} espeak')
    assert done.returncode == 0, done.stderr
    assert f'Wrote {tmp_path}/sentence0.wav: It\'s "quoted"; $HOME stays.' in (
        done.stdout
    )
    assert len(list(tmp_path.glob("sentence*.wav"))) == 2


def test_bark_sh_reports_the_servers_error(base_url, tmp_path):
    done = run_bash(f'./example/bark/bark.sh {base_url} "   " {tmp_path} espeak')
    assert done.returncode == 1
    assert "bad_speech_request" in done.stderr
    assert not list(tmp_path.glob("*.wav"))


def test_bark_sh_refuses_an_unknown_adaptor(base_url, tmp_path):
    done = run_bash(f'./example/bark/bark.sh {base_url} "Hi." {tmp_path} nope')
    assert done.returncode == 2
    assert "espeak, bark or auto" in done.stderr


# -- the web app's URLs -------------------------------------------------------------


def printed_url(script: str, base_url: str, cwd=REPO) -> str:
    """What the README does: run the printed curl command, print the URL."""
    done = run_bash(
        f"bash -c \"$({script} {base_url}) -s -o /dev/null -w '%{{url}}'\"", cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_is_the_web_app(response):
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "<title>owt: streaming text to speech</title>" in page
    assert '{% include "' not in page
    assert '<script src="bark.js">' not in page
    assert "function getAudio(" in page  # bark.js, inlined
    assert ESPEAK in page
    assert (REPO / "owt" / "lib" / "bark.py").read_text() in page
    return page


def test_construct_curl_prints_a_url_that_serves_the_app(base_url):
    url = printed_url("./example/bark/bark_construct_curl.sh", base_url)
    assert url.startswith(f"{base_url}/?code_b64=")
    assert_is_the_web_app(requests.get(url, timeout=30))


def test_meta_curl_prints_a_url_that_serves_the_app(base_url):
    url = printed_url("./example/bark/bark_meta_curl.sh", base_url)
    assert url.startswith(f"{base_url}/?code_b64=")
    assert "&kwargs_b64=" in url
    assert_is_the_web_app(requests.get(url, timeout=60))


def test_meta_url_renders_the_current_files_on_every_visit(base_url, tmp_path):
    # A copy of the files the app is built from, so the test can edit them.
    (tmp_path / "owt" / "lib").mkdir(parents=True)
    shutil.copytree(REPO / "example" / "bark", tmp_path / "example" / "bark")
    for name in ("espeak.py", "bark.py"):
        shutil.copy(REPO / "owt" / "lib" / name, tmp_path / "owt" / "lib" / name)
    url = printed_url("./example/bark/bark_meta_curl.sh", base_url, cwd=tmp_path)
    before = requests.get(url, timeout=60)
    assert "Text to speech through owt" in before.text
    html = tmp_path / "example" / "bark" / "bark.html"
    html.write_text(html.read_text().replace("Text to speech through owt", "Edited!"))
    after = requests.get(url, timeout=60)
    assert after.status_code == 200
    assert "Edited!" in after.text
    assert "Text to speech through owt" not in after.text


def test_construct_curl_output_is_a_runnable_curl_command(base_url):
    done = run_bash(f"./example/bark/bark_construct_curl.sh {base_url}")
    assert done.returncode == 0, done.stderr
    command = done.stdout.strip()
    assert command.startswith('curl -G --data-urlencode "code_b64=')
    assert command.endswith(f'" {base_url}')
    page = subprocess.run(
        ["bash", "-c", command + " -s"], capture_output=True, text=True, timeout=60
    )
    assert "<title>owt: streaming text to speech</title>" in page.stdout
