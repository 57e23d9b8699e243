"""owt/lib's helpers on their own: sentences, audio, SSE and shell.

Plain functions over plain values, so they are tested in-process; the
adaptors built on them are tested through a live server elsewhere.
"""

from __future__ import annotations

import ast
import base64
import io
import math
import wave
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from owt.lib import audio
from owt.lib import shell
from owt.lib import stream
from owt.lib import tts
from owt.lib.sentences import split_sentences
from tests.owtserver import REPO

LIB = REPO / "owt" / "lib"

# -- the folder's rule -------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(LIB.glob("*.py")), ids=lambda p: p.name)
def test_lib_modules_never_import_the_server_or_flask(path: Path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {"owt.server", "owt.executors.inline", "flask"} & imported


# -- sentences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world! This is a test.", ["Hello world!", "This is a test."]),
        ("One.Two", ["One.Two"]),
        ("Is it? Yes. No!", ["Is it?", "Yes.", "No!"]),
        ("Dr. Smith saw Mr. Jones.", ["Dr. Smith saw Mr. Jones."]),
        ("It costs 3.50 today. Fine.", ["It costs 3.50 today.", "Fine."]),
        (
            "J. R. Hartley wrote it. Then he left.",
            ["J. R. Hartley wrote it.", "Then he left."],
        ),
        ("We met at 5 p.m. on Friday. Late.", ["We met at 5 p.m. on Friday.", "Late."]),
        ('He said "Stop." Then silence.', ['He said "Stop."', "Then silence."]),
        ("Wait... what? Oh.", ["Wait... what?", "Oh."]),
        ("No final stop", ["No final stop"]),
        ("Line one.\nLine two.", ["Line one.", "Line two."]),
        ("   ", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


@given(st.text(alphabet="ab .!?\n", max_size=60))
def test_split_sentences_keeps_every_word_in_order(text):
    assert " ".join(split_sentences(text)).split() == text.split()


# -- audio -------------------------------------------------------------------------


def test_clip_from_floats_is_a_readable_wav():
    samples = [math.sin(i / 10) for i in range(2400)]
    clip = audio.Clip.from_floats(samples, 24_000)
    data = clip.wav()
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (
            1,
            2,
            24_000,
        )
        assert wav.getnframes() == 2400
    assert clip.duration == pytest.approx(0.1)
    assert base64.b64decode(clip.b64_wav()) == data


def test_pcm16_clips_and_zeroes_nan():
    assert audio.pcm16([0.0, 1.0, -1.0, 2.0, -2.0, float("nan")]) == (
        b"\x00\x00\xff\x7f\x01\x80\xff\x7f\x01\x80\x00\x00"
    )


def test_pcm16_takes_numpy_arrays_like_lists():
    import numpy as np

    values = [0.0, 0.25, -0.5, 1.5, float("nan")]
    assert audio.pcm16(np.array(values, dtype=np.float32)) == audio.pcm16(values)


def test_read_wav_tolerates_a_streaming_header():
    pcm = b"\x01\x00\x02\x00\x03\x00"
    data = bytearray(audio.Clip(pcm, 22_050).wav())
    data[4:8] = data[40:44] = b"\xff\xff\xff\x7f"  # "as long as you like"
    clip = audio.read_wav(bytes(data))
    assert clip.pcm == pcm
    assert clip.sample_rate == 22_050


def test_read_wav_refuses_what_is_not_wav():
    with pytest.raises(audio.AudioFormatError, match="Not a WAV file"):
        audio.read_wav(b"ID3 this is an mp3")


def test_concat_joins_clips_of_one_format_only():
    a = audio.Clip(b"\x01\x00", 8000)
    b = audio.Clip(b"\x02\x00", 8000)
    assert audio.concat([a, b]).pcm == b"\x01\x00\x02\x00"
    with pytest.raises(audio.AudioFormatError, match="different formats"):
        audio.concat([a, audio.Clip(b"\x02\x00", 16000)])
    with pytest.raises(audio.AudioFormatError):
        audio.concat([])


# -- stream ------------------------------------------------------------------------


def test_event_stream_sends_json_events_then_done():
    body, headers = stream.event_stream([{"i": 0}, "plain", [1, 2]])
    assert headers["Content-Type"] == "text/event-stream"
    text = "".join(body)
    assert text == ('data: {"i": 0}\n\ndata: plain\n\ndata: [1, 2]\n\ndata: [DONE]\n\n')
    assert list(stream.iter_data(text.splitlines())) == [
        '{"i": 0}',
        "plain",
        "[1, 2]",
        "[DONE]",
    ]
    body, _ = stream.event_stream([{"i": 0}, [1, 2]])
    assert list(stream.iter_json("".join(body).splitlines())) == [{"i": 0}, [1, 2]]


def test_multi_line_data_round_trips():
    event = stream.sse_event("line one\nline two", event="note", event_id="7")
    assert event == "event: note\nid: 7\ndata: line one\ndata: line two\n\n"
    assert list(stream.iter_data(event.encode().splitlines())) == ["line one\nline two"]


def test_an_event_name_cannot_break_the_stream():
    with pytest.raises(ValueError, match="line break"):
        stream.sse_event("x", event="a\ndata: injected")


# -- tts ---------------------------------------------------------------------------


def test_speech_events_carry_each_sentence_and_the_running_total():
    def synthesise(sentence):
        return audio.Clip(b"\x00\x00" * len(sentence), 1000)

    sentences = tts.prepare_sentences("Ab. Cde.", "<%s>", "sentence")
    assert sentences == ["<Ab.>", "<Cde.>"]
    events = list(
        stream.iter_json("".join(tts.speech_events(sentences, synthesise)).splitlines())
    )
    assert [e["index"] for e in events] == [0, 1]
    lengths = [audio.read_wav(base64.b64decode(e["cumulative"])).frames for e in events]
    assert lengths == [5, 11]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None,), "Give some text"),
        (("Hi.", "no placeholder"), "one %s"),
        (("Hi.", "%s and %s"), "one %s"),
        (("Hi.", 3), "must be a string"),
        (("Hi.", "%s", "paragraph"), "split_type must be one of sentence, none"),
    ],
)
def test_prepare_sentences_rejects_bad_arguments(args, message):
    with pytest.raises(tts.BadSpeechRequest, match=message):
        tts.prepare_sentences(*args)


# -- shell -------------------------------------------------------------------------


def test_bash_runs_bash_not_sh():
    assert shell.bash('cat <<< "here-string"; source /dev/null && echo ok') == (
        "here-string\nok\n"
    )


def test_run_command_reports_the_exit_status_and_stderr():
    with pytest.raises(shell.CommandFailed, match="exited with status 3: oops"):
        shell.run_command(["bash", "-c", "echo oops >&2; exit 3"])


def test_run_command_feeds_stdin_and_stops_at_the_time_limit():
    assert shell.run_command(["cat"], stdin=b"fed") == b"fed"
    with pytest.raises(shell.CommandFailed, match="did not finish within 0.2 s"):
        shell.run_command(["sleep", "5"], timeout=0.2)


def test_a_missing_program_says_how_to_install_it():
    with pytest.raises(shell.CommandNotFound, match="apt-get install nope"):
        shell.require("no-such-program-here", "apt-get install nope")
    with pytest.raises(shell.CommandNotFound):
        shell.run_command(["no-such-program-here"])
