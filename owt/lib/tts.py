"""The streaming contract every TTS adaptor here follows.

A TTS adaptor takes ``text``, ``speaker``, ``sentence_template`` and
``split_type``, and answers with server-sent events, one per sentence::

    data: {"sentence": <base64 WAV>, "cumulative": <base64 WAV>,
           "index": 0, "text": "Hello there."}

``sentence`` is that sentence's audio, ``cumulative`` all audio so far; the
stream ends with ``data: [DONE]``. An adaptor supplies only the function that
turns one sentence into a :class:`~owt.lib.audio.Clip`; :func:`speech_stream`
does the rest.
"""

from __future__ import annotations

import collections.abc as cabc
import logging
import typing as t

from owt.errors import BadSpeechRequest
from owt.lib.audio import Clip
from owt.lib.audio import concat
from owt.lib.sentences import split_sentences
from owt.lib.stream import SSE_HEADERS
from owt.lib.stream import sse_done
from owt.lib.stream import sse_event

log = logging.getLogger("owt.lib.tts")

SplitType = t.Literal["sentence", "none"]
SPLIT_TYPES: tuple[str, ...] = ("sentence", "none")

#: Turns one sentence into audio.
Synthesise = cabc.Callable[[str], Clip]


def prepare_sentences(
    text: t.Any, sentence_template: t.Any = "%s", split_type: t.Any = "sentence"
) -> list[str]:
    """The sentences to speak, each put through ``sentence_template``.

    :raises BadSpeechRequest: for missing text, a template without one ``%s``
        or an unknown ``split_type``.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadSpeechRequest("Give some text to speak: text='Hello there.'")
    if not isinstance(sentence_template, str):
        raise BadSpeechRequest(
            "sentence_template must be a string, not "
            f"{type(sentence_template).__name__}."
        )
    try:
        sentence_template % "x"
    except (TypeError, ValueError):
        raise BadSpeechRequest(
            f"sentence_template must contain one %s (and '%%' for a literal %), "
            f"got {sentence_template!r}."
        ) from None
    if split_type == "sentence":
        raw = split_sentences(text)
    elif split_type == "none":
        raw = [" ".join(text.split())]
    else:
        raise BadSpeechRequest(
            f"split_type must be one of {', '.join(SPLIT_TYPES)}, not {split_type!r}."
        )
    return [sentence_template % sentence for sentence in raw]


def speech_events(
    sentences: cabc.Sequence[str], synthesise: Synthesise
) -> cabc.Iterator[str]:
    """One event per sentence (its audio and the running total), then ``[DONE]``."""
    total: Clip | None = None
    for index, sentence in enumerate(sentences):
        log.info("Speaking sentence %d/%d: %s", index + 1, len(sentences), sentence)
        clip = synthesise(sentence)
        total = clip if total is None else concat([total, clip])
        yield sse_event(
            {
                "sentence": clip.b64_wav(),
                "cumulative": total.b64_wav(),
                "index": index,
                "text": sentence,
            }
        )
    yield sse_done()


def speech_stream(
    text: t.Any,
    sentence_template: t.Any,
    split_type: t.Any,
    synthesise: Synthesise,
) -> tuple[cabc.Iterator[str], dict[str, str]]:
    """The adaptor result for a TTS request: an event stream and its headers.

    Arguments are checked before the stream starts, so a bad one is a 400.
    """
    sentences = prepare_sentences(text, sentence_template, split_type)
    return speech_events(sentences, synthesise), dict(SSE_HEADERS)
