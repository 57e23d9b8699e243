"""Split text into sentences without downloading a tokenizer model.

Good enough for TTS: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (closing
quotes and brackets included) followed by white space and the start of a new
sentence. Common abbreviations, initials and numbers such as ``3.14`` don't
end one::

    >>> split_sentences("Dr. Smith met J. R. Hartley at 3.30 p.m. today. Hi!")
    ['Dr. Smith met J. R. Hartley at 3.30 p.m. today.', 'Hi!']
"""

from __future__ import annotations

import re

#: Words that are followed by a full stop without ending a sentence
#: (compared in lower case, without the stop).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof sr jr st mt ft rev gen col capt lt sgt cpl hon
    vs etc eg ie cf al approx dept est fig inc ltd co corp no nos vol vols
    ch pp ed eds jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun
    """.split()
)

# A candidate boundary: terminal punctuation, then optional closers, then space.
_BOUNDARY = re.compile(r"""([.!?…]+)(['"’”)\]]*)(\s+)""")
# What may start the next sentence.
_STARTER = re.compile(r"""['"‘“(\[]*[\w¿¡]""")
_WORD_BEFORE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, line breaks treated as spaces.

    Empty text gives an empty list.
    """
    clean = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(clean):
        rest = clean[match.end() :]
        if not _STARTER.match(rest):
            continue
        if match.group(1) == "." and _is_abbreviation(clean[start : match.start()]):
            continue
        if match.group(1)[-1] in ".…" and rest[:1].islower():
            continue  # "p.m. on Friday", "Wait... what?"
        sentences.append(clean[start : match.end(2)].strip())
        start = match.end()
    tail = clean[start:].strip()
    if tail:
        sentences.append(tail)
    return [sentence for sentence in sentences if sentence]


def _is_abbreviation(before: str) -> bool:
    """Whether the word ending ``before`` is an abbreviation or an initial."""
    found = _WORD_BEFORE.search(before)
    if found is None:
        return False
    word = found.group(1).lstrip("(['\"‘“")
    bare = word.replace(".", "").lower()
    if bare in ABBREVIATIONS:
        return True
    # Initials (J. or U.S.) and dotted abbreviations (e.g., p.m.).
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True
    return "." in word and all(len(part) <= 2 for part in word.split(".") if part)
