"""Text to speech with espeak-ng: the Bark adaptor's contract on any machine.

Send this file as ``code_b64`` (or call ``run`` from another adaptor). Like
``owt/lib/bark.py`` it streams one server-sent event per sentence, each with
the base64 WAV of that ``sentence`` and of the ``cumulative`` audio, then
``data: [DONE]``. It needs the ``espeak-ng`` program (Debian/Ubuntu:
``apt-get install espeak-ng``; macOS: ``brew install espeak-ng``).

``speaker`` takes Bark's names (``v2/en_speaker_6``, ``fr_speaker_1``: the
language picks the espeak voice, the number one of its variants) or espeak's
own (``en-us``, ``fr+f2``, ``german``).
"""

from __future__ import annotations

import functools
import re
import typing as t

from owt.errors import BadRequest
from owt.errors import UnknownSpeaker
from owt.lib.audio import Clip
from owt.lib.shell import require
from owt.lib.shell import run_command
from owt.lib.tts import SplitType
from owt.lib.tts import speech_stream

PROGRAM = "espeak-ng"
INSTALL_HINT = "apt-get install espeak-ng (or brew install espeak-ng)"

#: Bark's speaker languages and the espeak voice each maps to.
BARK_LANGUAGES: dict[str, str] = {
    "en": "en-us",
    "de": "de",
    "es": "es",
    "fr": "fr",
    "hi": "hi",
    "it": "it",
    "ja": "ja",
    "ko": "ko",
    "pl": "pl",
    "pt": "pt",
    "ru": "ru",
    "tr": "tr",
    "zh": "cmn",
}

#: The espeak variant for each of Bark's ten speaker numbers.
BARK_VARIANTS: tuple[str, ...] = tuple("m1 m2 m3 m4 m5 m6 m7 f1 f2 f3".split())

_BARK_SPEAKER = re.compile(r"^(?:v2/)?([a-z]{2})_speaker_(\d)$")


def run(
    text: str | None = None,
    speaker: str = "v2/en_speaker_6",
    sentence_template: str = "%s",
    split_type: SplitType = "sentence",
    words_per_minute: int = 165,
) -> tuple[t.Iterator[str], dict[str, str]]:
    """Speak ``text`` sentence by sentence as a stream of WAV events."""
    voice = espeak_voice(speaker)
    speed = int(words_per_minute)
    if not 80 <= speed <= 450:
        raise BadRequest(f"words_per_minute must be 80 to 450, not {speed}.")
    return speech_stream(
        text,
        sentence_template,
        split_type,
        lambda sentence: synthesise(sentence, voice, speed),
    )


def synthesise(sentence: str, voice: str, words_per_minute: int = 165) -> Clip:
    """One sentence as a clip (22050 Hz, 16-bit mono)."""
    program = require(PROGRAM, INSTALL_HINT)
    wav = run_command(
        [program, "--stdin", "-b", "1", "--stdout"]
        + ["-v", voice, "-s", str(words_per_minute)],
        stdin=sentence.encode("utf-8"),
        timeout=60,
    )
    return Clip.from_wav(wav)


def espeak_voice(speaker: t.Any) -> str:
    """The espeak ``-v`` value for a Bark speaker name or an espeak voice.

    :raises UnknownSpeaker: naming what is accepted.
    """
    if not isinstance(speaker, str) or not speaker.strip():
        raise UnknownSpeaker(f"speaker must be a voice name, not {speaker!r}.")
    name = speaker.strip()
    bark = _BARK_SPEAKER.match(name)
    if bark is not None:
        language, number = bark.group(1), int(bark.group(2))
        if language not in BARK_LANGUAGES:
            raise UnknownSpeaker(
                f"Bark has no {language!r} speakers; its languages are "
                f"{', '.join(sorted(BARK_LANGUAGES))}."
            )
        return f"{BARK_LANGUAGES[language]}+{BARK_VARIANTS[number]}"
    voice, _, variant = name.partition("+")
    voices, variants = installed_voices()
    if voice.lower() not in voices:
        raise UnknownSpeaker(
            f"{voice!r} is not an espeak-ng voice here. Use a Bark speaker such as "
            "'v2/en_speaker_6', or an espeak voice such as 'en-us' or 'fr+f2' "
            "(see 'espeak-ng --voices')."
        )
    if variant and variant.lower() not in variants:
        raise UnknownSpeaker(
            f"{variant!r} is not an espeak-ng variant here; try m1 to m7 or f1 to f4 "
            "(see 'espeak-ng --voices=variant')."
        )
    resolved = voices[voice.lower()]
    return f"{resolved}+{variants[variant.lower()]}" if variant else resolved


@functools.cache
def installed_voices() -> tuple[dict[str, str], dict[str, str]]:
    """Voices and variants espeak-ng has, lower-cased name → name to pass."""
    program = require(PROGRAM, INSTALL_HINT)
    voices: dict[str, str] = {}
    for row in _table(run_command([program, "--voices"], timeout=30)):
        language, _, voice_name, file = row[1], row[2], row[3], row[4]
        # espeak also takes the bare language ("en" for "en-us").
        bare = language.split("-", 1)[0]
        for key in (language, voice_name, file, bare):
            voices.setdefault(key.lower(), key)
    variants: dict[str, str] = {}
    for row in _table(run_command([program, "--voices=variant"], timeout=30)):
        file_name = row[4].rsplit("/", 1)[-1]
        variants.setdefault(file_name.lower(), file_name)
    return voices, variants


def _table(listing: bytes) -> list[list[str]]:
    rows = []
    for line in listing.decode("utf-8", errors="replace").splitlines()[1:]:
        cells = line.split()
        if len(cells) >= 5:
            rows.append(cells)
    return rows
