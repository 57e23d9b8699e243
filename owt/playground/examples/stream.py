# owt/playground/examples/stream.py: server-sent events, `delay` s apart, then [DONE]

import time
from collections.abc import Iterator

from owt.lib.stream import event_stream


def run(n: int = 10, delay: float = 0.5) -> tuple[Iterator[str], dict[str, str]]:
    def ticks() -> Iterator[dict[str, int]]:
        for i in range(1, n + 1):
            if i > 1:
                time.sleep(delay)
            yield {"tick": i, "of": n}

    return event_stream(ticks())
