"""Audio as plain values: 16-bit PCM clips, WAV bytes and base64 WAV.

A :class:`Clip` is PCM bytes plus their format. TTS adaptors build one per
sentence, join them for the running total, and send both as base64 WAV::

    clip = Clip.from_floats(samples, 24_000)     # numpy array or list of floats
    total = concat([total, clip])
    payload = {"sentence": clip.b64_wav(), "cumulative": total.b64_wav()}

Only the standard library is used: numpy arrays are handled through their
own methods, so this module never imports numpy.
"""

from __future__ import annotations

import array
import base64
import collections.abc as cabc
import dataclasses
import io
import math
import sys
import typing as t
import wave

from owt.errors import AudioFormatError


@dataclasses.dataclass(frozen=True)
class Clip:
    """A piece of uncompressed audio: little-endian PCM and its format."""

    pcm: bytes
    sample_rate: int
    channels: int = 1
    sample_width: int = 2

    @classmethod
    def from_floats(cls, samples: t.Any, sample_rate: int) -> Clip:
        """A mono 16-bit clip from samples in [-1, 1] (clipped beyond).

        :param samples: a numpy array or any iterable of numbers.
        """
        return cls(pcm16(samples), sample_rate)

    @classmethod
    def from_wav(cls, data: bytes) -> Clip:
        """The clip in WAV ``data`` (see :func:`read_wav`)."""
        return read_wav(data)

    @property
    def frames(self) -> int:
        """Number of sample frames."""
        return len(self.pcm) // (self.channels * self.sample_width)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    def wav(self) -> bytes:
        """The clip as a complete WAV file."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(self.channels)
            out.setsampwidth(self.sample_width)
            out.setframerate(self.sample_rate)
            out.writeframes(self.pcm)
        return buffer.getvalue()

    def b64_wav(self) -> str:
        """The WAV file, base64-encoded (standard alphabet)."""
        return base64.b64encode(self.wav()).decode("ascii")


def pcm16(samples: t.Any) -> bytes:
    """Little-endian 16-bit PCM for float samples in [-1, 1].

    :param samples: a numpy array (converted with its own methods) or any
        iterable of numbers; values beyond ±1 are clipped, NaN becomes 0.
    """
    if hasattr(samples, "astype") and hasattr(samples, "clip"):
        flat = samples.reshape(-1).astype("<f8")
        flat[flat != flat] = 0.0  # NaN
        scaled = (flat.clip(-1.0, 1.0) * 32767.0).round()
        return bytes(scaled.astype("<i2").tobytes())
    values = array.array("h", (_to_int16(x) for x in samples))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _to_int16(value: t.Any) -> int:
    x = float(value)
    if math.isnan(x):
        return 0
    return round(max(-1.0, min(1.0, x)) * 32767.0)


def read_wav(data: bytes) -> Clip:
    """Read a PCM WAV file.

    Tolerates the oversized length fields that streaming writers (such as
    ``espeak-ng --stdout``) put in the header: every frame present is read.

    :raises AudioFormatError: if ``data`` is not a PCM WAV file.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(
            f"Not a WAV file: it starts with {data[:12]!r}, not RIFF....WAVE."
        )
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            params = source.getparams()
            pcm = source.readframes(params.nframes)
    except (wave.Error, EOFError) as e:
        raise AudioFormatError(f"Can't read the WAV file: {e}.") from None
    frame_size = params.nchannels * params.sampwidth
    pcm = pcm[: len(pcm) - len(pcm) % frame_size]
    return Clip(pcm, params.framerate, params.nchannels, params.sampwidth)


def concat(clips: cabc.Iterable[Clip]) -> Clip:
    """The clips one after another.

    :raises AudioFormatError: if they differ in rate, channels or sample width,
        or there are none.
    """
    items = list(clips)
    if not items:
        raise AudioFormatError("There are no clips to join.")
    first = items[0]
    for clip in items[1:]:
        if (clip.sample_rate, clip.channels, clip.sample_width) != (
            first.sample_rate,
            first.channels,
            first.sample_width,
        ):
            raise AudioFormatError(
                "Clips of different formats can't be joined: "
                f"{_describe(first)} and {_describe(clip)}."
            )
    return dataclasses.replace(first, pcm=b"".join(clip.pcm for clip in items))


def _describe(clip: Clip) -> str:
    return f"{clip.sample_rate} Hz × {clip.channels} ch × {8 * clip.sample_width} bit"
