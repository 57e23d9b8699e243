"""Check WAV audio the way a player would: header, readable, real length."""

from __future__ import annotations

import base64
import io
import json
import wave
from pathlib import Path


def wav_duration(data: bytes) -> float:
    """Seconds of audio in ``data``, asserting it is a sound PCM WAV file."""
    assert data[:4] == b"RIFF", data[:16]
    assert data[8:16] == b"WAVEfmt "
    with wave.open(io.BytesIO(data), "rb") as wav:
        frames = wav.getnframes()
        assert wav.getsampwidth() == 2
        assert wav.getnchannels() == 1
        pcm = wav.readframes(frames)
        assert len(pcm) == frames * 2, "the header's length matches the data"
        rate = wav.getframerate()
    assert frames > 0
    return frames / rate


def wav_file_duration(path: Path) -> float:
    return wav_duration(path.read_bytes())


def sse_payloads(text: str) -> list[str]:
    """The ``data`` payloads of an event stream, in order."""
    payloads = []
    for block in text.split("\n\n"):
        lines = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if lines:
            payloads.append("\n".join(lines))
    return payloads


def speech_events(text: str) -> list[dict]:
    """The JSON events of a TTS stream, checking it ends with ``[DONE]``."""
    payloads = sse_payloads(text)
    assert payloads, text[:500]
    assert payloads[-1] == "[DONE]", payloads[-1][:500]
    return [json.loads(p) for p in payloads[:-1]]


def b64_wav_duration(value: str) -> float:
    return wav_duration(base64.b64decode(value))
